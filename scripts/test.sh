#!/usr/bin/env bash
# Runs the whole suite (unit tests without root, integration tests as root) and
# ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
recap=$(mktemp)
skipped=$(mktemp)
# the runtime's compiled-seccomp cache goes to a directory of the run's own, removed at the end
ISOLA_CACHE_DIR=$(mktemp -d)
export ISOLA_CACHE_DIR
trap 'rm -rf "$out" "$recap" "$skipped" "$ISOLA_CACHE_DIR"' EXIT
# Each file runs in its own process so one file's crash cannot hide another's results.
pass=0; fail=0; skip=0; status=0
failed_files=()
# The type check first, counted as one test: strict TypeScript is part of the build.
echo "=== tsc --noEmit"
if node_modules/.bin/tsc --noEmit -p . >"$out" 2>&1; then
  pass=$((pass + 1))
  echo "(pass) tsc --noEmit"
else
  cat "$out"
  fail=$((fail + 1)); status=1
  failed_files+=("tsc")
  { echo "--- tsc --noEmit"; head -50 "$out"; } >>"$recap"
fi
mapfile -t files < <(find src test bench scripts -name '*_test.ts' -not -path '*/node_modules/*' | sort)
for f in "${files[@]}"; do
  echo "=== $f"
  timeout --kill-after=10 "${ISOLA_TEST_FILE_TIMEOUT:-600}" node_modules/.bin/bun test --timeout 120000 "./$f" >"$out" 2>&1
  rc=$?
  cat "$out"
  p=$(grep -Eo '^ *[0-9]+ pass$' "$out" | grep -Eo '[0-9]+' | tail -1)
  n=$(grep -Eo '^ *[0-9]+ fail$' "$out" | grep -Eo '[0-9]+' | tail -1)
  k=$(grep -Eo '^ *[0-9]+ skip$' "$out" | grep -Eo '[0-9]+' | tail -1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${n:-0})); skip=$((skip + ${k:-0}))
  grep -E '^\(skip\) ' "$out" | sed "s|^|$f: |" >>"$skipped"
  if [ "$rc" -ne 0 ] && [ "${n:-0}" -eq 0 ]; then
    echo "!!! $f exited with status $rc without a failing test: counted as one failure"
    fail=$((fail + 1))
  fi
  if [ "$rc" -ne 0 ]; then
    status=1
    failed_files+=("$f")
    # Keep what failed for the recap: CI shows only the end of the output.
    { echo "--- $f (exit $rc)"; grep -E -B30 '^\(fail\)' "$out" | head -150; } >>"$recap"
  fi
done
if [ "${#failed_files[@]}" -gt 0 ]; then
  echo
  echo "=== failures (${#failed_files[@]} files)"
  cat "$recap"
fi
# skipped tests are listed (each file prints why it skips), so a run that skipped much is seen
if [ "$skip" -gt 0 ]; then
  echo
  echo "=== skipped (${skip})"
  cat "$skipped"
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "(not root: the integration tests were skipped; run as root for the whole suite)"
fi
echo "${pass} passed, ${fail} failed"
exit $status
