#!/usr/bin/env bash
# Compiles the CLIs into standalone Bun executables (bytecode, no start-up transpiling)
# when any TypeScript source is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bun=node_modules/.bin/bun
build() { # entry outfile
  local entry=$1 out=$2
  if [ -x "$out" ] && [ -z "$(find src package.json -newer "$out" -name '*.ts' -o -newer "$out" -name package.json 2>/dev/null | head -1)" ]; then
    return 0
  fi
  "$bun" build --compile --bytecode --minify --target=bun "$entry" --outfile "$out" >/dev/null
}
build src/cli/runtime.ts bin/isola-runtime
if [ -f src/cli/isola.ts ]; then build src/cli/isola.ts bin/isola; fi
# Network plugins and other optional components build themselves.
for extra in scripts/build-*.sh; do [ -f "$extra" ] && bash "$extra"; done
true
