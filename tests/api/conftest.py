"""Fixtures of the HTTP API tests: a knowledge base with one account per role, the app over it
(with a fault hook), a test client, and a live server on a free port."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kg import Schema
from knowsync import KnowSync
from ui.api import create_app

from ..conftest import serving, small_relations

ROLES = ("viewer", "editor", "curator", "admin")


class Faults:
    """A fault hook for ``create_app``: raise a chosen exception at chosen calls of a point
    (counted from 0 per point)."""

    def __init__(self) -> None:
        self.plan: dict[str, dict[int, BaseException]] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fail(self, point: str, calls: range | list[int], exc: BaseException) -> None:
        self.plan.setdefault(point, {}).update({n: exc for n in calls})

    def clear(self) -> None:
        self.plan.clear()

    def __call__(self, point: str) -> None:
        with self._lock:
            n = self.calls[point]
            self.calls[point] += 1
            exc = self.plan.get(point, {}).get(n)
        if exc is not None:
            raise exc


class Env:
    """The knowledge base, its app and one token per account."""

    def __init__(self, kb: KnowSync, faults: Faults) -> None:
        self.kb = kb
        self.faults = faults
        self.tokens: dict[str, str] = {}
        _, self.tokens["admin"] = kb.add_user("admin", "admin")
        for role in ("viewer", "editor", "curator"):
            _, self.tokens[role] = kb.add_user(role, role, by="admin")
        _, self.tokens["other"] = kb.add_user("other", "editor", by="admin")
        _, self.tokens["gone"] = kb.add_user("gone", "editor", by="admin")
        kb.disable_user("gone", by="admin")
        self.app = create_app(kb, web=False, fault=faults)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def kb() -> Iterator[KnowSync]:
    k = KnowSync("memory://")
    k.load_schema(Schema.from_relations(small_relations()), replace=True)
    yield k
    k.close()


@pytest.fixture
def env(kb: KnowSync) -> Env:
    return Env(kb, Faults())


@pytest.fixture
def http(env: Env) -> Iterator[TestClient]:
    # unhandled errors come back as the app's 500 JSON, as a real server sends them
    with TestClient(env.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def live(env: Env) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free loopback port; yields its URL."""
    with serving(env.app) as url:
        yield url


def write_rows(path: Path, n: int, *, bad_every: int = 0) -> list[tuple[str, str, str]]:
    """A CSV of ``n`` distinct rows (``personI likes thingJ``); with ``bad_every``, every
    such row is malformed (two fields). Returns the good triples."""
    good: list[tuple[str, str, str]] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["head", "relation", "tail"])
        for i in range(n):
            if bad_every and i % bad_every == bad_every - 1:
                writer.writerow([f"person{i}", "likes"])
                continue
            triple = (f"person{i}", "likes", f"thing{i % 97}")
            writer.writerow(triple)
            good.append(triple)
    return good
