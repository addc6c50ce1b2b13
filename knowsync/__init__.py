"""knowsync: a knowledge graph and a language model kept in agreement, edited in plain language.

The composition root: ``KnowSync`` wires the parts; everything users import is re-exported here.
"""

from typing import TYPE_CHECKING

from controller import ConflictPolicy, EditRefused, RollbackRefused
from kg import (
    Cardinality,
    EditKind,
    EditRecord,
    EditState,
    Fact,
    FactKind,
    InputError,
    KnowsyncError,
    Lock,
    NotFoundError,
    Relation,
    Schema,
    SchemaError,
    StoreError,
    Triple,
    UnknownRelationError,
    open_store,
)
from knowsync._api import Decision, EditResult, ImportReport, KnowSync
from knowsync._service import Account, Answer, AuthError, PermissionDenied, Role, Submission

if TYPE_CHECKING:
    from knowsync.client import Client

__version__ = "0.1.0"

__all__ = [
    "Account",
    "Answer",
    "AuthError",
    "Cardinality",
    "Client",
    "ConflictPolicy",
    "Decision",
    "EditKind",
    "EditRecord",
    "EditRefused",
    "EditResult",
    "EditState",
    "Fact",
    "FactKind",
    "ImportReport",
    "InputError",
    "KnowSync",
    "KnowsyncError",
    "Lock",
    "NotFoundError",
    "PermissionDenied",
    "Relation",
    "Role",
    "RollbackRefused",
    "Schema",
    "SchemaError",
    "StoreError",
    "Submission",
    "Triple",
    "UnknownRelationError",
    "__version__",
    "open_store",
]


def __getattr__(name: str) -> object:
    # The HTTP client is imported on first use: httpx is not needed to work locally.
    if name == "Client":
        from knowsync.client import Client

        return Client
    raise AttributeError(f"module 'knowsync' has no attribute {name!r}")
