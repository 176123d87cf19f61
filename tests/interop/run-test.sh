#!/bin/sh
# Runs one interop test file (node:test) with the pinned node from
# tests/interop/node_modules (installed by scripts/setup with `npm ci`).
# Usage: run-test.sh NODE FILE.test.mjs
# A missing node_modules is a failure, never a skip.
node="$1"
shift
if [ ! -x "$node" ]; then
    echo "interop: $node is missing: the npm packages of tests/interop are not installed." >&2
    echo "interop: run scripts/setup (or: cd tests/interop && npm ci) and re-run." >&2
    exit 1
fi
cd "$(dirname "$0")" || exit 1
exec "$node" --test --test-reporter=spec "$@"
