from __future__ import annotations

import pytest
import torch

from editor import StopForward, Trace, TraceDict, architecture_for


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_trace_retains_and_unregisters(model_factory, tokenizer) -> None:
    model = model_factory("llama")
    spec = architecture_for(model)
    ids = tokenizer("Alice is born in Paris", return_tensors="pt")["input_ids"]
    with torch.no_grad(), Trace(model, spec.mlp_out_name(0), retain_input=True) as trace:
        model(input_ids=ids)
        assert _hook_count(model) == 1
    assert trace.input is not None and trace.input.shape[-1] == spec.key_size(model)
    assert _hook_count(model) == 0


def test_hooks_removed_when_block_raises(model_factory) -> None:
    model = model_factory("gpt2")
    spec = architecture_for(model)
    names = [spec.mlp_out_name(i) for i in range(3)]
    with pytest.raises(RuntimeError, match="boom"), TraceDict(model, names):
        assert _hook_count(model) == 3
        raise RuntimeError("boom")
    assert _hook_count(model) == 0


def test_tracedict_partial_failure_unregisters(model_factory) -> None:
    model = model_factory("llama")
    spec = architecture_for(model)
    with pytest.raises(Exception, match="not found"):
        TraceDict(model, [spec.mlp_out_name(0), "no.such.module"])
    assert _hook_count(model) == 0


def test_edit_output_changes_logits_and_stop_forward(model_factory, tokenizer) -> None:
    model = model_factory("gpt_neox")
    spec = architecture_for(model)
    ids = tokenizer("Bob speaks German", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        base = model(input_ids=ids).logits
        with Trace(model, spec.mlp_out_name(1), edit_output=lambda out, _n: out * 0):
            zeroed = model(input_ids=ids).logits
        assert not torch.allclose(base, zeroed)
        with Trace(model, spec.layer_name(0), stop=True) as trace, pytest.raises(StopForward):
            model(input_ids=ids)
        assert trace.output is not None and trace.output.shape[-1] == 32
        again = model(input_ids=ids).logits
    assert torch.equal(base, again)
