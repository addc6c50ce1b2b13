"""One contract suite for every ``EditMethod`` on every architecture family, then the
method-specific properties (ROME's insertion, MEMIT's batching, AlphaEdit's null space)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
from tests_editor_helpers import FAMILIES, states_equal

from editor import (
    AlphaEdit,
    AlphaEditHyperParams,
    DeltaLedger,
    EditComputationError,
    EditContext,
    EditMethod,
    EditRequest,
    Memit,
    MemitHyperParams,
    Rome,
    null_space_projector,
)
from editor._common import encode_cloze, read_at_subject, target_token_ids
from editor._values import optimize_value

# The subject ends the prompt: in a random model attention from later tokens back to the
# subject is too diffuse for an edit at the subject to be measurable reliably.
REQUEST = EditRequest(prompt="The capital city of {}", subject="Zorland", target_new="Tokyo")
SECOND = EditRequest(prompt="Bob said that {}", subject="Alice", target_new="Japanese")
METHODS = ("rome", "memit", "alphaedit")


def _alpha_threshold(ctx: EditContext, layer: int) -> float:
    # half of the key space counts as "null" for the tiny model's statistics
    eig = torch.linalg.eigvalsh(ctx.stats.get(layer).double())
    return float(eig[len(eig) // 2])


def make_method(name: str, ctx: EditContext) -> EditMethod:
    """The method with the architecture defaults, except the covariance weights, which are
    scale-dependent and set for the tiny models' statistics."""
    if name == "rome":
        return Rome()
    if name == "memit":
        hp = MemitHyperParams.for_model(ctx.spec, ctx.spec.num_layers(ctx.model))
        return Memit(replace(hp, mom2_update_weight=1.0))
    hp = AlphaEditHyperParams.for_model(ctx.spec, ctx.spec.num_layers(ctx.model))
    return AlphaEdit(replace(hp, nullspace_threshold=_alpha_threshold(ctx, hp.layers[0]), l2=1.0))


def target_logprob(ctx: EditContext, request: EditRequest) -> tuple[float, bool]:
    """log P(first target token | prompt) and whether it is the greedy next token."""
    enc = encode_cloze(ctx.tokenizer, request.prompt, request.subject)
    target = target_token_ids(ctx.tokenizer, request.target_new)[0]
    with torch.no_grad():
        logits = ctx.model(input_ids=torch.tensor([enc.ids])).logits[0, -1]
    logp = torch.log_softmax(logits, -1)
    return float(logp[target]), int(logits.argmax()) == target


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_methods_satisfy_the_protocol() -> None:
    for m in (Rome(), Memit(), AlphaEdit()):
        assert isinstance(m, EditMethod)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method_name", METHODS)
def test_compute_leaves_model_unchanged_and_apply_lands_the_edit(
    edit_context_factory, family: str, method_name: str
) -> None:
    ctx = edit_context_factory(family)
    method = make_method(method_name, ctx)
    before_state = copy.deepcopy(ctx.model.state_dict())
    grads_before = [p.requires_grad for p in ctx.model.parameters()]
    logp_before, _ = target_logprob(ctx, REQUEST)

    update = method.compute(ctx, [REQUEST])

    assert states_equal(before_state, ctx.model.state_dict()), "compute wrote the model"
    assert _hooks(ctx.model) == 0
    assert [p.requires_grad for p in ctx.model.parameters()] == grads_before
    assert update.method == method.name
    edited = {ctx.spec.mlp_out_weight_name(i) for i in range(ctx.spec.num_layers(ctx.model))}
    assert set(update.deltas) <= edited
    update.check_against(ctx.model)

    DeltaLedger(ctx.model).apply(1, update)
    logp_after, greedy = target_logprob(ctx, REQUEST)
    assert logp_after > logp_before + 1.0
    assert greedy, f"{method_name} on {family}: target not the greedy continuation"


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_rome_inserts_exactly_the_optimised_value(edit_context_factory, family: str) -> None:
    """(W + ΔW) k = v*: after the update the MLP output at the subject equals v*, and ΔW is
    rank one."""
    ctx = edit_context_factory(family)
    rome = Rome()
    hp = rome.resolve(ctx)
    site = ctx.spec.mlp_out_name(hp.layer)
    v_star, _, _ = optimize_value(ctx, REQUEST, site, hp.value)
    update = rome.compute(ctx, [REQUEST])
    (delta,) = update.deltas.values()
    assert delta.rank == 1
    DeltaLedger(ctx.model).apply(1, update)
    v_now = read_at_subject(ctx, site, [REQUEST.prompt], [REQUEST.subject], kind="output")[0]
    torch.testing.assert_close(v_now, v_star, rtol=1e-4, atol=1e-4)


def test_rome_takes_one_request(edit_context_factory) -> None:
    ctx = edit_context_factory("llama")
    with pytest.raises(EditComputationError, match="one fact"):
        Rome().compute(ctx, [REQUEST, REQUEST])
    with pytest.raises(EditComputationError):
        Memit().compute(ctx, [])


def test_memit_writes_a_batch(edit_context_factory) -> None:
    ctx = edit_context_factory("llama")
    second = SECOND
    update = make_method("memit", ctx).compute(ctx, [REQUEST, second])
    assert {d.rank for d in update.deltas.values()} == {2}
    DeltaLedger(ctx.model).apply(1, update)
    assert target_logprob(ctx, REQUEST)[1]
    assert target_logprob(ctx, second)[1]


def test_alphaedit_update_spares_the_preserved_keys(edit_context_factory) -> None:
    """ΔW U_keep ≈ 0 for the eigenvectors of C above the null-space threshold."""
    ctx = edit_context_factory("llama")
    method = make_method("alphaedit", ctx)
    assert isinstance(method, AlphaEdit) and method.hparams is not None
    threshold = method.hparams.nullspace_threshold
    update = method.compute(ctx, [REQUEST])
    for layer in method.hparams.layers:
        cov = ctx.stats.get(layer).double()
        eigvals, eigvecs = torch.linalg.eigh(cov)
        keep = eigvecs[:, eigvals >= threshold]
        delta = update.deltas[ctx.spec.mlp_out_weight_name(layer)].dense().double()
        assert (delta @ keep).abs().max() < 1e-5 * max(1.0, float(delta.abs().max()))
        proj = null_space_projector(cov, threshold)
        torch.testing.assert_close(proj @ proj, proj)
    assert f"keys.{method.hparams.layers[0]}" in update.tensors


def test_alphaedit_reads_earlier_edits_from_history(edit_context_factory) -> None:
    ctx = edit_context_factory("llama")
    method = make_method("alphaedit", ctx)
    first = method.compute(ctx, [REQUEST])
    ledger = DeltaLedger(ctx.model)
    ledger.apply(1, first)
    second_req = SECOND
    alone = method.compute(ctx, [second_req])
    with_history = method.compute(replace(ctx, history=(first,)), [second_req])
    name = next(iter(alone.deltas))
    assert not torch.equal(alone.deltas[name].dense(), with_history.deltas[name].dense())
    second_before = target_logprob(ctx, second_req)[0]
    ledger.apply(2, with_history)
    assert target_logprob(ctx, REQUEST)[1], "the earlier edit must survive the later one"
    assert target_logprob(ctx, second_req)[0] > second_before + 1.0


def test_prompt_that_is_only_the_subject(edit_context_factory) -> None:
    ctx = edit_context_factory("llama")
    state = copy.deepcopy(ctx.model.state_dict())
    bad = EditRequest(prompt="{}", subject="Zorland", target_new="Tokyo")
    # a prompt that is the subject alone still works (the key is the subject's last token)
    Rome().compute(ctx, [bad])
    assert states_equal(state, ctx.model.state_dict())


def test_memit_failing_midway_leaves_the_model_exact(edit_context_factory, monkeypatch) -> None:
    """MEMIT applies its earlier layers' updates temporarily while computing later ones; a
    failure at a later layer must still leave every tensor as it was."""
    import editor._memit as memit_mod

    ctx = edit_context_factory("llama")
    state = copy.deepcopy(ctx.model.state_dict())
    real = memit_mod.compute_keys
    calls = {"n": 0}

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected failure at the third layer")
        return real(*args, **kwargs)

    monkeypatch.setattr(memit_mod, "compute_keys", failing)
    with pytest.raises(RuntimeError, match="injected"):
        make_method("memit", ctx).compute(ctx, [REQUEST])
    assert states_equal(state, ctx.model.state_dict())
    assert _hooks(ctx.model) == 0


def test_null_space_by_energy_is_scale_free() -> None:
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(200, 16, generator=g) * torch.linspace(0.01, 3.0, 16)
    cov = keys.T @ keys / 200
    for scale in (1e-4, 1.0, 1e4):
        proj = null_space_projector(cov * scale, threshold=0.0, energy=0.05)
        # the null space holds at most 5% of the key energy, whatever the keys' scale
        held = (keys.double() @ proj).pow(2).sum() / keys.double().pow(2).sum()
        assert float(held) <= 0.05 + 1e-6
        assert int(torch.linalg.matrix_rank(proj)) >= 1
    absolute = null_space_projector(cov * 1e4, threshold=2e-2)
    assert int(torch.linalg.matrix_rank(absolute)) == 0  # the paper's absolute rule: nothing


def test_alphaedit_energy_hyperparameter_reports_its_null_space(edit_context_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = edit_context_factory("llama")
    hp = AlphaEditHyperParams.for_model(ctx.spec, ctx.spec.num_layers(ctx.model))
    method = AlphaEdit(replace(hp, nullspace_energy=0.1, l2=0.1))
    update = method.compute(ctx, [REQUEST])
    dims = update.info["null_space_dims"]
    assert all(0 < d < ctx.spec.key_size(ctx.model) for d in dims.values())
