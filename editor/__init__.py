"""The editor: writes accepted facts into a language model's weights, reversibly.

Public surface (each name lives in a small private module):

- loading: :func:`load_model`, :class:`LoadedModel`, :func:`cache_dir`, :func:`default_gguf_path`
- architectures: :data:`ARCHITECTURES`, :class:`ArchitectureSpec`, :func:`architecture_for`
- hooks: :class:`Trace`, :class:`TraceDict`
- statistics: :class:`SecondMomentStore`, :class:`Corpus`, :func:`load_corpus`
- methods: :class:`EditMethod`, :class:`EditContext`, :class:`EditRequest`, :class:`Rome`,
  :class:`Memit`, :class:`AlphaEdit`; :class:`ModelEditor` ties model, statistics and ledger
- the model as a view of the facts in force: :class:`FactMemory`, :class:`FactMemoryParams`,
  :class:`SubjectFacts`, :class:`MemoryEntry` (per-fact values), :class:`SubjectRouter`
  (each fact's value added where the input names its subject and, by the gate
  :class:`GateTable` / :func:`build_gate`, asks its question; or one closed-form solve);
  :func:`load_exported` loads an exported model with its subject memory
- updates and the ledger: :class:`WeightUpdate`, :class:`LowRankDelta`, :class:`DeltaLedger`
- evaluation: :func:`read_cases` (CounterFact, zsRE, MQuAKE), :func:`evaluate`,
  :class:`EvalReport`; GLAME-style propagation targets: :func:`propagation_targets`
- errors: :class:`EditorError` and subclasses
"""

from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives. The package imports nothing until a name is used, so that the
# graph side (the CLI, the service) does not pay for torch when it never touches a model.
_EXPORTS: dict[str, str] = {
    "ALPHAEDIT_DEFAULTS": "_alphaedit",
    "ARCHITECTURES": "_arch",
    "AlphaEdit": "_alphaedit",
    "AlphaEditHyperParams": "_alphaedit",
    "BROAD_CONTEXT_TEMPLATES": "_common",
    "ArchitectureSpec": "_arch",
    "Corpus": "_stats",
    "DEFAULT_CONTEXT_TEMPLATES": "_common",
    "DEFAULT_PROPAGATION_HOPS": "_glame",
    "DeltaLedger": "_ledger",
    "EVAL_FORMATS": "_eval",
    "EditComputationError": "_errors",
    "EditContext": "_protocol",
    "EditMethod": "_protocol",
    "EditRequest": "_request",
    "EditorError": "_errors",
    "EvalCase": "_eval",
    "EvalReport": "_eval",
    "FACT_MEMORY_DEFAULTS": "_memory",
    "FACT_MEMORY_VIEWS": "_memory",
    "FactMemory": "_memory",
    "GATE_FILLERS": "_gate",
    "GateTable": "_gate",
    "build_gate": "_gate",
    "FactMemoryParams": "_memory",
    "Hop": "_glame",
    "LedgerError": "_errors",
    "LoadedModel": "_model",
    "LowRankDelta": "_update",
    "MemoryEntry": "_memory",
    "MEMIT_DEFAULTS": "_memit",
    "Memit": "_memit",
    "MemitHyperParams": "_memit",
    "ModelEditor": "_editor",
    "ModelLoadError": "_errors",
    "Probe": "_eval",
    "ProbeScorer": "_eval",
    "ROME_DEFAULTS": "_rome",
    "SubjectProblem": "_values",
    "SubjectRouter": "_router",
    "ExportedModel": "_router",
    "MEMORY_FILES": "_router",
    "load_exported": "_router",
    "Rome": "_rome",
    "RomeHyperParams": "_rome",
    "SecondMomentStore": "_stats",
    "StopForward": "_hooks",
    "SubjectFacts": "_memory",
    "Trace": "_hooks",
    "TraceDict": "_hooks",
    "UnsupportedArchitectureError": "_errors",
    "ValueOptimization": "_values",
    "WeightUpdate": "_update",
    "architecture_for": "_arch",
    "cache_dir": "_model",
    "default_corpus_path": "_stats",
    "diagnostic_lines": "_eval",
    "default_gguf_path": "_model",
    "evaluate": "_eval",
    "is_cached": "_model",
    "known_cases": "_eval",
    "export_model": "_model",
    "get_module": "_arch",
    "load_corpus": "_stats",
    "load_model": "_model",
    "mquake_extra_targets": "_glame",
    "null_space_projector": "_alphaedit",
    "optimize_subject_value": "_values",
    "optimize_subject_values": "_values",
    "propagation_targets": "_glame",
    "reach_line": "_eval",
    "rotate_prefixes": "_values",
    "read_cases": "_eval",
    "release_free_heap": "_editor",
    "relation_noun": "_glame",
    "says": "_eval",
    "starts_with_answer": "_eval",
    "shared_model": "_model",
    "temporarily_applied": "_update",
}

__all__ = [
    "ALPHAEDIT_DEFAULTS",
    "ARCHITECTURES",
    "BROAD_CONTEXT_TEMPLATES",
    "DEFAULT_CONTEXT_TEMPLATES",
    "DEFAULT_PROPAGATION_HOPS",
    "EVAL_FORMATS",
    "FACT_MEMORY_DEFAULTS",
    "FACT_MEMORY_VIEWS",
    "GATE_FILLERS",
    "MEMIT_DEFAULTS",
    "MEMORY_FILES",
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
    "EvalCase",
    "EvalReport",
    "ExportedModel",
    "FactMemory",
    "FactMemoryParams",
    "GateTable",
    "Hop",
    "LedgerError",
    "LoadedModel",
    "LowRankDelta",
    "Memit",
    "MemitHyperParams",
    "MemoryEntry",
    "ModelEditor",
    "ModelLoadError",
    "Probe",
    "ProbeScorer",
    "Rome",
    "RomeHyperParams",
    "SecondMomentStore",
    "StopForward",
    "SubjectFacts",
    "SubjectProblem",
    "SubjectRouter",
    "Trace",
    "TraceDict",
    "UnsupportedArchitectureError",
    "ValueOptimization",
    "WeightUpdate",
    "architecture_for",
    "build_gate",
    "cache_dir",
    "default_corpus_path",
    "default_gguf_path",
    "diagnostic_lines",
    "evaluate",
    "export_model",
    "get_module",
    "is_cached",
    "known_cases",
    "load_corpus",
    "load_exported",
    "load_model",
    "mquake_extra_targets",
    "null_space_projector",
    "optimize_subject_value",
    "optimize_subject_values",
    "propagation_targets",
    "reach_line",
    "read_cases",
    "relation_noun",
    "release_free_heap",
    "rotate_prefixes",
    "says",
    "shared_model",
    "starts_with_answer",
    "temporarily_applied",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'editor' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"editor.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
