"""The editor's branch of the exception tree.

::

    KnowsyncError
    └── EditorError                   anything the editor raises on purpose
        ├── ModelLoadError            a model or tokenizer could not be found or loaded
        ├── UnsupportedArchitectureError  no adapter for this model class / model_type
        ├── EditComputationError      an edit could not be computed (bad request, NaN, ...)
        └── LedgerError               the delta ledger is inconsistent, or an apply/rollback failed
"""

from __future__ import annotations

from kg._errors import KnowsyncError

__all__ = [
    "EditComputationError",
    "EditorError",
    "LedgerError",
    "ModelLoadError",
    "UnsupportedArchitectureError",
]


class EditorError(KnowsyncError):
    """Root of every error the editor raises on purpose."""


class ModelLoadError(EditorError):
    """A model, its tokenizer or its cached copy could not be found or loaded."""


class UnsupportedArchitectureError(EditorError):
    """The model's class and ``model_type`` have no entry in the architecture table."""


class EditComputationError(EditorError):
    """An edit could not be computed: an invalid request, or a numerical failure."""


class LedgerError(EditorError):
    """The delta ledger refused an operation or found itself inconsistent."""
