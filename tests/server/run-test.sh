#!/bin/sh
# Runs one network test file (node:test) with the pinned node that
# scripts/setup installs under tests/interop/node_modules.
# Usage: run-test.sh NODE FILE.test.mjs
# A missing node is a failure, never a skip.
node="$1"
shift
if [ ! -x "$node" ]; then
    echo "server tests: $node is missing: the npm packages of tests/interop are not installed." >&2
    echo "server tests: run scripts/setup (or: cd tests/interop && npm ci) and re-run." >&2
    exit 1
fi
cd "$(dirname "$0")" || exit 1
exec "$node" --test --test-reporter=spec "$@"
