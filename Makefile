# Kizuna — the two commands that work on a fresh machine:
#   make demo   creates .venv, installs Kizuna, builds the demo company and serves it
#   make test   installs everything the suite needs and runs it all
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)

.PHONY: demo test install lint unit postgres-binaries chromium java bench mutate i18n docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[postgres,spark,dev]"
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL server binaries for the test harness (Debian's packages), when missing.
postgres-binaries:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; else \
	  echo "Installing PostgreSQL server binaries from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends postgresql; \
	fi

# Debian's Chromium (and Japanese fonts) for the browser tests, when missing.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; else \
	  echo "Installing Chromium from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk; \
	fi

# A Java runtime for Apache Spark (the analytics parity tests), when missing.
java:
	@if command -v java >/dev/null 2>&1; then :; else \
	  echo "Installing a Java runtime from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends openjdk-17-jre-headless; \
	fi

demo: install
	$(BIN)/kizuna demo --reset $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

unit: install postgres-binaries chromium java
	$(BIN)/pytest -n 2 --dist loadscope $(PYTEST_ARGS)

test: lint unit

bench: install postgres-binaries java
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Mutation testing of the modules that produce numbers or guard access (not part of `make test`;
# see docs/testing.md). MUTATE_ARGS picks modules by a part of their path, e.g.
#   make mutate MUTATE_ARGS="analytics/revenue domain/subscriptions"
mutate: install
	$(BIN)/python scripts/mutate.py $(MUTATE_ARGS)

# Re-extract messages and merge them into the Japanese catalogue (lists untranslated ones).
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-location --sort-output --omit-header -o src/kizuna/locale/kizuna.pot src/kizuna
	$(BIN)/python scripts/i18n_ja.py

# Regenerate the generated parts of docs/ (the import reference).
docs: install
	$(BIN)/python scripts/gen_docs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
