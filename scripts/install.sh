#!/usr/bin/env bash
# Puts isola-runtime (and the launcher it runs, which must sit beside it) on PATH.
# Usage: bash scripts/install.sh [PREFIX]   (default /usr/local; binaries go to PREFIX/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
bash scripts/setup.sh
install -d "$prefix/bin"
install -m 0755 bin/isola-runtime bin/isola-launcher "$prefix/bin/"
[ -x bin/isola ] && install -m 0755 bin/isola "$prefix/bin/"
echo "installed isola-runtime and isola-launcher in $prefix/bin"
