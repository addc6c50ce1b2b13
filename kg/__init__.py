"""kg: storage. The GraphStore protocol and its backends, the relation schema, import formats."""

from kg._errors import (
    InputError,
    KnowsyncError,
    NotFoundError,
    SchemaError,
    StoreError,
    UnknownRelationError,
)
from kg._names import (
    MAX_NAME_LENGTH,
    MAX_RELATION_LENGTH,
    check_entity_name,
    check_relation_name,
    entity_key,
    relation_key,
)
from kg._schema import Relation, Rule, Schema, SchemaFile
from kg._sqlite import SQLiteStore
from kg._store import GraphStore, GraphTxn, GraphView
from kg._types import (
    Cardinality,
    EditKind,
    EditRecord,
    EditState,
    Entity,
    Fact,
    FactKind,
    Lock,
    TouchKey,
    Triple,
    now_iso,
)
from kg._url import open_store

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_RELATION_LENGTH",
    "Cardinality",
    "EditKind",
    "EditRecord",
    "EditState",
    "Entity",
    "Fact",
    "FactKind",
    "GraphStore",
    "GraphTxn",
    "GraphView",
    "InputError",
    "KnowsyncError",
    "Lock",
    "NotFoundError",
    "Relation",
    "Rule",
    "SQLiteStore",
    "Schema",
    "SchemaError",
    "SchemaFile",
    "StoreError",
    "TouchKey",
    "Triple",
    "UnknownRelationError",
    "check_entity_name",
    "check_relation_name",
    "entity_key",
    "now_iso",
    "open_store",
    "relation_key",
]
