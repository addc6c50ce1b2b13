"""The public surface is pinned: a change to it is a decision, made here."""

from __future__ import annotations

import controller
import kg
import knowsync


def test_knowsync_exports() -> None:
    assert set(knowsync.__all__) == {
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
