# Kizuna — the two commands that work on a fresh machine:
#   make demo   creates .venv, installs Kizuna, builds the demo company into ./kizuna-demo.db and serves it
#   make test   installs everything the suite needs and runs it all
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BASE   := $(VENV)/.installed-base
SUDO   := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)
# The demo's own store, so that `make demo` never touches ./kizuna.db (your own data).
DEMO_DB ?= kizuna-demo.db

.PHONY: demo test install install-base lint unit postgres-binaries chromium java node-clients bench mutate i18n docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv (from PyPI) installs in parallel: ~20 s for what pip takes ~80 s; pip is the fallback.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check uv || true
	@touch $(BIN)/uv

ALL    := .[postgres,spark,dev]
# --compile-bytecode: uv, unlike pip, leaves the libraries' .pyc files to be written at their first
# import, which never happens where PYTHONDONTWRITEBYTECODE is set (as on this project's CI machines):
# every Python process then compiled ~4 s of CPU of sources again (the suite starts ~100 of them).
PIP_INSTALL = if [ -s $(BIN)/uv ]; then $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python $(1); else $(BIN)/pip install $(1); fi
# Kizuna's own sources (an editable install: not in site-packages), compiled again where they changed.
COMPILE = $(BIN)/python -m compileall -q -j 0 src

# What the demo needs: Kizuna and its runtime libraries (no PostgreSQL driver, Spark or test tools).
$(BASE): pyproject.toml | $(BIN)/uv
	@echo "Installing Kizuna and the libraries it runs on into $(VENV)…"
	$(call PIP_INSTALL,-e .)
	touch $(BASE)

# Everything: the extras for PostgreSQL and Spark, and the development and test tools.
$(STAMP): pyproject.toml | $(BIN)/uv
	@echo "Installing Kizuna with PostgreSQL, Spark and the development tools into $(VENV)…"
	$(call PIP_INSTALL,-e "$(ALL)")
	touch $(STAMP) $(BASE)

install-base: $(BASE)
install: $(STAMP)

# PostgreSQL server binaries for the test harness (Debian's packages), when missing.
postgres-binaries:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; else \
	  echo "Installing PostgreSQL server binaries from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends postgresql; \
	fi

# Debian's Chromium (and Japanese fonts) for the browser tests, when missing.
chromium:
	@if [ -x /usr/bin/chromium ] && [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then :; else \
	  echo "Installing Chromium from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk; \
	fi

# A Java runtime for Apache Spark (the analytics parity tests), when missing.
java:
	@if command -v java >/dev/null 2>&1; then :; else \
	  echo "Installing a Java runtime from Debian's packages"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends openjdk-17-jre-headless; \
	fi

demo: install-base
	$(COMPILE)
	KIZUNA_DATABASE_URL="sqlite:///$(CURDIR)/$(DEMO_DB)" $(BIN)/kizuna demo --reset $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

# Segment's JavaScript libraries for the tracking API's client tests (tests/clients, from its lock file).
node-clients:
	cd tests/clients && npm ci --no-audit --no-fund --prefer-offline

# Two workers, a module each at a time, in the order tests/conftest.py gives (the slow modules
# first: xdist's own reordering, by number of tests, left the one-test browser modules for last).
unit: install postgres-binaries chromium java node-clients
	$(COMPILE)
	$(BIN)/pytest -n 2 --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

test: lint unit

bench: install postgres-binaries java
	$(COMPILE)
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
