"""The exception tree of knowsync, rooted here because kg/ is the lowest layer.

::

    KnowsyncError
    ├── InputError               bad input: a name, a triple, a file row, a URL (says what to fix)
    │   └── UnknownRelationError a relation the schema does not know (with the closest ones)
    ├── SchemaError              a relation library that is inconsistent or malformed
    ├── NotFoundError            an edit id, entity or lock that does not exist
    ├── StoreError               the backend failed: cannot open, locked, corrupt, lost connection
    └── (controller) EditRefused, RollbackRefused

Third-party errors (sqlite3, neo4j) are translated into ``StoreError`` in one place per backend.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "KnowsyncError",
    "NotFoundError",
    "SchemaError",
    "StoreError",
    "UnknownRelationError",
]


class KnowsyncError(Exception):
    """Root of every error knowsync raises on purpose."""


class InputError(KnowsyncError, ValueError):
    """Input that cannot be accepted; the message says what to fix.

    Attributes:
        field: the name of the offending field, when there is one.
        line: the 1-based line number in an input file, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message)
        self.field = field
        self.line = line


class UnknownRelationError(InputError):
    """A relation that the schema does not know.

    Attributes:
        relation: the name as given.
        suggestions: the closest known relation names, best first.
    """

    def __init__(self, relation: str, suggestions: list[str]):
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown relation {relation!r}{hint} (add it to the schema, or allow new relations)",
            field="relation",
        )
        self.relation = relation
        self.suggestions = suggestions


class SchemaError(KnowsyncError):
    """A relation library that is malformed or inconsistent."""


class NotFoundError(KnowsyncError, LookupError):
    """Something asked for by id or name does not exist."""


class StoreError(KnowsyncError):
    """The storage backend failed (cannot open, locked, corrupt, connection lost).

    Attributes:
        transient: the same operation may succeed if tried again (a lock held by another
            writer, a deadlock, a leader switch).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
