"""What an edit method computes: low-rank weight deltas, not yet applied.

A :class:`WeightUpdate` maps parameter names to :class:`LowRankDelta` factors in the parameter's
*storage* orientation, so that whoever applies it (the ledger) needs no architecture knowledge:
``parameter += left @ right``.

The product is materialised as an ordered sum of outer products,
``sum_j outer(left[:, j], right[j, :])``. Each outer product is exact elementwise multiplication
and the additions happen in a fixed order, so the dense delta is bit-for-bit the same on every
machine and thread count, unlike a BLAS matmul. That is what makes rollback reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from editor._arch import ArchitectureSpec
from editor._errors import EditComputationError

__all__ = ["LowRankDelta", "WeightUpdate", "temporarily_applied"]


@dataclass(frozen=True)
class LowRankDelta:
    """``delta = left @ right`` with ``left: (rows, r)`` and ``right: (r, cols)``, float32, CPU."""

    left: torch.Tensor
    right: torch.Tensor

    def __post_init__(self) -> None:
        if self.left.ndim != 2 or self.right.ndim != 2 or self.left.shape[1] != self.right.shape[0]:
            raise EditComputationError(
                f"low-rank factors do not compose: {tuple(self.left.shape)} @ "
                f"{tuple(self.right.shape)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the dense delta."""
        return (int(self.left.shape[0]), int(self.right.shape[1]))

    @property
    def rank(self) -> int:
        """Number of rank-one terms."""
        return int(self.left.shape[1])

    @classmethod
    def from_math(
        cls, spec: ArchitectureSpec, left: torch.Tensor, right: torch.Tensor
    ) -> LowRankDelta:
        """Factors of a math-orientation delta ``ΔW = left @ right`` (``d_model x d_ff``),
        converted to the storage orientation of the architecture's edited matrix."""
        left = left.detach().to("cpu", torch.float32).contiguous()
        right = right.detach().to("cpu", torch.float32).contiguous()
        if spec.mlp_out_transposed:  # (L R)^T = R^T L^T
            return cls(right.T.contiguous(), left.T.contiguous())
        return cls(left, right)

    def is_finite(self) -> bool:
        """True when no factor holds a NaN or an infinity."""
        return bool(torch.isfinite(self.left).all() and torch.isfinite(self.right).all())

    def dense(self) -> torch.Tensor:
        """The delta as a dense float32 CPU tensor, by a fixed-order sum of outer products."""
        out = torch.zeros(self.shape, dtype=torch.float32)
        for j in range(self.rank):
            out.add_(torch.outer(self.left[:, j], self.right[j, :]))
        return out


@dataclass(frozen=True)
class WeightUpdate:
    """The result of an edit method's computation.

    Attributes:
        deltas: parameter name -> low-rank delta (storage orientation).
        method: the method's name.
        info: small JSON-serialisable facts about the computation (losses, timings, layers).
        tensors: extra tensors a method reads back from ``ctx.history`` later (AlphaEdit's keys).
    """

    deltas: Mapping[str, LowRankDelta]
    method: str
    info: Mapping[str, Any] = field(default_factory=dict)
    tensors: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def check_against(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """Validate names, shapes and finiteness against ``model``; return the parameters.

        Raises:
            EditComputationError: for an unknown parameter, a shape mismatch or a NaN/inf.
        """
        params = dict(model.named_parameters())
        out = {}
        for name, delta in self.deltas.items():
            if name not in params:
                raise EditComputationError(f"update names unknown parameter {name!r}")
            if tuple(params[name].shape) != delta.shape:
                raise EditComputationError(
                    f"update for {name!r} has shape {delta.shape}, "
                    f"parameter has {tuple(params[name].shape)}"
                )
            if not delta.is_finite():
                raise EditComputationError(f"update for {name!r} is not finite")
            out[name] = params[name]
        return out


@contextmanager
def temporarily_applied(model: nn.Module, update: WeightUpdate) -> Iterator[None]:
    """Apply ``update`` for the duration of the block, then restore the exact prior tensors.

    Used inside a method's computation (MEMIT's layer-by-layer solve) so that computing an edit
    still leaves the model exactly as it was found.
    """
    params = update.check_against(model)
    saved = {name: p.detach().clone() for name, p in params.items()}
    try:
        with torch.no_grad():
            for name, p in params.items():
                p.add_(update.deltas[name].dense().to(p.device, p.dtype))
        yield
    finally:
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(saved[name])
