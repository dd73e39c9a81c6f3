#!/bin/sh
# Installs what tarn needs on Debian 12 (apt packages) and fetches the pinned DuckDB C
# library and header from the npm registry into third_party/ (ignored).
#   scripts/bootstrap.sh run    what building and running need (make run, make install)
#   scripts/bootstrap.sh test   that plus the test and benchmark tools (make test, CI)
set -eu
cd "$(dirname "$0")/.."
MODE=${1:-test}

# The DuckDB library below is the linux-x64 build.
ARCH=$(uname -m)
if [ "$ARCH" != "x86_64" ]; then
    echo "bootstrap: this machine is $ARCH; tarn's build fetches DuckDB's x86-64 (linux-x64)" \
         "library, so it builds only on x86-64 for now" >&2
    exit 1
fi

RUN_PKGS="build-essential pkg-config meson ninja-build libmicrohttpd-dev libsqlite3-dev
libjansson-dev libyaml-dev libssl-dev libcurl4-openssl-dev libedit-dev libexpat1-dev
zlib1g-dev libzstd-dev libjq-dev libpq-dev libmariadb-dev libpg-query-dev libprotobuf-c-dev curl ca-certificates
awscli"
TEST_PKGS="libcmocka-dev postgresql zstd python3-pytest python3-boto3 python3-psycopg2
python3-psycopg python3-asyncpg postgresql-client mariadb-server python3-pymysql libpostgresql-jdbc-java default-jdk-headless
clang libclang-rt-14-dev wrk strace prometheus"
case "$MODE" in
    run) PKGS=$RUN_PKGS ;;
    test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
    *) echo "bootstrap: unknown mode '$MODE' (run or test)" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing$missing" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    # A failed update is not fatal (the package lists may be recent enough), but it is
    # said, with apt's own words, so that a failed install below can be understood.
    if ! out=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1); then
        echo "$out" | tail -n 5 >&2
        echo "bootstrap: apt-get update failed (above); installing from the package lists" \
             "this machine already has" >&2
    fi
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2; then
        echo "bootstrap: could not install:$missing" >&2
        echo "bootstrap: check the network and the apt sources, then run 'make' again" >&2
        exit 1
    fi
fi

# DuckDB 1.4.4 LTS: libduckdb.so from the node bindings package, duckdb.h from the
# matching source package. Pinned by version and SHA-256.
DUCK_DIR=third_party/duckdb
LIB_URL=https://registry.npmjs.org/@duckdb/node-bindings-linux-x64/-/node-bindings-linux-x64-1.4.4-r.4.tgz
LIB_SHA=732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b
HDR_URL=https://registry.npmjs.org/duckdb/-/duckdb-1.4.4.tgz
HDR_SHA=5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed

fetch() { # url sha dest
    if [ -f "$3" ] && echo "$2  $3" | sha256sum -c --status; then return 0; fi
    echo "bootstrap: fetching $1" >&2
    curl -fsSL --retry 3 -o "$3.part" "$1"
    if ! echo "$2  $3.part" | sha256sum -c --status; then
        echo "bootstrap: checksum mismatch for $1" >&2
        rm -f "$3.part"
        exit 1
    fi
    mv "$3.part" "$3"
}

# The pins the library was fetched with: a changed version or checksum fetches again.
PIN="$LIB_URL $LIB_SHA $HDR_URL $HDR_SHA"
if [ ! -f "$DUCK_DIR/lib/libduckdb.so" ] || [ ! -f "$DUCK_DIR/include/duckdb.h" ] ||
   [ "$(cat "$DUCK_DIR/PIN" 2>/dev/null)" != "$PIN" ]; then
    rm -rf "$DUCK_DIR/lib" "$DUCK_DIR/include" "$DUCK_DIR/PIN"
    mkdir -p "$DUCK_DIR/dl" "$DUCK_DIR/lib" "$DUCK_DIR/include"
    fetch "$LIB_URL" "$LIB_SHA" "$DUCK_DIR/dl/bindings.tgz"
    fetch "$HDR_URL" "$HDR_SHA" "$DUCK_DIR/dl/duckdb.tgz"
    tar -xzf "$DUCK_DIR/dl/bindings.tgz" -C "$DUCK_DIR/dl" package/libduckdb.so
    mv "$DUCK_DIR/dl/package/libduckdb.so" "$DUCK_DIR/lib/libduckdb.so"
    tar -xzf "$DUCK_DIR/dl/duckdb.tgz" -C "$DUCK_DIR/dl" package/src/duckdb/src/include/duckdb.h
    mv "$DUCK_DIR/dl/package/src/duckdb/src/include/duckdb.h" "$DUCK_DIR/include/duckdb.h"
    rm -rf "$DUCK_DIR/dl/package"
    echo "$PIN" > "$DUCK_DIR/PIN"
fi

# Sample data for the quick start and the benchmarks: public datasets from vega-datasets.
SAMPLE_DIR=third_party/vega-datasets
SAMPLE_URL=https://registry.npmjs.org/vega-datasets/-/vega-datasets-3.2.1.tgz
SAMPLE_SHA=6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3
if [ ! -f "$SAMPLE_DIR/data/airports.csv" ]; then
    mkdir -p "$SAMPLE_DIR"
    fetch "$SAMPLE_URL" "$SAMPLE_SHA" "$SAMPLE_DIR/vega-datasets.tgz"
    tar -xzf "$SAMPLE_DIR/vega-datasets.tgz" -C "$SAMPLE_DIR" --strip-components=1 package/data
fi
