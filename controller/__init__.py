"""controller: the rules of the house. Decides what edits, imports and rollbacks change;
writes nothing itself."""

from controller._controller import Controller, RawTriple, Resolved, RollbackStep
from controller._errors import ControllerError, EditRefused, RollbackRefused
from controller._plan import ConflictPolicy, Overlay, Plan, Planner, Supersession
from controller._refusal import Refusal, RefusalKind, refusal_report, refusals_of
from controller._toxic import ToxicFilter, ToxicVerdict, Verdict

__all__ = [
    "ConflictPolicy",
    "Controller",
    "ControllerError",
    "EditRefused",
    "Overlay",
    "Plan",
    "Planner",
    "RawTriple",
    "Refusal",
    "RefusalKind",
    "Resolved",
    "RollbackRefused",
    "RollbackStep",
    "Supersession",
    "ToxicFilter",
    "ToxicVerdict",
    "Verdict",
    "refusal_report",
    "refusals_of",
]
