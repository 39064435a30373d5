# Qianhai IP Ledger — two commands do everything on a fresh machine:
#   make run    the service on an embedded local chain (http://127.0.0.1:8000)
#   make test   the whole suite, including the artifact check
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IPLEDGER := $(VENV)/bin/ipledger
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
# Slither in its own virtualenv: it requires web3 < 8 (tests/contracts/test_slither.py)
SLITHER_VENV := .venv-slither
STAMP_SLITHER := $(SLITHER_VENV)/.installed
# The suite runs in this many pytest-xdist workers, one test file per worker at a time (--dist loadfile keeps a
# file's module fixtures, e.g. one deployment or one `ipledger up`, in one process). TEST_WORKERS=0 runs serially.
# Three on two cores: much of the suite waits (on nodes, subprocesses, sockets), and with two the cores were busy
# 149% of the time and the tests took 19 min 42 s; with three, 180% and 16 min 19 s (fresh-clone runs of two
# commits of 2026-12-04 a few tests apart, one after the other on this machine).
TEST_WORKERS ?= 3

.PHONY: install run test check-artifacts compile bench clean

install: $(STAMP_PY) $(STAMP_NPM) $(STAMP_SLITHER)

$(STAMP_PY): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24,<27"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(STAMP_SLITHER): requirements-slither.txt
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet -r requirements-slither.txt
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(IPLEDGER) up

compile: install
	$(IPLEDGER) compile

check-artifacts: install
	$(IPLEDGER) compile --check

test: install
	$(IPLEDGER) compile --check
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules .pytest_cache .hypothesis
