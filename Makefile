# Cerbero Bite — every command a developer or CI needs. `make help` lists them.
# Bootstraps from plain python3: a small venv holds uv, uv installs the locked
# dependencies into .venv. No interpreter is ever downloaded.

# The interpreter: the distribution's python3 (Debian's /usr/bin/python3, as in the
# container image) when it is 3.11 or newer, else the first python3 on PATH. Debian builds
# it with PGO and LTO; a source build without them (pyenv's default) runs the backtest
# about a fifth slower (docs/decisions/0008-the-system-interpreter.md). `make
# PYTHON=python3.12 ...` chooses another.
SYSTEM_PYTHON := $(shell /usr/bin/python3 -c 'import sys; print(sys.executable if sys.version_info >= (3, 11) else "")' 2>/dev/null)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_NO_PROGRESS := 1
# compile bytecode at install time: a one-shot CLI should not recompile on every run
export UV_COMPILE_BYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test check fmt format-check lint types contracts bench lock clean image image-check dashboard browser screenshot

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(BIN)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --no-dev --python $(PYTHON)
	$(BIN)/python -m compileall -q bite
	@touch $@

$(BIN)/.installed-dev: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra sweep --extra dashboard --python $(PYTHON)
	$(BIN)/python -m compileall -q bite
	@touch $@ $(BIN)/.installed

install: $(BIN)/.installed ## Install bite and its runtime dependencies into .venv

install-dev: $(BIN)/.installed-dev ## Install bite with the development tools

run: install ## Run one entry cycle as a dry run on the embedded paper exchange
	$(BIN)/bite entry-run --dry-run

test: install-dev browser ## Run the whole test suite (one worker per core)
	$(BIN)/python -m compileall -q bite
	$(BIN)/pytest -q -n auto --dist worksteal

browser: ## Debian's chromium for the dashboard's browser test (installed when run as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "the dashboard's browser test needs Debian's chromium:" \
	      "sudo apt-get install chromium chromium-driver"; \
	  fi; }

dashboard: $(UV) ## Install the dashboard extra and start it on http://127.0.0.1:8501
	$(UV) sync --frozen --inexact --no-dev --extra dashboard --python $(PYTHON)
	$(BIN)/bite dashboard

screenshot: install-dev browser ## Redraw docs/images/dashboard.png (the README's picture)
	$(BIN)/python scripts/dashboard_screenshot.py docs/images/dashboard.png

fmt: install-dev ## Format the code in place
	$(BIN)/ruff format bite tests scripts
	$(BIN)/ruff check --fix bite tests scripts

format-check: install-dev ## Check formatting
	$(BIN)/ruff format --check bite tests scripts

lint: install-dev ## Lint with ruff
	$(BIN)/ruff check bite tests scripts

types: install-dev ## Type-check with mypy --strict
	$(BIN)/mypy

contracts: install-dev ## Check the import contracts (core stays pure)
	$(BIN)/python scripts/check_contracts.py

check: format-check lint types contracts test ## Everything CI runs

bench: install-dev ## Run the benchmarks and print a table
	$(BIN)/python -m compileall -q bite
	$(BIN)/python scripts/bench.py

image: $(UV) ## Build localhost/cerbero-bite:latest with podman, no registry (Containerfile)
	sh scripts/container/build-image.sh

image-check: $(UV) ## Build the image and try it: read-only root, fresh volume, health check
	sh scripts/container/image-check.sh

lock: $(UV) ## Refresh uv.lock after changing dependencies
	$(UV) lock --python $(PYTHON)

clean: ## Remove the virtual environments and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
