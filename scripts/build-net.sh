#!/usr/bin/env bash
# Builds isola's CNI plugins as ONE multi-call executable (bin/isola-cni) and a plugin
# directory (bin/cni/) of symlinks named by plugin type, for any CNI runtime's plugin path.
set -euo pipefail
cd "$(dirname "$0")/.."
bun=node_modules/.bin/bun
out=bin/isola-cni
source scripts/compile-flags.sh
if [ ! -x "$out" ] || [ -n "$(find src/net src/host src/cli/args.ts scripts/compile-flags.sh -newer "$out" \( -name '*.ts' -o -name compile-flags.sh \) 2>/dev/null | head -1)" ]; then
  "$bun" "${COMPILE_FLAGS[@]}" "${SHORT_LIVED_FLAGS[@]}" src/net/plugins/main.ts --outfile "$out" >/dev/null
fi
mkdir -p bin/cni
for t in isola-bridge isola-ipam isola-portmap isola-policy; do
  ln -sfn ../isola-cni "bin/cni/$t"
done
