# yrdchain — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install browser contracts bench-core bench-sig bench-commit bench-query clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/yrdchain demo

lint: $(STAMP)
	$(VENV)/bin/ruff check chain nodes contracts simulator benchmarks tests
	$(VENV)/bin/mypy chain
	$(VENV)/bin/lint-imports

browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

test: lint browser
	$(PY) -m pytest -q -p no:cacheprovider

contracts: $(STAMP)
	$(PY) -m contracts.build

bench-core: $(STAMP)
	$(PY) -m benchmarks.core

clean:
	rm -rf $(VENV) build *.egg-info
