#!/bin/sh
# Install the Debian packages Pitwall builds and tests with, if any is missing.
# Does nothing when all are present; as non-root, says what to install.
set -eu
PKGS="build-essential pkg-config librdkafka-dev libwebsockets-dev libmsgpack-dev \
liblmdb-dev libgsl-dev libcriterion-dev libyaml-dev libjansson-dev zlib1g-dev kcat"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "pitwall: missing packages:$missing" >&2
    echo "pitwall: run as root: apt-get install -y$missing" >&2
    exit 1
fi
echo "pitwall: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
