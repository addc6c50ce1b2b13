"""ROME: Rank-One Model Editing (Meng et al., 2022, "Locating and Editing Factual Associations
in GPT").

The MLP output projection ``W`` of one layer is treated as a linear associative memory mapping
keys ``k`` (the MLP's hidden activation at the subject's last token) to values ``v``. ROME inserts
the new association ``(k*, v*)`` with the least change to the keys the model already uses,
measured by ``C = E[k k^T]``:

    minimise ||ΔW K||   subject to   (W + ΔW) k* = v*
    =>  ΔW = (v* - W k*) (C^{-1} k*)^T / ((C^{-1} k*)^T k*)            (ROME eq. 2)

Three steps, one function each: :func:`compute_key` (k*, averaged over context prefixes),
:func:`compute_left` (u = C^{-1} k*), :func:`compute_value` (v*, by optimisation), and the
closed form in :meth:`Rome.compute`. Computing never writes the model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from editor._arch import ArchitectureSpec
from editor._common import read_at_subject
from editor._errors import EditComputationError
from editor._protocol import EditContext
from editor._request import EditRequest
from editor._update import LowRankDelta, WeightUpdate
from editor._values import ValueOptimization, optimize_value

__all__ = ["ROME_DEFAULTS", "Rome", "RomeHyperParams", "compute_key", "compute_left"]


@dataclass(frozen=True)
class RomeHyperParams:
    """ROME's hyperparameters.

    Attributes:
        layer: the decoder block whose MLP output projection is edited.
        value: the value-optimisation settings (shared with MEMIT).
        cov_ridge: relative ridge added to ``C`` before solving (times ``mean(diag(C))``);
            0 is the paper's exact ``C^{-1}``; a small value guards a rank-deficient estimate.
    """

    layer: int
    value: ValueOptimization = field(default_factory=ValueOptimization)
    cov_ridge: float = 1e-6

    @classmethod
    def for_model(cls, spec: ArchitectureSpec, num_layers: int) -> RomeHyperParams:
        """Defaults for an architecture and depth, from :data:`ROME_DEFAULTS`."""
        row = ROME_DEFAULTS.get((spec.family, num_layers)) or ROME_DEFAULTS[(spec.family, None)]
        layer = row.get("layer")
        if layer is None:
            layer = max(0, min(num_layers - 1, round(row["layer_fraction"] * num_layers)))
        value = replace(ValueOptimization(), **row.get("value", {}))
        return cls(layer=int(layer), value=value)


#: Defaults as data: (family, num_layers) for a known checkpoint depth, (family, None) as the
#: fallback, which places the edit at a fraction of the depth (early-middle MLPs hold facts).
ROME_DEFAULTS: dict[tuple[str, int | None], dict[str, Any]] = {
    ("llama", 30): {"layer": 4, "value": {"num_grad_steps": 25, "lr": 0.5}},  # SmolLM2-135M
    ("llama", None): {"layer_fraction": 0.15},
    ("gpt2", 48): {"layer": 17, "value": {"num_grad_steps": 20, "kl_factor": 0.0625}},  # GPT-2 XL
    ("gpt2", None): {"layer_fraction": 0.3},
    ("gpt_neox", None): {"layer_fraction": 0.15},
}


def compute_key(
    ctx: EditContext, request: EditRequest, layer: int, context_templates: Sequence[str]
) -> torch.Tensor:
    """k*: the key at the subject's last token, averaged over the context prefixes (ROME §3.1)."""
    templates = [
        c.replace("{}", request.prompt) if c != "{}" else request.prompt for c in context_templates
    ]
    keys = read_at_subject(
        ctx,
        ctx.spec.mlp_out_name(layer),
        templates,
        [request.subject] * len(templates),
        kind="input",
    )
    return keys.mean(0)


def compute_left(ctx: EditContext, layer: int, k_star: torch.Tensor, ridge: float) -> torch.Tensor:
    """u = C^{-1} k*, solved in float64 (ROME's ``compute_u`` with ``mom2_adjustment``)."""
    cov = ctx.stats.get(layer).to(k_star.device, torch.float64)
    if ridge > 0:
        cov = cov + ridge * cov.diagonal().mean() * torch.eye(
            cov.shape[0], dtype=cov.dtype, device=cov.device
        )
    u: torch.Tensor = torch.linalg.solve(cov, k_star.double()).float()
    return u


class Rome:
    """ROME behind the :class:`~editor.EditMethod` protocol (one request per update).

    Args:
        hparams: hyperparameters; None picks :meth:`RomeHyperParams.for_model` at first use.
    """

    name = "rome"

    def __init__(self, hparams: RomeHyperParams | None = None) -> None:
        self.hparams = hparams

    def resolve(self, ctx: EditContext) -> RomeHyperParams:
        """The hyperparameters in force for this model."""
        if self.hparams is not None:
            return self.hparams
        return RomeHyperParams.for_model(ctx.spec, ctx.spec.num_layers(ctx.model))

    def compute(self, ctx: EditContext, requests: Sequence[EditRequest]) -> WeightUpdate:
        """Compute ROME's rank-one update for exactly one request.

        Raises:
            EditComputationError: for a number of requests other than one, or a failed solve.
        """
        if len(requests) != 1:
            raise EditComputationError(
                f"ROME writes one fact per update, got {len(requests)}; use MEMIT for batches"
            )
        (request,) = requests
        hp = self.resolve(ctx)
        start = time.perf_counter()
        k_star = compute_key(ctx, request, hp.layer, hp.value.context_templates)
        u = compute_left(ctx, hp.layer, k_star, hp.cov_ridge)
        v_star, _, info = optimize_value(ctx, request, ctx.spec.mlp_out_name(hp.layer), hp.value)
        # The association actually inserted is at the bare prompt's key (ROME's compute_v tail).
        k_cur = read_at_subject(
            ctx, ctx.spec.mlp_out_name(hp.layer), [request.prompt], [request.subject], kind="input"
        )[0]
        v_cur = read_at_subject(
            ctx, ctx.spec.mlp_out_name(hp.layer), [request.prompt], [request.subject], kind="output"
        )[0]
        denom = torch.dot(u, k_cur)
        if not torch.isfinite(denom) or denom.abs() < 1e-12:
            raise EditComputationError(f"degenerate key for subject {request.subject!r}")
        # ΔW = (v* - W k) (C^{-1} k*)^T / ((C^{-1} k*)^T k): a rank-one update, r u^T.
        right = (v_star - v_cur) / denom  # d_model
        delta = LowRankDelta.from_math(ctx.spec, right[:, None], u[None, :])
        name = ctx.spec.mlp_out_weight_name(hp.layer)
        info = {**info, "layer": hp.layer, "seconds": time.perf_counter() - start}
        return WeightUpdate(deltas={name: delta}, method=self.name, info=info)
