# Kyso Agent — developer entry points. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := softhsm2 opensc openssl python3 python3-venv ca-certificates poppler-utils libnss3-tools fonts-liberation2 fonts-dejavu-core xvfb xauth xdotool x11-utils trayer xclip
PYTEST_ARGS ?=

.PHONY: all deps venv demo test lint bench clean

all: test

deps:
	@scripts/install-deps.sh $(APT_PACKAGES)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

demo: deps venv
	$(PY) demo/run.py

test: deps venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: deps venv
	$(VENV)/bin/ruff check agent tests bench demo docs/examples
	$(VENV)/bin/ruff format --check agent tests bench demo docs/examples
	$(VENV)/bin/mypy

bench: deps venv
	$(PY) bench/bench_sign.py
	$(PY) bench/bench_pdf.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache build *.egg-info
