# Two commands for a new user: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/np6 demo

# The warehouse tests start PostgreSQL through .ci/postgres.sh themselves when none answers;
# `make postgres` does it up front and prints the DSN (export it as NP6_TEST_POSTGRES).
test: install
	$(BIN)/python -m pytest -q

postgres:
	.ci/postgres.sh

# Connector vs floor vs plain dlt on a pre-built-bodies server; ~10 min on 2 cores (README, Performance).
bench: install
	$(BIN)/python -m benchmarks.bench_floor
