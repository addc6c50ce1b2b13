"""Helpers shared by the editor tests (imported by name; tests/editor is on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from editor import LowRankDelta, WeightUpdate, architecture_for


def random_update(
    model: nn.Module, *, seed: int, layers: tuple[int, ...], rank: int = 1
) -> WeightUpdate:
    """A random low-rank update of the edited matrices at ``layers``."""
    spec = architecture_for(model)
    g = torch.Generator().manual_seed(seed)
    deltas = {}
    for layer in sorted(layers):
        left = torch.randn(spec.hidden_size(model), rank, generator=g) * 0.1
        right = torch.randn(rank, spec.key_size(model), generator=g) * 0.1
        deltas[spec.mlp_out_weight_name(layer)] = LowRankDelta.from_math(spec, left, right)
    return WeightUpdate(deltas=deltas, method="random", info={"seed": seed})


def states_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    """True when two state dicts hold the same names and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
