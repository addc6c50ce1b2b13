"""Pins the editor's public surface: every private module declares ``__all__`` and the package
re-exports exactly the union."""

from __future__ import annotations

import importlib
import pkgutil

import editor

# editor._graph (the graph writer) belongs to the symbolic-core work and is imported from there
# directly; whether the package re-exports it is decided with that work.
NOT_PINNED_HERE = {"_graph"}
PRIVATE_MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(editor.__path__)
    if m.name.startswith("_") and m.name not in NOT_PINNED_HERE
)


def test_every_private_module_declares_all_and_is_reexported() -> None:
    exported: set[str] = set()
    for name in PRIVATE_MODULES:
        module = importlib.import_module(f"editor.{name}")
        assert hasattr(module, "__all__"), name
        exported |= set(module.__all__)
    # helpers kept module-level but deliberately not part of the package surface
    internal = {
        "EncodedCloze",
        "encode_cloze",
        "optimize_value",
        "read_at_subject",
        "rewriting_templates",
        "target_token_ids",
        "compute_key",
        "compute_left",
        "compute_keys",
        "spread_over_layers",
        "primary_tensor",
        "replace_primary",
        "frozen_parameters",
        "file_sha256",
        "state_fingerprint",
        "DEFAULT_MODEL_DISTRIBUTION",
    }
    assert set(editor.__all__) == exported - internal
    for name in editor.__all__:
        assert getattr(editor, name) is not None


def test_errors_root_in_knowsync_error() -> None:
    from kg._errors import KnowsyncError

    for cls in (
        editor.ModelLoadError,
        editor.UnsupportedArchitectureError,
        editor.EditComputationError,
        editor.LedgerError,
    ):
        assert issubclass(cls, editor.EditorError)
    assert issubclass(editor.EditorError, KnowsyncError)
