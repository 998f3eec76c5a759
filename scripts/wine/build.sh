#!/bin/sh
# Build the Windows pieces that the Wine tests need and Wine 8 lacks, with mingw-w64, for the
# tests only (tests/windows/): nothing here is shipped in the MSI or installed on Windows.
#
#   bcryptprimitives.dll  ProcessPrng over BCryptGenRandom (bcryptprimitives.c): cryptography's
#                         Rust extension imports it, Wine 8 does not have it
#   softhsm2-x64.dll      SoftHSM2, the tests' token, as a Windows PKCS#11 module, on a static
#   softhsm2-util.exe     libcrypto of OpenSSL; the util initialises tokens under Wine
#
# Sources are Debian's own (apt-get source, hash-checked by apt against the signed Sources
# index); a deb-src entry is added next to the deb ones when the machine has none. Only the
# upstream tarballs are needed: some mirrors answer 404 for a package's debian.tar.xz, which
# apt-get then reports as a failure although the *.orig.tar.* it needs are there.
#
# Usage: scripts/wine/build.sh [OUT_DIR]   (default: $KYSO_WINE_CACHE or ~/.cache/kyso-agent/wine)
# Prints OUT_DIR/<key>, the directory holding the three files. A second run with the same
# sources, compiler and script reuses it (about 3 minutes on 2 cores the first time).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-${KYSO_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kyso-agent/wine}}
host=x86_64-w64-mingw32
jobs=$(nproc 2>/dev/null || echo 2)

say() { echo "wine-build: $*" >&2; }

"$repo/scripts/install-deps.sh" gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 make perl dpkg-dev >&2

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# A deb-src entry for each deb one, once. deb822 files (Debian 12, Ubuntu 24.04) and one-line
# sources.list (older systems) both occur.
src_list=/etc/apt/sources.list.d/kyso-agent-deb-src.sources
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding deb-src entries ($src_list)"
    entries=$(
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && sed -e 's/^Types: *deb$/Types: deb-src/' "$f" && echo
        done
        if [ -f /etc/apt/sources.list ]; then
            # One-line entries as deb822 stanzas: deb [options] URI SUITE COMPONENT...
            sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) \([^ ]*\) \(.*\)$/Types: deb-src\nURIs: \2\nSuites: \3\nComponents: \4\n/p' /etc/apt/sources.list
        fi
    )
    printf '%s\n' "$entries" | $SUDO tee "$src_list" >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
fi

version_of() {
    apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1
}
softhsm_version=$(version_of softhsm2)
openssl_version=$(version_of openssl)
if [ -z "$softhsm_version" ] || [ -z "$openssl_version" ]; then
    say "apt knows no source package of softhsm2 or openssl (is a deb-src entry configured?)"
    exit 1
fi
compiler=$($host-gcc -dumpfullversion)
script_sum=$(cat "$0" "$here/bcryptprimitives.c" | sha256sum | cut -c1-16)
key="softhsm2-$softhsm_version-openssl-$openssl_version-gcc-$compiler-$script_sum"
out="$cache/$key"
if [ -f "$out/.complete" ]; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kyso-wine-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/stage"

say "fetching Debian's sources: softhsm2 $softhsm_version, openssl $openssl_version"
# --download-only: the upstream tarballs are all this needs (see above); apt checks each
# file it fetches against the Sources index, whose Release file is signed.
(cd "$work/src" && apt-get source --download-only "softhsm2=$softhsm_version" \
    "openssl=$openssl_version" >"$work/apt.log" 2>&1) || true
softhsm_tar=$(ls "$work"/src/softhsm2_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1)
openssl_tar=$(ls "$work"/src/openssl_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1)
if [ -z "$softhsm_tar" ] || [ -z "$openssl_tar" ]; then
    cat "$work/apt.log" >&2
    say "apt-get source did not fetch the upstream tarballs"
    exit 1
fi
mkdir "$work/openssl" "$work/softhsm2"
tar -xf "$openssl_tar" -C "$work/openssl" --strip-components=1
tar -xf "$softhsm_tar" -C "$work/softhsm2" --strip-components=1

say "building bcryptprimitives.dll"
printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n' >"$work/bcryptprimitives.def"
$host-gcc -O2 -Wall -shared -static-libgcc -o "$work/stage/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$work/bcryptprimitives.def" -lbcrypt

# libcrypto alone, static, with what SoftHSM uses (RSA, EC, EdDSA, DSA, DH, AES, DES, the
# digests and HMAC/CMAC, the RDRAND engine); protocols and unused ciphers left out to build
# in half the time.
say "building OpenSSL's libcrypto (static)"
(
    cd "$work/openssl"
    ./Configure mingw64 --cross-compile-prefix=$host- --prefix="$work/ossl" --libdir=lib \
        no-shared no-tests no-ssl no-tls no-dtls no-module no-legacy no-comp no-ui-console \
        no-srp no-psk no-ocsp no-cmp no-cms no-ct no-ts no-camellia no-aria no-sm2 no-sm3 \
        no-sm4 no-seed no-idea no-mdc2 no-rc2 no-rc4 no-rc5 no-whirlpool no-bf no-cast \
        no-siphash no-async
    make -j"$jobs" build_libs
    make install_dev
) >"$work/openssl.log" 2>&1 || { tail -n 40 "$work/openssl.log" >&2; exit 1; }

# SoftHSM2's own Windows build is a Visual Studio project (win32/); its autotools build does
# not know mingw. configure writes config.h (it needs to be told that LoadLibrary exists:
# its link test does not declare it __stdcall), then the sources of the MSVC projects are
# compiled here as MSVC compiles them: windows.h in front (lean: its rpc.h would make UUID a
# type, which SoftHSM uses as a namespace), and Windows' own mutexes rather than mingw's
# pthreads, which config.h would otherwise choose.
say "building SoftHSM2"
(
    cd "$work/softhsm2"
    ac_cv_func_LoadLibrary=yes PKG_CONFIG=/bin/false LIBS="-lws2_32 -lgdi32 -lcrypt32 -lbcrypt" \
        ./configure --host=$host --with-crypto-backend=openssl --with-openssl="$work/ossl" \
        --disable-gost --disable-non-paged-memory --disable-p11-kit
    sed -i 's/^#define HAVE_PTHREAD_H 1$//' config.h
) >"$work/softhsm2-configure.log" 2>&1 || { tail -n 40 "$work/softhsm2-configure.log" >&2; exit 1; }
cd "$work/softhsm2/src"
lib_dirs="lib lib/pkcs11 lib/common lib/object_store lib/slot_mgr lib/session_mgr lib/data_mgr
    lib/handle_mgr lib/crypto lib/win32 bin/common bin/win32"
includes="-I.. $(for d in $lib_dirs; do printf -- '-I%s ' "$d"; done) -I$work/ossl/include"
cxxflags="-std=c++11 -O2 -DHAVE_CONFIG_H -DNOMINMAX -DWIN32_LEAN_AND_MEAN -include windows.h $includes"
# Everything of the library but its tests, the Botan backend and the SQLite object store.
library=$(ls lib/*.cpp lib/*/*.cpp lib/win32/*.cc | grep -v -e '/test/' -e '/Botan' -e '/DB')
mkdir -p "$work/obj"
printf '%s\n' $library | xargs -P "$jobs" -I{} sh -c \
    "$host-g++ $cxxflags -DCRYPTOKI_EXPORTS -c {} -o $work/obj/\$(echo {} | tr / _).o" \
    >"$work/softhsm2-build.log" 2>&1 || { grep -m 20 error "$work/softhsm2-build.log" >&2; exit 1; }
static="-static -static-libgcc -static-libstdc++"
libs="-L$work/ossl/lib -lcrypto -lws2_32 -lgdi32 -lcrypt32 -lbcrypt -ladvapi32 -luser32"
# As the MSVC projects: everything below lib/ in one archive (convarch.lib) that the module
# (lib/*.cpp, DllMain) and softhsm2-util both link.
$host-ar rcs "$work/convarch.a" $(ls "$work"/obj/lib_*_*.o | grep -v -e '/lib_win32_dllmain' \
    -e "/lib_[A-Za-z0-9]*\.cpp\.o\$")
module_objects=$(ls "$work"/obj/lib_*.o | grep -e '/lib_win32_dllmain' -e "/lib_[A-Za-z0-9]*\.cpp\.o\$")
$host-g++ -shared $static -o "$work/stage/softhsm2-x64.dll" $module_objects "$work/convarch.a" $libs
mkdir "$work/util"
for s in bin/common/findslot.cpp bin/common/getpw.cpp bin/common/library.cpp \
    bin/util/softhsm2-util.cpp bin/util/softhsm2-util-ossl.cpp bin/win32/getpassphase.cpp; do
    $host-g++ $cxxflags -c "$s" -o "$work/util/$(basename "$s").o" \
        2>>"$work/softhsm2-build.log" || { grep -m 20 error "$work/softhsm2-build.log" >&2; exit 1; }
done
$host-g++ $static -o "$work/stage/softhsm2-util.exe" "$work"/util/*.o "$work/convarch.a" $libs

mkdir -p "$cache"
rm -rf "$out"
cp -r "$work/stage" "$out"
printf 'softhsm2 %s\nopenssl %s\n%s-gcc %s\n' "$softhsm_version" "$openssl_version" "$host" \
    "$compiler" >"$out/VERSIONS"
touch "$out/.complete"
say "built $(ls "$out" | tr '\n' ' ')"
echo "$out"
