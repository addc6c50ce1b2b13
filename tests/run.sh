#!/usr/bin/env bash
# The whole test suite, with what it needs: Debian's Chromium for the browser tests and a real
# Bolt server for the Neo4j backend's tests (ArcadeDB, stopped again on exit). Point
# KNOWSYNC_TEST_NEO4J_URL at a Neo4j 5 server to use that instead (its database is wiped).
# Arguments go to pytest:  bash tests/run.sh -k web -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/browser/setup.sh >&2
if [ -z "${KNOWSYNC_TEST_NEO4J_URL:-}" ]; then
  trap 'bash tests/bolt_server.sh stop' EXIT
  KNOWSYNC_TEST_NEO4J_URL=$(bash tests/bolt_server.sh start)
  export KNOWSYNC_TEST_NEO4J_URL
fi
.venv/bin/python -m pytest -q "$@"
