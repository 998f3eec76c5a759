# Kyso Agent — developer entry points. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := softhsm2 opensc openssl python3 python3-venv python3-pip python3-tk ca-certificates poppler-utils qpdf xmlsec1 libnss3-tools fonts-liberation2 fonts-dejavu-core xvfb xauth xdotool x11-utils trayer xclip chromium msitools wixl osslsigncode wine wine64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 dpkg-dev gcc libc6-dev libp11-kit-dev python3-gi gir1.2-gtk-3.0 dbus
PYTEST_ARGS ?=

.PHONY: all deps venv node demo test lint bench clean deb msi lock newest audit

all: test

deps:
	@scripts/install-deps.sh $(APT_PACKAGES)

# The venv holds exactly the lock (requirements/dev.txt, docs/dependencies.md): every wheel
# hash-checked by pip, no resolution on the day, made anew whenever the lock changes.
$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.txt
	@touch $@

# The agent itself, editable; installed again when its version (agent/__init__.py) changes,
# which its installed metadata carries.
$(VENV)/.agent: $(VENV)/.installed agent/__init__.py
	$(PY) -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

venv: $(VENV)/.agent

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

# The suite as two pytest runs side by side (Wine, desktop, browser and fuzzing beside the
# unit and integration tests): scripts/test.sh.
test: deps venv node
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 scripts/test.sh $(PYTEST_ARGS)

lint: deps venv
	$(VENV)/bin/ruff check agent tests bench demo docs/examples packaging scripts
	$(VENV)/bin/ruff format --check agent tests bench demo docs/examples packaging scripts
	$(VENV)/bin/mypy

# The performance budget (docs/performance.md): each bench prints its figures with a
# baseline measured in the same run, and a PASS/MISS line per budget. BENCH_ARGS=--quick
# for a smoke run of a few seconds each.
BENCH_ARGS ?=
bench: deps venv
	$(PY) bench/bench_sign.py $(BENCH_ARGS)
	$(PY) bench/bench_pdf.py $(BENCH_ARGS)
	$(PY) bench/bench_pdf_batch.py $(BENCH_ARGS)
	$(PY) bench/bench_xml.py $(BENCH_ARGS)
	$(PY) bench/bench_start.py $(BENCH_ARGS)
	$(PY) bench/bench_memory.py $(BENCH_ARGS)
	$(PY) bench/bench_start_wine.py $(BENCH_ARGS)

# The Debian package (packaging/linux/README.md): dist/kyso-agent_VERSION_ARCH.deb and its SBOM
# (.cdx.json), built with dpkg-deb from the locked wheels (requirements/main.txt) fetched for
# /usr/bin/python3 (its pip: python3-pip) and the agent's wheel built in the venv.
deb: venv
	@scripts/install-deps.sh python3 python3-pip python3-venv
	packaging/linux/build-deb.sh dist

# The Windows MSI (packaging/windows/build.py): dist/kyso-agent-VERSION-x64.msi and its SBOM
# (.cdx.json), built with wixl (msitools) from the locked win_amd64 wheels
# (requirements/windows.txt) and a Windows CPython 3.13 runtime from PyPI, every module compiled
# by that runtime under Wine.
msi: deps venv
	$(PY) packaging/windows/build.py

# Refresh the lock to the newest releases pyproject.toml's ranges allow (LOCK_ARGS= keeps the
# pinned versions and only adds what pyproject gained). Review the diff, then make test.
LOCK_ARGS ?= --upgrade
lock: venv
	scripts/lock.sh $(VENV)/bin/uv requirements $(LOCK_ARGS)

# Can the lock be refreshed? Resolves the newest allowed releases into a throwaway lock and venv
# and runs the unit tests there; main and the lock are left as they are.
newest: venv
	scripts/newest.sh $(VENV)/bin/uv

# The locked releases against known vulnerabilities (pip-audit): exit 1 on a finding, 2 when the
# database could not be asked; never a silent pass (docs/dependencies.md: what to do with a
# finding; AUDIT_ARGS="--ignore-vuln ID" records a decision).
AUDIT_ARGS ?=
audit: venv
	$(PY) scripts/audit.py $(AUDIT_ARGS)

clean:
	rm -rf $(VENV) node_modules .demo .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
