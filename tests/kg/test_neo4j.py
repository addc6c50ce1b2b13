"""The Neo4j backend's own tests, against a real Bolt server (.ci/run starts ArcadeDB, which
speaks Bolt and Cypher; point KNOWSYNC_TEST_NEO4J_URL at a Neo4j 5 to run them there)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kg import StoreError, open_store
from knowsync import KnowSync

from ..conftest import NEO4J_URL, REPO

pytestmark = pytest.mark.skipif(
    not NEO4J_URL, reason="no Neo4j/Bolt server: set KNOWSYNC_TEST_NEO4J_URL (make test starts one)"
)


def _with(url: str, **parts: str) -> str:
    u = urlsplit(url)
    user = parts.get("user", u.username or "")
    password = parts.get("password", u.password or "")
    host = parts.get("host", f"{u.hostname}:{u.port}")
    database = parts.get("database", u.path.strip("/"))
    return f"{u.scheme}://{user}:{password}@{host}/{database}"


def test_wrong_credentials() -> None:
    with pytest.raises(StoreError, match="credentials"):
        open_store(_with(NEO4J_URL or "", password="not-the-password"))


def test_unreachable_host() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match="cannot reach"):
        open_store(_with(NEO4J_URL or "", host=f"127.0.0.1:{port}"))


def test_database_that_does_not_exist() -> None:
    with pytest.raises(StoreError):
        open_store(_with(NEO4J_URL or "", database="no_such_database_here"))


def test_password_is_not_shown_in_the_url() -> None:
    store = open_store(NEO4J_URL)
    assert (urlsplit(NEO4J_URL or "").password or "") not in store.url
    store.close()


def test_graph_is_plain_cypher_readable(demo_neo4j: KnowSync) -> None:
    store = demo_neo4j.store
    with store.read() as view:
        rows = view._run(  # type: ignore[attr-defined]
            "MATCH (:Entity {name: $s})-[f:FACT {relation: 'wife'}]->(o:Entity) "
            "WHERE f.kind = 'asserted' RETURN o.name AS wife",
            s="Barack_Obama",
        )
    assert [r["wife"] for r in rows] == ["Michelle_Obama"]


@pytest.fixture
def demo_neo4j(tmp_path: Path) -> Iterator[KnowSync]:
    from ..conftest import _neo4j

    ks = KnowSync(_neo4j(tmp_path)())
    ks.import_file(REPO / "datasets" / "oneedit" / "kg.csv")
    yield ks
    ks.close()


# --------------------------------------------------------------- a server killed mid-import


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """A second ArcadeDB server of our own, on a data folder that outlives a kill."""

    def __init__(self, data: Path) -> None:
        venv = REPO / ".bolt-server" / "venv"
        found = list(venv.glob("lib/python*/site-packages/arcadedb_embedded"))
        if not found:
            pytest.skip("the ArcadeDB wheel is not installed (tests/bolt_server.sh start does it)")
        self.pkg = found[0]
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.bolt, self.http = _free_port(), _free_port()
        self.password = "kill-test-password"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"bolt://root:{self.password}@127.0.0.1:{self.bolt}/neo4j"

    def start(self) -> None:
        java = self.pkg / "jre" / "bin" / "java"
        self.proc = subprocess.Popen(
            [
                str(java),
                "-Xmx512m",
                f"-Darcadedb.server.rootPath={self.data}",
                f"-Darcadedb.server.databaseDirectory={self.data}/databases",
                f"-Darcadedb.server.rootPassword={self.password}",
                "-Darcadedb.server.httpIncomingHost=127.0.0.1",
                f"-Darcadedb.server.httpIncomingPort={self.http}",
                "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
                "-Darcadedb.bolt.host=127.0.0.1",
                f"-Darcadedb.bolt.port={self.bolt}",
                "-Darcadedb.server.defaultDatabases=neo4j[root]",
                "-cp",
                f"{self.pkg}/jars/*",
                "com.arcadedb.server.ArcadeDBServer",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.data,  # ArcadeDB writes its log/ into the working directory
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                open_store(self.url).close()
                return
            except StoreError:
                time.sleep(0.5)
        raise RuntimeError("the test's Bolt server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.mark.skipif(os.environ.get("KNOWSYNC_SKIP_KILL_TEST") == "1", reason="asked to skip")
def test_server_killed_mid_import_keeps_whole_edits_and_resume_completes(tmp_path: Path) -> None:
    server = _Server(tmp_path / "arcadedb")
    server.start()
    try:
        rows = tmp_path / "rows.csv"
        rows.write_text(
            "head,relation,tail\n"
            + "".join(f"Person_{i},plays_for,Club_{i % 37}\n" for i in range(3000))
        )
        ks = KnowSync(server.url)
        done: list[int] = []

        def progress(n: int) -> None:
            done.append(n)
            if n >= 1000 and server.proc is not None and server.proc.poll() is None:
                server.kill()

        with pytest.raises(StoreError):
            ks.import_file(rows, chunk_size=500, progress=progress)
        ks.close()
        server.start()
        ks = KnowSync(server.url)
        # every applied chunk is whole; nothing of the interrupted one is in force
        for record in ks.history(limit=None):
            added, _ = ks.edit_changes(record.id)
            if record.state.value == "applied":
                assert len(added) == record.report["added"]
            else:
                assert added == []
        assert ks.stats()["asserted"] % 500 == 0
        report = ks.import_file(rows, chunk_size=500)
        assert report.added + report.duplicates == 3000
        assert ks.stats()["asserted"] == 3000
        ks.close()
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
