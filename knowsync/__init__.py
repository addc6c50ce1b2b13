"""knowsync: a knowledge graph and a language model kept in agreement, edited in plain language.

The composition root: ``KnowSync`` wires the parts; everything users import is re-exported here.
"""

from typing import TYPE_CHECKING

from kg import (
    Cardinality,
    ConflictPolicy,
    EditKind,
    EditRecord,
    EditRefused,
    EditState,
    Fact,
    FactKind,
    InputError,
    KnowsyncError,
    Lock,
    NotFoundError,
    Relation,
    RollbackRefused,
    Schema,
    SchemaError,
    StoreError,
    Triple,
    UnknownRelationError,
    open_store,
)
from knowsync._outcomes import (
    Account,
    Answer,
    AuthError,
    Decision,
    EditResult,
    ImportReport,
    Notice,
    PermissionDenied,
    Role,
    Submission,
)
from knowsync._resources import local_user

if TYPE_CHECKING:
    from knowsync._api import KnowSync
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
    "Notice",
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
    "local_user",
    "open_store",
]


def __getattr__(name: str) -> object:
    # Both halves are imported on first use: the knowledge base itself needs the server stack
    # (rules, interpreter, model), which a client-only install does not have, and working
    # locally needs no HTTP client.
    if name == "KnowSync":
        from knowsync._api import KnowSync

        return KnowSync
    if name == "local_user":
        return local_user
    if name == "Client":
        from knowsync.client import Client

        return Client
    raise AttributeError(f"module 'knowsync' has no attribute {name!r}")
