"""The exception tree of knowsync, rooted here because kg/ is the lowest layer.

::

    KnowsyncError
    ├── InputError               bad input: a name, a triple, a file row, a URL (says what to fix)
    │   └── UnknownRelationError a relation the schema does not know (with the closest ones)
    ├── SchemaError              a relation library that is inconsistent or malformed
    ├── NotFoundError            an edit id, entity or lock that does not exist
    ├── StoreError               the backend failed: cannot open, locked, corrupt, lost connection
    ├── ControllerError          a decision of the controller that stops an operation
    │   ├── EditRefused          an edit the rules refuse (contradiction, protection, ...)
    │   └── RollbackRefused      later edits depend on the edit (roll them back, or cascade)
    └── InterpreterError         the interpreter itself failed (not: the sentence was unclear)
        └── BackendError         a chat backend failed or answered outside the schema

Every class is defined here, though ``controller`` and ``interpreter`` re-export their own, so
that the HTTP client raises the same classes without importing the layers that raise them.

Third-party errors (sqlite3, neo4j) are translated into ``StoreError`` in one place per backend.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ControllerError",
    "EditRefused",
    "InputError",
    "InterpreterError",
    "KnowsyncError",
    "NotFoundError",
    "RollbackRefused",
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


class ControllerError(KnowsyncError):
    """A decision of the controller that stops an operation."""


class EditRefused(ControllerError):
    """An edit that the rules refuse (contradiction, protection, unknown fact).

    Attributes:
        reasons: one sentence per reason.
        edit_id: the journal entry that records the refusal, when there is one.
    """

    def __init__(self, reasons: list[str], edit_id: int | None = None) -> None:
        super().__init__("; ".join(reasons) if reasons else "edit refused")
        self.reasons = reasons
        self.edit_id = edit_id


class RollbackRefused(ControllerError):
    """A rollback refused because later edits depend on the edit.

    Attributes:
        edit_id: the edit asked to be rolled back.
        dependants: ids of later edits in force that build on it, oldest first.
        blocked: why a cascade could not undo them (a redo whose replay is refused), or None.
    """

    def __init__(self, edit_id: int, dependants: list[int], blocked: str | None = None) -> None:
        ids = ", ".join(str(d) for d in dependants)
        if blocked is None:
            message = (
                f"edit {edit_id} cannot be rolled back alone: later edits {ids} depend "
                "on it; roll those back first, or ask for a cascade"
            )
        else:
            message = (
                f"edit {edit_id} cannot be rolled back, not even in a cascade: undoing "
                f"the later edits {ids} is refused ({blocked})"
            )
        super().__init__(message)
        self.edit_id = edit_id
        self.dependants = dependants
        self.blocked = blocked


class InterpreterError(KnowsyncError):
    """The interpreter could not do its work (not: the sentence was unclear)."""


class BackendError(InterpreterError):
    """A chat backend failed, ran out of scripted answers, or answered with something that does
    not validate as an intent."""
