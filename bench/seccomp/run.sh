#!/usr/bin/env bash
# Seccomp filter bench: isola's compiler vs libseccomp (linear and tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node_modules/.bin/bun bench/seccomp/run.ts "$@"
