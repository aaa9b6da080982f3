#!/bin/sh
# Install what Pitwall builds and tests with, if anything is missing:
# the Debian packages (apt-get, as root; as another user, say what to
# install), then the Node.js packages of package.json with `npm ci` (the
# interoperability tests' WebSocket client, `ws`; the dashboards' chart
# library, `uplot`; `playwright-core`, which drives Debian's chromium in the
# dashboards' browser test), when node_modules is missing or older than
# package-lock.json. Does nothing when all is there.
set -eu
cd "$(dirname "$0")/.."
PKGS="build-essential pkg-config librdkafka-dev libwebsockets-dev libmsgpack-dev \
liblmdb-dev libgsl-dev libcriterion-dev libyaml-dev libjansson-dev zlib1g-dev kcat \
chromium"
# node and npm from Debian only when no node is installed at all.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "pitwall: missing packages:$missing" >&2
        echo "pitwall: run as root: apt-get install -y$missing" >&2
        exit 1
    fi
    echo "pitwall: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi

# npm ci writes node_modules/.package-lock.json; stale when the lock is newer.
if [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "pitwall: installing the Node.js packages (npm ci)"
    if ! npm ci --no-audit --no-fund; then
        # Offline, say: the build goes on; the interop and dashboard tests skip
        # (fail under CI), and the dashboards load without charts.
        echo "pitwall: npm ci failed: the Node.js interop and dashboard tests will be skipped" >&2
        [ -z "${CI:-}" ] || exit 1
    fi
fi
