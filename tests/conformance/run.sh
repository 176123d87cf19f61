#!/bin/sh
# Runs one conformance-suite invocation against a fresh conformance-server
# (run.mjs does the work) with the pinned node from tests/interop.
# Usage: run.sh NODE SERVER PACKAGE [SUITE ARGS...]
# A missing node is a failure, never a skip.
node="$1"
shift
if [ ! -x "$node" ]; then
    echo "conformance: $node is missing: the npm packages of tests/interop are not installed." >&2
    echo "conformance: run scripts/setup (or: cd tests/interop && npm ci) and re-run." >&2
    exit 1
fi
exec "$node" "$(dirname "$0")/run.mjs" "$@"
