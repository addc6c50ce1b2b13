from __future__ import annotations

import pytest
import torch
from tests_editor_helpers import FAMILIES

from editor import ARCHITECTURES, UnsupportedArchitectureError, architecture_for, get_module
from editor._hooks import Trace


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_resolves_and_paths_exist(model_factory, family: str) -> None:
    model = model_factory(family)
    spec = architecture_for(model)
    n = spec.num_layers(model)
    assert n == 4
    for layer in range(n):
        get_module(model, spec.mlp_out_name(layer))
        get_module(model, spec.layer_name(layer))
        assert spec.mlp_out_weight_name(layer) in dict(model.named_parameters())
    for path in (spec.embedding, spec.final_norm, spec.lm_head):
        get_module(model, path)
    assert spec.output_head(model) is model.get_output_embeddings()
    assert spec.hidden_size(model) == 32


@pytest.mark.parametrize("family", FAMILIES)
def test_math_orientation_maps_key_to_value(model_factory, tokenizer, family: str) -> None:
    """W (math orientation) times the traced key gives the traced output, for Linear and for
    GPT-2's transposed Conv1D alike."""
    model = model_factory(family)
    spec = architecture_for(model)
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    name = spec.mlp_out_name(1)
    with torch.no_grad(), Trace(model, name, retain_input=True) as trace:
        model(input_ids=ids)
    assert trace.input is not None and trace.output is not None
    module = get_module(model, name)
    w = spec.to_math(spec.mlp_out_weight(model, 1))
    assert w.shape == (spec.hidden_size(model), spec.key_size(model))
    bias = getattr(module, "bias", None)
    expected = trace.input @ w.T + (bias if bias is not None else 0)
    torch.testing.assert_close(expected, trace.output, rtol=1e-5, atol=1e-5)


def test_unknown_architecture_is_refused() -> None:
    import transformers as tf

    model = tf.BertModel(
        tf.BertConfig(
            vocab_size=10,
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
        )
    )
    with pytest.raises(UnsupportedArchitectureError, match="bert"):
        architecture_for(model)


def test_missing_module_path_is_an_editor_error(model_factory) -> None:
    with pytest.raises(UnsupportedArchitectureError):
        get_module(model_factory("llama"), "model.layers.99.mlp")


def test_table_rows_are_distinct() -> None:
    types = [t for spec in ARCHITECTURES for t in spec.model_types]
    assert len(types) == len(set(types))
    assert {"llama", "qwen2", "mistral", "gpt2", "gpt_neox"} <= set(types)
