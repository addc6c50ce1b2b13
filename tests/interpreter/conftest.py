"""The demo knowledge base, loaded once per test session (read-only for these tests), and the
local model backend, warmed up once per session for the tests that use the real model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interpreter import Interpreter, LocalModelBackend
from kg import GraphView, Schema
from knowsync import KnowSync
from knowsync._resources import demo_kg_files


@pytest.fixture(scope="session")
def demo() -> Iterator[KnowSync]:
    ks = KnowSync("memory://")
    for path in demo_kg_files():
        ks.import_file(path, user="demo")
    yield ks
    ks.close()


@pytest.fixture
def view(demo: KnowSync) -> Iterator[GraphView]:
    with demo.store.read() as v:
        yield v


@pytest.fixture(scope="session")
def schema(demo: KnowSync) -> Schema:
    return demo.schema


@pytest.fixture(scope="session")
def interp(schema: Schema) -> Interpreter:
    return Interpreter(schema, backend="rules")


@pytest.fixture(scope="session")
def local_backend() -> LocalModelBackend:
    """The real local model (``editor.shared_model()``), loaded and prefixed once."""
    backend = LocalModelBackend()
    backend.warm_up()
    return backend
