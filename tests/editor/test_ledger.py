from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_editor_helpers import random_update, states_equal

import editor._ledger as ledger_mod
from editor import (
    DeltaLedger,
    EditComputationError,
    LedgerError,
    LowRankDelta,
    WeightUpdate,
    architecture_for,
    temporarily_applied,
)


def test_dense_is_exact_for_rank_one_and_close_to_matmul() -> None:
    g = torch.Generator().manual_seed(0)
    left, right = torch.randn(5, 3, generator=g), torch.randn(3, 7, generator=g)
    d = LowRankDelta(left, right)
    torch.testing.assert_close(d.dense(), left @ right)
    one = LowRankDelta(left[:, :1], right[:1])
    assert torch.equal(one.dense(), left[:, :1] * right[:1])
    with pytest.raises(EditComputationError):
        LowRankDelta(left, right.T)


def test_from_math_transposes_for_conv1d(model_factory) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("gpt2")
    spec = architecture_for(model)
    left, right = torch.randn(32, 1), torch.randn(1, spec.key_size(model))
    d = LowRankDelta.from_math(spec, left, right)
    assert d.shape == tuple(spec.mlp_out_weight(model, 0).shape)
    assert torch.equal(d.dense(), (left @ right).T)


def test_temporarily_applied_restores_exactly(model_factory) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("llama")
    before = copy.deepcopy(model.state_dict())
    update = random_update(model, seed=3, layers=(0, 2))
    with temporarily_applied(model, update):
        assert not states_equal(before, model.state_dict())
    assert states_equal(before, model.state_dict())


def test_apply_a_b_rollback_a_equals_fresh_b(model_factory) -> None:  # type: ignore[no-untyped-def]
    a_model, b_model = model_factory("llama"), model_factory("llama")
    a, b = (
        random_update(a_model, seed=1, layers=(1,)),
        random_update(a_model, seed=2, layers=(1, 2)),
    )
    ledger = DeltaLedger(a_model)
    ledger.apply(10, a)
    ledger.apply(11, b)
    ledger.rollback(10)
    fresh = DeltaLedger(b_model)
    fresh.apply(11, b)
    assert states_equal(a_model.state_dict(), b_model.state_dict())
    assert ledger.in_force == (11,)


def test_rolling_back_latest_restores_pre_edit_tensors(model_factory) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("gpt2")
    ledger = DeltaLedger(model)
    ledger.apply(1, random_update(model, seed=1, layers=(0,)))
    snapshot = copy.deepcopy(model.state_dict())
    ledger.apply(2, random_update(model, seed=2, layers=(0, 1)))
    ledger.rollback(2)
    assert states_equal(snapshot, model.state_dict())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_any_rollbacks_equal_a_fresh_run_of_the_rest(model_factory, n: int, data) -> None:  # type: ignore[no-untyped-def]
    """Apply N edits (random layers and ranks), roll back any subset in any order; the weights
    equal, bit for bit, a fresh application of the remaining edits in their original order."""
    model, fresh_model = model_factory("llama", layers=3), model_factory("llama", layers=3)
    updates = [
        random_update(
            model,
            seed=s,
            layers=tuple(data.draw(st.sets(st.integers(0, 2), min_size=1))),
            rank=data.draw(st.integers(1, 3)),
        )
        for s in range(n)
    ]
    ledger = DeltaLedger(model, checkpoint_every=data.draw(st.integers(1, 4)))
    for i, u in enumerate(updates):
        ledger.apply(i, u)
    gone = data.draw(st.lists(st.sampled_from(range(n)), unique=True))
    for i in gone:
        ledger.rollback(i)
    fresh = DeltaLedger(fresh_model)
    for i, u in enumerate(updates):
        if i not in gone:
            fresh.apply(i, u)
    assert ledger.in_force == fresh.in_force
    assert states_equal(model.state_dict(), fresh_model.state_dict())


def test_restart_reloads_base_plus_ledger(model_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("gpt_neox")
    ledger = DeltaLedger(model, tmp_path / "ledger", model_key="k1")
    for i in range(4):
        ledger.apply(i, random_update(model, seed=i, layers=(i % 2, 2)))
    ledger.rollback(1)
    restarted = model_factory("gpt_neox")  # fresh base weights
    again = DeltaLedger(restarted, tmp_path / "ledger", model_key="k1")
    assert again.restore() == (0, 2, 3)
    assert states_equal(model.state_dict(), restarted.state_dict())
    # the rolled-back edit's delta file is kept and readable
    assert again.load_update(1).deltas
    with pytest.raises(LedgerError, match="belongs to model"):
        DeltaLedger(model_factory("gpt_neox"), tmp_path / "ledger", model_key="k2").restore()
    with pytest.raises(LedgerError, match="not the base"):
        DeltaLedger(model, tmp_path / "ledger", model_key="k1").restore()  # already edited


def test_invalid_update_leaves_weights_untouched(model_factory) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("llama")
    before = copy.deepcopy(model.state_dict())
    ledger = DeltaLedger(model)
    good = random_update(model, seed=0, layers=(0,))
    name = next(iter(good.deltas))
    bad_shape = WeightUpdate(
        {
            **good.deltas,
            "model.layers.1.mlp.down_proj.weight": LowRankDelta(torch.ones(3, 1), torch.ones(1, 3)),
        },
        "test",
    )
    nan = WeightUpdate(
        {name: LowRankDelta(torch.full((32, 1), float("nan")), torch.ones(1, 64))}, "test"
    )
    for update in (bad_shape, nan):
        with pytest.raises(EditComputationError):
            ledger.apply(0, update)
    assert states_equal(before, model.state_dict())
    assert ledger.in_force == ()


def test_failure_midway_restores_everything(model_factory, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("llama")
    ledger = DeltaLedger(model, tmp_path / "l")
    ledger.apply(0, random_update(model, seed=0, layers=(0,)))
    before = copy.deepcopy(model.state_dict())
    real_write = DeltaLedger._write_tensors
    calls = {"n": 0}

    def flaky(params, values):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:  # the forward write: copy one tensor, then fail
            first = next(iter(values))
            real_write({first: params[first]}, {first: values[first]})
            raise OSError("disk vanished")
        real_write(params, values)

    monkeypatch.setattr(DeltaLedger, "_write_tensors", staticmethod(flaky))
    with pytest.raises(LedgerError, match="disk vanished"):
        ledger.apply(1, random_update(model, seed=1, layers=(0, 1, 2)))
    assert states_equal(before, model.state_dict())
    assert ledger.in_force == (0,)
    assert not (tmp_path / "l" / "edits" / f"{1:012d}.safetensors").exists()
    monkeypatch.setattr(ledger_mod.DeltaLedger, "_write_tensors", staticmethod(real_write))
    ledger.apply(1, random_update(model, seed=1, layers=(0, 1, 2)))
    assert ledger.in_force == (0, 1)


def test_duplicate_and_unknown_ids(model_factory) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("llama")
    ledger = DeltaLedger(model)
    u = random_update(model, seed=0, layers=(0,))
    ledger.apply(5, u)
    with pytest.raises(LedgerError, match="already"):
        ledger.apply(5, u)
    with pytest.raises(LedgerError, match="not in force"):
        ledger.rollback(6)
