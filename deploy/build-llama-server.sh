#!/usr/bin/env bash
# Build llama.cpp's own server (llama-server: parallel slots, continuous batching) from the
# llama.cpp tree inside the llama-cpp-python sdist on PyPI -- the same llama.cpp our Python
# bindings run, and nothing fetched but from the package registry. About 10 minutes on 2 cores.
#
#   deploy/build-llama-server.sh [OUT_DIR]     (default .cache/llama-server; prints the binary's path)
#
# GGML_NATIVE=OFF (the default here) builds for any x86-64 CPU, as a container must;
# GGML_NATIVE=ON deploy/build-llama-server.sh tunes it to this machine's CPU.
set -euo pipefail
VERSION=0.3.36
OUT=${1:-.cache/llama-server}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -x "$OUT/bin/llama-server" ]; then echo "$OUT/bin/llama-server"; exit 0; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK" >&2
tar -xzf "$WORK"/llama_cpp_python-$VERSION.tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="${GGML_NATIVE:-OFF}" \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$OUT/bin"
cp "$WORK/build/bin/llama-server" "$OUT/bin/"
cp "$SRC/LICENSE" "$OUT/LICENSE-llama.cpp"  # MIT
echo "$OUT/bin/llama-server"
