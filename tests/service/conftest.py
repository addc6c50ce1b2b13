"""Fixtures for the service: a demo knowledge base with accounts of every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from knowsync import KnowSync
from tests.conftest import DATASETS


@dataclass
class FakeModel:
    """A model side that answers from a table: prompt -> completion."""

    answers: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def cloze(self, subject: str, relation: str) -> str | None:
        return f"The {relation} of {subject.replace('_', ' ')} is"

    def answer(self, prompt: str, max_new_tokens: int = 12) -> str:
        self.asked.append(prompt)
        return self.answers.get(prompt, "")

    def release(self) -> None:
        """Nothing to give back (KnowSync.close calls it)."""


ROLES = ("viewer", "editor", "curator", "admin")


def with_accounts(ks: KnowSync) -> dict[str, str]:
    """Accounts named after their roles (plus a second editor, ``editor2``); their tokens."""
    tokens = {}
    for role in ROLES:
        tokens[role] = ks.add_user(role, role)[1]
    tokens["editor2"] = ks.add_user("editor2", "editor")[1]
    return tokens


@pytest.fixture
def demo() -> Iterator[KnowSync]:
    """The bundled demo KG in memory, imported by ``demo``, with accounts of every role."""
    ks = KnowSync("memory://")
    ks.import_file(DATASETS / "oneedit" / "kg.csv", user="demo")
    with_accounts(ks)
    yield ks
    ks.close()


@pytest.fixture
def kb(ks: KnowSync) -> KnowSync:
    """The small test schema on every backend (tests/conftest.py ``ks``), with accounts."""
    with_accounts(ks)
    return ks
