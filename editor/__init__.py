"""The editor: writes accepted facts into a language model's weights, reversibly.

Public surface (each name lives in a small private module):

- loading: :func:`load_model`, :class:`LoadedModel`, :func:`cache_dir`, :func:`default_gguf_path`
- architectures: :data:`ARCHITECTURES`, :class:`ArchitectureSpec`, :func:`architecture_for`
- hooks: :class:`Trace`, :class:`TraceDict`
- statistics: :class:`SecondMomentStore`, :class:`Corpus`, :func:`load_corpus`
- methods: :class:`EditMethod`, :class:`EditContext`, :class:`EditRequest`, :class:`Rome`,
  :class:`Memit`, :class:`AlphaEdit`; :class:`ModelEditor` ties model, statistics and ledger
- updates and the ledger: :class:`WeightUpdate`, :class:`LowRankDelta`, :class:`DeltaLedger`
- errors: :class:`EditorError` and subclasses
"""

from __future__ import annotations

from editor._alphaedit import (
    ALPHAEDIT_DEFAULTS,
    AlphaEdit,
    AlphaEditHyperParams,
    null_space_projector,
)
from editor._arch import ARCHITECTURES, ArchitectureSpec, architecture_for, get_module
from editor._common import DEFAULT_CONTEXT_TEMPLATES, ValueOptimization
from editor._editor import ModelEditor
from editor._errors import (
    EditComputationError,
    EditorError,
    LedgerError,
    ModelLoadError,
    UnsupportedArchitectureError,
)
from editor._hooks import StopForward, Trace, TraceDict
from editor._ledger import DeltaLedger
from editor._memit import MEMIT_DEFAULTS, Memit, MemitHyperParams
from editor._model import LoadedModel, cache_dir, default_gguf_path, export_model, load_model
from editor._protocol import EditContext, EditMethod
from editor._request import EditRequest
from editor._rome import ROME_DEFAULTS, Rome, RomeHyperParams
from editor._stats import Corpus, SecondMomentStore, default_corpus_path, load_corpus
from editor._update import LowRankDelta, WeightUpdate, temporarily_applied

__all__ = [
    "ALPHAEDIT_DEFAULTS",
    "ARCHITECTURES",
    "DEFAULT_CONTEXT_TEMPLATES",
    "MEMIT_DEFAULTS",
    "ROME_DEFAULTS",
    "AlphaEdit",
    "AlphaEditHyperParams",
    "ArchitectureSpec",
    "Corpus",
    "DeltaLedger",
    "EditComputationError",
    "EditContext",
    "EditMethod",
    "EditRequest",
    "EditorError",
    "LedgerError",
    "LoadedModel",
    "LowRankDelta",
    "Memit",
    "MemitHyperParams",
    "ModelEditor",
    "ModelLoadError",
    "Rome",
    "RomeHyperParams",
    "SecondMomentStore",
    "StopForward",
    "Trace",
    "TraceDict",
    "UnsupportedArchitectureError",
    "ValueOptimization",
    "WeightUpdate",
    "architecture_for",
    "cache_dir",
    "default_corpus_path",
    "default_gguf_path",
    "export_model",
    "get_module",
    "load_corpus",
    "load_model",
    "null_space_projector",
    "temporarily_applied",
]
