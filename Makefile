# The two commands:  `make grade` (grade the bundled sample class)  and  `make test` (every check).
# Both (re)build .venv first when it is missing or older than requirements.txt / pyproject.toml.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: grade test venv lectures release bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@echo "== building $(VENV) (first run: about 2 minutes) =="
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

grade: $(STAMP)
	$(BIN)/python -m autograder grade

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope

lectures: $(STAMP)
	$(BIN)/python -m course.build

release: $(STAMP)
	$(BIN)/python -m autograder release

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV)
