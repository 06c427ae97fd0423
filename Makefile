# One entry point for the toolchain: the same commands CI runs.
# Each target creates its own virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install translations run test browser-deps postgres-deps container-deps container-image test-fast lint bench kafka registry postgres schemas-check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml
	@echo "installing signalhub and its test tools into $(VENV) (pip)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/.installed  ## create .venv and install signalhub with its test tools
	@echo "signalhub is installed in $(VENV): run $(BIN)/signalhub, or 'source $(BIN)/activate' first"

# Dutch is the source language: the message ids are the templates' and hub/web's Dutch
# text; the English catalog is a .po text file, compiled in memory at start (no .mo).
translations: install  ## extract the web app's texts (babel.cfg) and update hub/web/locale/*/LC_MESSAGES/messages.po
	@mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
	  --add-comments=Translators: -o var/messages.pot hub/web
	$(BIN)/pybabel update -i var/messages.pot -d hub/web/locale -D messages \
	  --no-fuzzy-matching --ignore-obsolete --width=100
	@echo "now give every new msgid of hub/web/locale/en/LC_MESSAGES/messages.po its English msgstr"

run: install  ## install and run the whole hub with synthetic traffic (the README's run command)
	$(BIN)/signalhub demo

# Each installs its Debian packages only when they are missing, with one line on the
# terminal and apt's output in var/test-setup.log (tools/apt-install.sh).
browser-deps:  ## Debian's chromium for the browser tests (no browser download by a test tool)
	@command -v chromium >/dev/null || tools/apt-install.sh "browser tests" chromium

postgres-deps:  ## Debian's postgresql server binaries for the PostgreSQL store tests (hub/devtools/local_postgres.py)
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || tools/apt-install.sh "PostgreSQL store tests" postgresql

container-deps:  ## Debian's podman, runc and debootstrap for the container image and its test
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null \
	  || tools/apt-install.sh "container image test" --no-install-recommends podman runc debootstrap

container-image: install container-deps  ## build the hub's image with podman on a debootstrapped Debian base (cached)
	$(BIN)/python -m hub.devtools.container_image

test: install browser-deps postgres-deps container-deps  ## install everything and run the whole test suite (Kafka, registry, PostgreSQL, browser, container)
	$(BIN)/signalhub schemas check
	$(BIN)/python -m pytest

test-fast: install postgres-deps  ## the suite without the real-broker, container and slow tests
	$(BIN)/python -m pytest -m "not kafka and not registry and not slow and not container"

lint: install  ## ruff and mypy
	$(BIN)/ruff check hub connectors tests bench
	$(BIN)/mypy

schemas-check: install  ## compare schemas/ with the released versions
	$(BIN)/signalhub schemas check

bench: install  ## throughput benchmarks, each against a baseline measured in the same run
	$(BIN)/python -m bench

kafka: install  ## run a local single-node Apache Kafka (KRaft) broker in the foreground
	$(BIN)/python -m hub.devtools.local_kafka

registry: install  ## run a local Apicurio Registry (Confluent-compatible API, ids kept in an H2 file) in the foreground
	$(BIN)/python -m hub.devtools.local_registry

postgres: install postgres-deps  ## run a throwaway local PostgreSQL (Debian's binaries, data removed on exit) in the foreground
	$(BIN)/python -m hub.devtools.local_postgres

clean:  ## remove the virtual environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
