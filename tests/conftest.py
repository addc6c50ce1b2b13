"""Shared fixtures: stores of every backend, a small schema, a knowledge base."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from kg import GraphStore, Relation, Schema, SQLiteStore
from knowsync import KnowSync

# Property tests draw the same examples on every run (seeded from each test), so that the suite
# passes or fails for the code, not for the luck of a draw. Exploring new examples is a
# separate, deliberate run: KNOWSYNC_HYPOTHESIS=explore make test.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("KNOWSYNC_HYPOTHESIS", "repeatable"))

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO / "datasets"
SHARED_DATA = REPO.parent / "shared" / "data"

StoreFactory = Callable[[], GraphStore]

# Every GraphStore backend the contract suite runs against. A backend that needs a server adds
# itself here when its server is configured (see the Neo4j backend's tests).
BACKENDS: dict[str, Callable[[Path], StoreFactory]] = {
    "sqlite-memory": lambda tmp: lambda: SQLiteStore(":memory:"),
    "sqlite-file": lambda tmp: lambda: SQLiteStore(tmp / "kb.db"),
}


NEO4J_URL = os.environ.get("KNOWSYNC_TEST_NEO4J_URL")


def _neo4j(tmp: Path) -> StoreFactory:
    """A wiped test database on the server that KNOWSYNC_TEST_NEO4J_URL names."""
    from kg._neo4j import Neo4jStore

    wipe = Neo4jStore(NEO4J_URL or "")
    with wipe.write() as tx:
        tx._run("MATCH (n) WHERE NOT n:KnowsyncMeta OR n.key <> 'writer' DETACH DELETE n")
    wipe.close()
    return lambda: Neo4jStore(NEO4J_URL or "")


def _neo4j_absent(tmp: Path) -> StoreFactory:
    pytest.skip("no Neo4j/Bolt server: set KNOWSYNC_TEST_NEO4J_URL (make test starts one)")


BACKENDS["neo4j"] = _neo4j if NEO4J_URL else _neo4j_absent


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores of one backend; a file backend reopens the same database."""
    return BACKENDS[request.param](tmp_path)


@pytest.fixture(params=sorted(b for b in BACKENDS if b != "sqlite-memory"))
def persistent_store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores of one backend that keeps its data between connections (reopening, a
    second reader): all but the in-memory one."""
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[GraphStore]:
    s = store_factory()
    yield s
    s.close()


def small_relations() -> list[Relation]:
    return [
        Relation(name="likes"),
        Relation(name="capital", cardinality="one2one", cloze=("The capital of {subject} is",)),
        Relation(name="father", cardinality="many2one"),
        Relation(name="wife", cardinality="one2one", inverse="husband", aliases=("married to",)),
        Relation(name="husband", cardinality="one2one", inverse="wife"),
        Relation(name="spouse", cardinality="one2one", inverse="spouse"),
        Relation(name="child", inverse="parent"),
        Relation(name="parent", inverse="child"),
        Relation(name="president", cardinality="one2one"),
        Relation(name="first_lady", cardinality="one2one", compose=(("president", "wife"),)),
        Relation(name="grandfather", cardinality="many2one", compose=(("father", "father"),)),
    ]


@pytest.fixture
def small_schema() -> Schema:
    return Schema.from_relations(small_relations())


@pytest.fixture(params=["memory", "neo4j"])
def ks(request: pytest.FixtureRequest, small_schema: Schema, tmp_path: Path) -> Iterator[KnowSync]:
    """A knowledge base with only the small test schema, in memory and on the Bolt server."""
    if request.param == "neo4j":
        store: GraphStore | str = (_neo4j if NEO4J_URL else _neo4j_absent)(tmp_path)()
    else:
        store = "memory://"
    k = KnowSync(store)
    k.load_schema(small_schema, replace=True)
    yield k
    k.close()


@pytest.fixture
def demo_ks(tmp_path: Path) -> Iterator[KnowSync]:
    """A file-backed knowledge base with the bundled demo KG and schema."""
    k = KnowSync(str(tmp_path / "demo.db"))
    for name in ("kg.csv", "kg2.csv"):
        k.import_file(DATASETS / "oneedit" / name, user="demo")
    yield k
    k.close()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any, *, log_level: str = "critical") -> Iterator[str]:
    """``app`` (ASGI) served by uvicorn in a thread on a free loopback port, with its lifespan;
    yields its URL and stops it on exit."""
    import uvicorn

    before = set(threading.enumerate())
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="knowsync-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        _stop_worker_threads(set(threading.enumerate()) - before)


def _stop_worker_threads(threads: set[threading.Thread]) -> None:
    """Stop the thread-pool workers a stopped server left behind, and collect what they held.

    AnyIO's workers (where a server runs its blocking handlers) outlive the server's event loop
    by up to ten idle seconds and hold it; freed later, the loop's ResourceWarning was raised
    in whichever test happened to collect it. Stopped (the server's other threads given five
    seconds to end) and collected here, nothing of one server outlives its test."""
    workers = [t for t in threads if t.is_alive() and t.name == "AnyIO worker thread"]
    for worker in workers:
        queue = getattr(worker, "queue", None)
        if queue is not None:
            with contextlib.suppress(Exception):
                queue.put(None, timeout=1)  # a worker ends on None
    deadline = time.monotonic() + 5  # and give the server's other threads a moment to end
    for leftover in threads:
        leftover.join(
            timeout=max(0.0, deadline - time.monotonic()) if leftover not in workers else 10
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
