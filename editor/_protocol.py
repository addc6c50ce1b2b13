"""The ``EditMethod`` protocol and the context a method computes in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from editor._arch import ArchitectureSpec
from editor._request import EditRequest
from editor._stats import SecondMomentStore
from editor._update import WeightUpdate

__all__ = ["EditContext", "EditMethod"]


@dataclass
class EditContext:
    """Everything a method needs to compute an edit of one model.

    Attributes:
        model: the causal LM, carrying the live weights (base + edits in force).
        tokenizer: its tokenizer.
        spec: the architecture adapter.
        stats: second moments of the base model's keys, per layer.
        history: the updates in force on the model, in the order applied (the ledger's); a
            method that accounts for earlier edits (AlphaEdit) reads what it needs from them.
    """

    model: nn.Module
    tokenizer: Any
    spec: ArchitectureSpec
    stats: SecondMomentStore
    history: Sequence[WeightUpdate] = field(default_factory=tuple)

    @property
    def device(self) -> torch.device:
        """The model's device (methods never assume one)."""
        return next(self.model.parameters()).device


@runtime_checkable
class EditMethod(Protocol):
    """An editing method: computes a weight update and leaves the model exactly unchanged.

    Applying the update is the ledger's job (:class:`editor.DeltaLedger`), never the method's.
    A method keeps no state about edits: what it needs from earlier edits it reads from
    ``ctx.history``, so a rollback or a restart can never leave it out of step.
    """

    name: str

    def compute(self, ctx: EditContext, requests: Sequence[EditRequest]) -> WeightUpdate:
        """Compute the update that writes ``requests`` into the model.

        Raises:
            EditComputationError: when the requests cannot be written (bad input, NaN, ...).
        """
        ...
