"""The public surface is pinned: a change to it is a decision, made here."""

from __future__ import annotations

import controller
import kg
import knowsync


def test_knowsync_exports() -> None:
    assert set(knowsync.__all__) == {
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
    }


def test_every_exported_name_exists() -> None:
    for module in (knowsync, kg, controller):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_errors_share_one_root() -> None:
    for name in (
        "InputError",
        "NotFoundError",
        "SchemaError",
        "StoreError",
        "UnknownRelationError",
        "EditRefused",
        "RollbackRefused",
    ):
        assert issubclass(getattr(knowsync, name), knowsync.KnowsyncError)
