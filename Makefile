# Switchboard: `make demo` runs the offline demo, `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
export SWITCHBOARD_DEMO_HOME ?= $(CURDIR)/.sbhome/demo
export ANONYMIZED_TELEMETRY := False

.PHONY: install demo test test-sqlite test-postgres test-deps bench lint fmt clean

E5FAST := servers/retrieval/e5fast/_e5fast.so

install: $(STAMP) $(E5FAST)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# The faster build of the bundled e5 engine (same vectors); without a C compiler the build
# says so and the bundled engine is used.
$(E5FAST): $(STAMP) $(wildcard servers/retrieval/e5fast/*.c) servers/retrieval/e5fast/build.py
	$(PY) -m servers.retrieval.e5fast.build

demo: install
	SWITCHBOARD_HOME=$(SWITCHBOARD_DEMO_HOME) $(VENV)/bin/switchboard demo --reset

# Test tools outside pip (PostgreSQL, Node 22 + MCP conformance/Inspector) are set up by
# scripts/test-deps.sh: it installs what is missing (Debian packages need root) and starts
# a throwaway PostgreSQL cluster on loopback. Both passes run, side by side
# (scripts/test-passes.sh; SWITCHBOARD_TEST_SERIAL=1 runs them one after the other).
test: install
	@source scripts/test-deps.sh && PY=$(PY) bash scripts/test-passes.sh

# The SQLite pass alone: no PostgreSQL needed (nor started).
test-sqlite: install
	@export SWITCHBOARD_TEST_SKIP_POSTGRES=1 && source scripts/test-deps.sh && $(PY) -m pytest -q tests

test-postgres: install
	@source scripts/test-deps.sh && SWITCHBOARD_TEST_BACKEND=postgres $(PY) -m pytest -q --durations=15 -m uses_db tests

bench: install
	@source scripts/test-deps.sh && for b in bench/*.py; do \
	  case $$b in */_*) continue;; esac; echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf .sbhome .pytest_cache .ruff_cache bench/results
