#!/usr/bin/env bash
# Idempotent set-up of everything isola needs on a fresh Debian machine:
# Debian packages, npm packages (Bun, TypeScript), the C launcher and the compiled CLIs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need_pkgs=()
while read -r pkg probe; do
  [ -z "$pkg" ] || [ "${pkg:0:1}" = "#" ] && continue
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need_pkgs+=("$pkg")
  fi
done < scripts/apt-packages.txt
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to apt-get install ${need_pkgs[*]}" >&2; exit 1; fi
  stamp=/var/lib/apt/periodic/isola-update-stamp
  if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
    apt-get update -qq >&2 && mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi

if [ ! -x node_modules/.bin/bun ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm install" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi

make -s -C native >&2
bash scripts/build.sh >&2
