# Kyso Agent — developer entry points. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := softhsm2 opensc openssl python3 python3-venv python3-pip python3-tk ca-certificates poppler-utils libnss3-tools fonts-liberation2 fonts-dejavu-core xvfb xauth xdotool x11-utils trayer xclip chromium msitools wixl osslsigncode wine wine64 gcc libc6-dev libp11-kit-dev python3-gi gir1.2-gtk-3.0 dbus
PYTEST_ARGS ?=

.PHONY: all deps venv node demo test lint bench clean deb msi

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

# playwright-core for the browser tests (tests/browser); they drive Debian's /usr/bin/chromium,
# so Playwright must never download a browser of its own.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/install-deps.sh nodejs npm
	@command -v npm >/dev/null 2>&1 || { echo "Node.js 20 or newer with npm is needed for the browser tests" >&2; exit 1; }
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: node_modules/.installed

demo: deps venv
	$(PY) demo/run.py

test: deps venv node
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: deps venv
	$(VENV)/bin/ruff check agent tests bench demo docs/examples packaging
	$(VENV)/bin/ruff format --check agent tests bench demo docs/examples packaging
	$(VENV)/bin/mypy

# The performance budget (docs/performance.md): each bench prints its figures with a
# baseline measured in the same run, and a PASS/MISS line per budget. BENCH_ARGS=--quick
# for a smoke run of a few seconds each.
BENCH_ARGS ?=
bench: deps venv
	$(PY) bench/bench_sign.py $(BENCH_ARGS)
	$(PY) bench/bench_pdf.py $(BENCH_ARGS)
	$(PY) bench/bench_start.py $(BENCH_ARGS)

# The Debian package (packaging/linux/README.md): dist/kyso-agent_VERSION_ARCH.deb, built with
# dpkg-deb from wheels made by /usr/bin/python3 (its pip: python3-pip).
deb:
	@scripts/install-deps.sh python3 python3-pip python3-venv
	packaging/linux/build-deb.sh dist

# The Windows MSI (packaging/windows/build.py): dist/kyso-agent-VERSION-x64.msi, built with wixl
# (msitools) from win_amd64 wheels resolved by uv and a Windows CPython runtime from PyPI.
msi: deps venv
	$(PY) packaging/windows/build.py

clean:
	rm -rf $(VENV) node_modules .demo .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
