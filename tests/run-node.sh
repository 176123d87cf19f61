#!/bin/sh
# Runs the pinned node that scripts/setup installs under
# tests/interop/node_modules (npm ci from the lockfile) in DIR with the given
# arguments. Every node-based test goes through it: interop, server, bridge,
# access, web (node:test files) and the conformance runs.
# Usage: run-node.sh NODE DIR ARGS...
# A missing node is a failure, never a skip.
node="$1"
dir="$2"
shift 2
if [ ! -x "$node" ]; then
    echo "tests: $node is missing: the npm packages of tests/interop are not installed." >&2
    echo "tests: run scripts/setup (or: cd tests/interop && npm ci) and re-run." >&2
    exit 1
fi
cd "$dir" || exit 1
exec "$node" "$@"
