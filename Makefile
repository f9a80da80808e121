# medcorpus: `make run` builds the bundled sample corpus, `make test` runs the test suite.
# Both create .venv if it is missing and install the project with everything it needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= corpus-out
# Two test processes (one per core on the CI machine), whole files per process so module fixtures build once.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder --durations=20

.PHONY: run test install install-test bench clean help

help:
	@echo "make run    - install into $(VENV) and build the bundled sample into ./$(OUT)"
	@echo "make test   - install with test extras and run the test suite"
	@echo "make bench  - run the benchmarks in benchmarks/ (prints figures)"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (medcorpus needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml setup.py $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: $(VENV)/.installed
	$(BIN)/medcorpus build --output $(OUT) --overwrite

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(OUT) build dist *.egg-info .pytest_cache
