#!/usr/bin/env bash
# Compiles the CLIs into standalone Bun executables (bytecode, no start-up transpiling)
# when any TypeScript source is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bun=node_modules/.bin/bun
# Flags every executable gets (scripts/compile-flags.sh explains them).
source scripts/compile-flags.sh
build() { # entry outfile [extra bun build flags]
  local entry=$1 out=$2
  shift 2
  if [ -x "$out" ] && [ -z "$(find src package.json scripts/compile-flags.sh -newer "$out" \( -name '*.ts' -o -name package.json -o -name compile-flags.sh \) 2>/dev/null | head -1)" ]; then
    return 0
  fi
  "$bun" "${COMPILE_FLAGS[@]}" "$@" "$entry" --outfile "$out" >/dev/null
}
# The runtime is short-lived and on every container's critical path: JIT compiling its
# run-once start-up code only competes with the container for the CPU (long-running verbs
# such as `events` turn the normal policy back on).
build src/cli/runtime.ts bin/isola-runtime "${SHORT_LIVED_FLAGS[@]}"
if [ -f src/cli/isola.ts ]; then build src/cli/isola.ts bin/isola; fi
# Network plugins and other optional components build themselves.
for extra in scripts/build-*.sh; do [ -f "$extra" ] && bash "$extra"; done
true
