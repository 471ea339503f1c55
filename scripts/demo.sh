#!/usr/bin/env bash
# The demo: builds a busybox bundle from Debian's busybox-static and runs a
# container with `isola-runtime run` that shows what it is isolated from.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$(mktemp -d /tmp/isola-demo-XXXXXX)
root=$(mktemp -d /tmp/isola-demo-state-XXXXXX)
id="demo-$$"
cleanup() {
  ./bin/isola-runtime --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$bundle" "$root"
}
trap cleanup EXIT

host_ns=""
for t in pid net mnt ipc uts cgroup user time; do host_ns="$host_ns $t=$(readlink /proc/self/ns/$t)"; done
node_modules/.bin/bun scripts/demo-bundle.ts "$bundle" "$host_ns"

echo "== host: $(hostname), pid $$, $(ip -o link | wc -l) network interfaces, $(wc -l < /proc/self/mountinfo) mounts"
echo "== container (isola-runtime run -b $bundle $id):"
./bin/isola-runtime --root "$root" run -b "$bundle" "$id"
echo "== exit status $?; the container and its state are gone: $(./bin/isola-runtime --root "$root" list -q | wc -l) containers listed"
