"""knowsync: a knowledge graph and a language model kept in agreement, edited in plain language.

The composition root: ``KnowSync`` wires the parts; everything users import is re-exported here.
"""

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

__version__ = "0.1.0"

__all__ = [
    "Cardinality",
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
    "Relation",
    "RollbackRefused",
    "Schema",
    "SchemaError",
    "StoreError",
    "Triple",
    "UnknownRelationError",
    "__version__",
    "open_store",
]
