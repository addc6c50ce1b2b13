"""MEMIT: Mass-Editing Memory in a Transformer (Meng et al., 2023).

Many facts at once, spread over several consecutive MLP output projections ``layers``:

1. For each request find ``z_i``, the residual stream after the last layer ``L`` at the
   subject's last token that makes the model produce the new target (value optimisation, as in
   ROME but at the block output).
2. For each layer ``l`` in order, with the updates of the earlier layers in place: the keys
   ``K_l`` (``d_ff x n``) of the requests, the residual ``R = (Z - H_L) / (layers left)`` still
   missing at layer ``L``, and the least-squares update that preserves the corpus keys,

       ΔW_l = R K_l^T (λ C_l + K_l K_l^T)^{-1}                          (MEMIT eq. 14)

   which is stored as the low-rank factors ``R`` and ``((λ C_l + K_l K_l^T)^{-1} K_l)^T``.

The updates of earlier layers are applied only temporarily, inside
:func:`editor.temporarily_applied`, which restores the exact tensors: computing still leaves the
model as it was found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from editor._arch import ArchitectureSpec
from editor._common import read_at_subject
from editor._errors import EditComputationError
from editor._protocol import EditContext
from editor._request import EditRequest
from editor._update import LowRankDelta, WeightUpdate, temporarily_applied
from editor._values import ValueOptimization, optimize_value

__all__ = [
    "MEMIT_DEFAULTS",
    "Memit",
    "MemitHyperParams",
    "compute_keys",
    "spread_over_layers",
]

#: solve(layer, K (d_ff x n), R (d_model x n)) -> (left (d_model x r), right (r x d_ff))
LayerSolve = Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _default_layers(num_layers: int, first_fraction: float, count: int) -> tuple[int, ...]:
    first = max(0, min(num_layers - count, round(first_fraction * num_layers)))
    return tuple(range(first, min(num_layers, first + count)))


@dataclass(frozen=True)
class MemitHyperParams:
    """MEMIT's hyperparameters.

    Attributes:
        layers: the consecutive decoder blocks whose MLP output projections are edited.
        value: value-optimisation settings (the site is the output of ``layers[-1]``).
        mom2_update_weight: λ, the weight of the preserved-key covariance in eq. 14.
    """

    layers: tuple[int, ...]
    value: ValueOptimization = field(default_factory=ValueOptimization)
    mom2_update_weight: float = 15000.0

    @classmethod
    def for_model(cls, spec: ArchitectureSpec, num_layers: int) -> MemitHyperParams:
        """Defaults for an architecture and depth, from :data:`MEMIT_DEFAULTS`."""
        row = MEMIT_DEFAULTS.get((spec.family, num_layers)) or MEMIT_DEFAULTS[(spec.family, None)]
        layers = row.get("layers") or _default_layers(
            num_layers, row["first_fraction"], row["count"]
        )
        value = replace(ValueOptimization(), **row.get("value", {}))
        return cls(
            layers=tuple(layers),
            value=value,
            mom2_update_weight=row.get("mom2_update_weight", 15000.0),
        )


#: Defaults as data, keyed like ROME's. λ = 2000 rather than EasyEdit's Llama 15000: with the
#: latter the reference MEMIT barely lands edits on SmolLM2 (shared/reference/editing-baselines).
MEMIT_DEFAULTS: dict[tuple[str, int | None], dict[str, Any]] = {
    ("llama", 30): {
        "layers": (3, 4, 5, 6, 7),
        "mom2_update_weight": 2000.0,
        "value": {"clamp_norm_factor": 0.75},
    },
    ("llama", None): {"first_fraction": 0.1, "count": 5, "mom2_update_weight": 2000.0},
    ("gpt2", None): {"first_fraction": 0.1, "count": 5, "mom2_update_weight": 20000.0},
    ("gpt_neox", None): {"first_fraction": 0.1, "count": 5, "mom2_update_weight": 15000.0},
}


def compute_keys(
    ctx: EditContext, requests: Sequence[EditRequest], layer: int, context_templates: Sequence[str]
) -> torch.Tensor:
    """K_l: per request, the key at the subject's last token averaged over the context
    prefixes (MEMIT's ``compute_ks``). Returns ``d_ff x n``."""
    templates: list[str] = []
    subjects: list[str] = []
    for request in requests:
        for c in context_templates:
            templates.append(c.replace("{}", request.prompt) if c != "{}" else request.prompt)
            subjects.append(request.subject)
    keys = read_at_subject(ctx, ctx.spec.mlp_out_name(layer), templates, subjects, kind="input")
    return keys.view(len(requests), len(context_templates), -1).mean(1).T


def spread_over_layers(
    ctx: EditContext,
    requests: Sequence[EditRequest],
    layers: Sequence[int],
    value: ValueOptimization,
    solve: LayerSolve,
) -> tuple[dict[str, LowRankDelta], dict[int, torch.Tensor], dict[str, Any]]:
    """Steps 1 and 2 of MEMIT with a pluggable per-layer solve (MEMIT, AlphaEdit).

    Returns:
        ``(deltas, keys_per_layer, info)``; the model is left exactly as found.

    Raises:
        EditComputationError: when a solve yields a non-finite update.
    """
    z_site = ctx.spec.layer_name(layers[-1])
    zs: list[torch.Tensor] = []
    nll_before, nll_after = [], []
    for request in requests:
        z, _, vinfo = optimize_value(ctx, request, z_site, value)
        zs.append(z)
        nll_before.append(vinfo.get("nll_before", float("nan")))
        nll_after.append(vinfo.get("nll", float("nan")))
    z_star = torch.stack(zs, dim=1)  # d_model x n
    deltas: dict[str, LowRankDelta] = {}
    keys_per_layer: dict[int, torch.Tensor] = {}
    for i, layer in enumerate(layers):
        with temporarily_applied(ctx.model, WeightUpdate(deltas=dict(deltas), method="partial")):
            keys = compute_keys(ctx, requests, layer, value.context_templates)
            current = read_at_subject(
                ctx,
                z_site,
                [r.prompt for r in requests],
                [r.subject for r in requests],
                kind="output",
            ).T
        # spread what is still missing at the last layer evenly over the remaining layers
        resid = (z_star - current) / (len(layers) - i)
        left, right = solve(layer, keys, resid)
        delta = LowRankDelta.from_math(ctx.spec, left, right)
        if not delta.is_finite():
            raise EditComputationError(f"layer {layer} update is not finite")
        deltas[ctx.spec.mlp_out_weight_name(layer)] = delta
        keys_per_layer[layer] = keys.detach().cpu()
    info = {"layers": list(layers), "nll_before": nll_before, "nll": nll_after}
    return deltas, keys_per_layer, info


class Memit:
    """MEMIT behind the :class:`~editor.EditMethod` protocol (any number of requests).

    Args:
        hparams: hyperparameters; None picks :meth:`MemitHyperParams.for_model` at first use.
    """

    name = "memit"

    def __init__(self, hparams: MemitHyperParams | None = None) -> None:
        self.hparams = hparams

    def resolve(self, ctx: EditContext) -> MemitHyperParams:
        """The hyperparameters in force for this model."""
        if self.hparams is not None:
            return self.hparams
        return MemitHyperParams.for_model(ctx.spec, ctx.spec.num_layers(ctx.model))

    def compute(self, ctx: EditContext, requests: Sequence[EditRequest]) -> WeightUpdate:
        """Compute MEMIT's update for a batch of requests.

        Raises:
            EditComputationError: for an empty batch or a failed solve.
        """
        if not requests:
            raise EditComputationError("MEMIT needs at least one request")
        hp = self.resolve(ctx)
        start = time.perf_counter()
        covs = ctx.stats.get_many(hp.layers)

        def solve(
            layer: int, keys: torch.Tensor, resid: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            k = keys.double()
            # (λ C + K K^T)^{-1} K, then ΔW = R [(λ C + K K^T)^{-1} K]^T   (eq. 14)
            system = hp.mom2_update_weight * covs[layer].double() + k @ k.T
            adj_k = torch.linalg.solve(system, k)
            return resid.double(), adj_k.T

        deltas, _, info = spread_over_layers(ctx, requests, hp.layers, hp.value, solve)
        info["seconds"] = time.perf_counter() - start
        return WeightUpdate(deltas=deltas, method=self.name, info=info)
