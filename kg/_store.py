"""The ``GraphStore`` protocol: what every storage backend offers.

A store hands out *views* for reading and *transactions* for writing. Exactly one transaction
writes at a time (the store serializes them); any number of views read meanwhile, each seeing a
consistent snapshot. The journal, the locks and the schema live in the same store as the facts,
so one transaction carries a graph change and its journal entry together.

Facts are never deleted: each row is in force from the edit that added it (``valid_from``) until
the edit that retired it (``valid_to``), which gives history and the state "as of edit N".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from kg._schema import Schema
from kg._types import (
    EditKind,
    EditRecord,
    EditState,
    Entity,
    Fact,
    FactKind,
    Lock,
    TouchKey,
    Triple,
)

__all__ = ["GraphStore", "GraphTxn", "GraphView"]


@runtime_checkable
class GraphView(Protocol):
    """Read access to one consistent snapshot of the store."""

    @property
    def schema(self) -> Schema | None:
        """The relation library saved in the store, or None for a new store."""

    def entities(self, names: Iterable[str]) -> dict[str, Entity]:
        """Resolve names (canonical names, spellings of them, or aliases) to entities.

        Returns a mapping from each given name that resolves to its entity; unknown names are
        absent.
        """

    def search_entities(self, text: str, limit: int = 20) -> list[Entity]:
        """Entities whose key starts with or contains the folded text, shortest first."""

    def facts(
        self,
        *,
        subject: str | None = None,
        relation: str | None = None,
        object: str | None = None,
        kinds: Sequence[FactKind] | None = None,
        as_of: int | None = None,
        limit: int | None = None,
    ) -> list[Fact]:
        """Facts in force (or in force just after edit ``as_of``) matching the given parts.

        Entity arguments are canonical names.
        """

    def iter_facts(self, *, as_of: int | None = None) -> Iterator[Fact]:
        """Every fact in force (or in force just after edit ``as_of``), in the order the rows
        were written, read a chunk at a time: memory stays bounded however large the graph.

        The iterator reads through this view: use it while the view is open, in the thread that
        opened it, and run no other query on the view until it is exhausted or closed.
        """

    def match(self, patterns: Iterable[TouchKey]) -> list[Fact]:
        """Facts in force matching any pattern ``(s, r, o)``, where s or o may be None."""

    def count_facts(self) -> dict[str, int]:
        """Counts of facts in force by kind, plus ``entities``."""

    def edit(self, edit_id: int) -> EditRecord:
        """One journal entry.

        Raises:
            NotFoundError: no edit has that id.
        """

    def edits(
        self,
        *,
        entity: str | None = None,
        user: str | None = None,
        kinds: Sequence[EditKind] | None = None,
        states: Sequence[EditState] | None = None,
        since: str | None = None,
        until: str | None = None,
        batch: str | None = None,
        after: int | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> list[EditRecord]:
        """Journal entries matching all given filters. ``entity`` selects edits that changed a
        fact of that entity (as subject or object); ``since``/``until`` are ISO times."""

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        """The fact rows an edit put in force and the rows it retired."""

    def touching(self, keys: Iterable[TouchKey], after: int) -> set[int]:
        """Ids of edits later than ``after`` that changed or read a fact matching any key."""

    def locks(self, entity: str | None = None) -> list[Lock]:
        """Locks, all or those on one entity (entity locks and fact locks with it as subject)."""

    def last_edit_id(self) -> int:
        """The highest journal id, 0 for an empty journal."""

    def doc(self, kind: str, key: str) -> dict[str, Any] | None:
        """A stored document (a JSON object) of the given kind, or None.

        Documents carry the service's own state (accounts, review notes, idempotency keys) in
        the same database and transactions as the graph and the journal."""

    def docs(self, kind: str, *, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The documents of a kind whose key starts with ``prefix``, ordered by key."""


@runtime_checkable
class GraphTxn(GraphView, Protocol):
    """A write transaction: reads see its own writes; all of it commits or none does."""

    def save_schema(self, schema: Schema) -> None: ...

    def create_entities(self, names: Iterable[str]) -> None:
        """Create entities with these canonical names; names whose key exists are ignored."""

    def add_alias(self, entity: str, alias: str) -> None:
        """Make ``alias`` resolve to ``entity``.

        Raises:
            InputError: the alias already names another entity.
            NotFoundError: the entity does not exist.
        """

    def new_edit(
        self,
        kind: EditKind,
        user: str,
        request: dict[str, Any],
        *,
        state: EditState = EditState.PENDING,
        rollback_of: int | None = None,
        batch: str | None = None,
    ) -> int:
        """Append a journal entry and return its id."""

    def update_edit(
        self,
        edit_id: int,
        *,
        state: EditState | None = None,
        report: dict[str, Any] | None = None,
        rolled_back_by: int | None = None,
        clear_rolled_back_by: bool = False,
    ) -> None: ...

    def add_facts(self, facts: Iterable[Fact], edit_id: int) -> None:
        """Put facts in force from ``edit_id`` on. Their entities must exist. Provenance fields
        left empty are filled from the edit."""

    def retire_facts(self, triples: Iterable[Triple], edit_id: int) -> None:
        """Retire the facts in force with these triples as of ``edit_id``."""

    def add_reads(self, edit_id: int, keys: Iterable[TouchKey]) -> None:
        """Record keys an edit depended on without changing them (for rollback dependencies)."""

    def add_lock(
        self, entity: str, relation: str | None, object: str | None, user: str, reason: str
    ) -> Lock: ...

    def remove_lock(self, lock_id: int) -> Lock:
        """Remove a lock and return it.

        Raises:
            NotFoundError: no lock has that id.
        """

    def put_doc(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Create or replace a document."""

    def delete_doc(self, kind: str, key: str) -> bool:
        """Delete a document; returns whether it existed."""


@runtime_checkable
class GraphStore(Protocol):
    """A backend: hands out read views and serialized write transactions."""

    url: str

    def read(self) -> AbstractContextManager[GraphView]: ...

    def write(self) -> AbstractContextManager[GraphTxn]: ...

    def close(self) -> None: ...


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
