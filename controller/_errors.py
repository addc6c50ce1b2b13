"""Errors of the controller layer."""

from __future__ import annotations

from kg import KnowsyncError

__all__ = ["ControllerError", "EditRefused", "RollbackRefused"]


class ControllerError(KnowsyncError):
    """A decision of the controller that stops an operation."""


class EditRefused(ControllerError):
    """An edit that the rules refuse (contradiction, protection, unknown fact).

    Attributes:
        reasons: one sentence per reason.
        edit_id: the journal entry that records the refusal, when there is one.
    """

    def __init__(self, reasons: list[str], edit_id: int | None = None) -> None:
        super().__init__("; ".join(reasons) if reasons else "edit refused")
        self.reasons = reasons
        self.edit_id = edit_id


class RollbackRefused(ControllerError):
    """A rollback refused because later edits depend on the edit.

    Attributes:
        edit_id: the edit asked to be rolled back.
        dependants: ids of later edits in force that build on it, oldest first.
        blocked: why a cascade could not undo them (a redo whose replay is refused), or None.
    """

    def __init__(self, edit_id: int, dependants: list[int], blocked: str | None = None) -> None:
        ids = ", ".join(str(d) for d in dependants)
        if blocked is None:
            message = (
                f"edit {edit_id} cannot be rolled back alone: later edits {ids} depend "
                "on it; roll those back first, or ask for a cascade"
            )
        else:
            message = (
                f"edit {edit_id} cannot be rolled back, not even in a cascade: undoing "
                f"the later edits {ids} is refused ({blocked})"
            )
        super().__init__(message)
        self.edit_id = edit_id
        self.dependants = dependants
        self.blocked = blocked
