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
# TF 2.21 prints a oneDNN notice on stderr at any log level; nbgrader and nbval read stderr.
export TF_ENABLE_ONEDNN_OPTS ?= 0
# Tests and grading run two processes on two cores: one math thread each avoids oversubscription, which
# slowed torch steps by up to 50x on a busy machine. Override on the command line if you like.
export OMP_NUM_THREADS ?= 1
export TF_NUM_INTRAOP_THREADS ?= 1
export TF_NUM_INTEROP_THREADS ?= 1

.PHONY: grade test venv lectures release wheel bench clean

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

# The browser tests drive JupyterLab kernels of their own: they run as a serial stage after the parallel suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope --ignore=tests/browser
	$(BIN)/python -m pytest tests/browser

lectures: $(STAMP)
	$(BIN)/python -m course.build

release: $(STAMP)
	$(BIN)/python -m autograder release

wheel: $(STAMP)
	$(BIN)/python -m pip wheel -q --no-deps -w dist .

bench: $(STAMP)
	for b in benchmarks/*.py benchmarks/diagnosis/evaluate.py benchmarks/diagnosis/evaluate_zoo.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV)
