#!/bin/sh
# Build the Debian package of Kyso Agent: dist/kyso-agent_VERSION_ARCH.deb (see README.md here).
# Usage: packaging/linux/build-deb.sh [OUT_DIR]      (default: dist/ at the repository root)
#
# Needs dpkg-deb (dpkg) and the target's Python with pip: the locked wheels of the dependencies
# (requirements/main.txt, every file checked against the lock's SHA-256) are fetched for the
# interpreter that runs this (/usr/bin/python3 by default, override with PYTHON=...), which must
# be the python3 of the Debian release installing it. The agent's own wheel is built by
# BUILD_PYTHON (default: the project's .venv, make venv), whose setuptools is the locked one.
#
# Beside the package: kyso-agent_VERSION_ARCH.cdx.json, the CycloneDX SBOM of the wheels it
# ships (packaging/sbom.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/dist}
python=${PYTHON:-/usr/bin/python3}
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}

command -v dpkg-deb >/dev/null || { echo "dpkg-deb is needed (Debian package dpkg)" >&2; exit 1; }
"$python" -m pip --version >/dev/null 2>&1 ||
    { echo "$python has no pip (Debian package python3-pip)" >&2; exit 1; }
[ -x "$build_python" ] || { echo "$build_python is missing: make venv" >&2; exit 1; }

# The version is written once, in agent/__init__.py (pyproject.toml reads it from there too).
version=$("$python" -c 'import runpy, sys; print(runpy.run_path(sys.argv[1])["__version__"])' "$repo/agent/__init__.py")
arch=$(dpkg --print-architecture)
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pynext=$("$python" -c 'import sys; print("%d.%d" % (sys.version_info[0], sys.version_info[1] + 1))')

work=$(mktemp -d "${TMPDIR:-/tmp}/kyso-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/kyso-agent/wheels" \
    "$root/etc/kyso-agent" "$root/etc/xdg/autostart" "$root/usr/share/applications" \
    "$root/usr/share/doc/kyso-agent"

wheels="$root/usr/lib/kyso-agent/wheels"
# The dependencies: exactly the lock's releases and files, so that installing needs no network.
# --isolated: ignore the build machine's pip configuration (extra indexes, constraints);
# --require-hashes: a file whose SHA-256 is not in the lock stops the build, naming the package.
"$python" -m pip wheel --isolated --quiet --disable-pip-version-check --require-hashes \
    --no-deps --wheel-dir "$wheels" -r "$repo/requirements/main.txt"
# The agent's own wheel, from a copy of the sources, so that setuptools leaves nothing in the
# work tree; no build isolation, which would fetch an unlocked setuptools.
mkdir -p "$work/src"
cp "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$work/src/"
cp -r "$repo/agent" "$work/src/agent"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
"$build_python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --wheel-dir "$wheels" "$work/src"
# postinst installs exactly these files: each pinned to its SHA-256 (pip --require-hashes).
for wheel in "$wheels"/*.whl; do
    file=$(basename "$wheel")
    name=${file%%-*}
    rest=${file#*-}
    echo "$name==${rest%%-*} --hash=sha256:$(sha256sum "$wheel" | cut -d' ' -f1)"
done > "$wheels/requirements.txt"

install -m 0755 "$here/files/kyso-agent" "$root/usr/bin/kyso-agent"
install -m 0644 "$here/files/policy.toml" "$root/etc/kyso-agent/policy.toml"
install -m 0644 "$here/files/kyso-agent-autostart.desktop" "$root/etc/xdg/autostart/kyso-agent.desktop"
install -m 0644 "$here/files/kyso-agent.desktop" "$root/usr/share/applications/kyso-agent.desktop"
install -m 0644 "$here/debian/copyright" "$root/usr/share/doc/kyso-agent/copyright"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@PYVER@/$pyver/" -e "s/@PYNEXT@/$pynext/" \
    "$here/debian/control.in" > "$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/kyso-agent_${version}_${arch}.deb"
# --root-owner-group: files owned by root in the package without fakeroot.
# gzip: the payload is mostly wheels, already compressed; xz would only cost time.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
"$build_python" "$repo/packaging/sbom.py" --name kyso-agent --version "$version" \
    --out "$out/kyso-agent_${version}_${arch}.cdx.json" "$wheels"/*.whl >/dev/null
echo "$deb"
