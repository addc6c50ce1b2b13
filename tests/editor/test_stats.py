from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests_editor_helpers import corpus_texts

from editor import Corpus, EditorError, SecondMomentStore, architecture_for


def _store(model, tokenizer, root: Path | None, texts: list[str]) -> SecondMomentStore:  # type: ignore[no-untyped-def]
    return SecondMomentStore(
        model,
        tokenizer,
        architecture_for(model),
        "tiny",
        Corpus.from_texts(texts),
        root=root,
        max_tokens=256,
        seq_len=16,
        batch_size=4,
        progress=False,
    )


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_second_moment_matches_direct_computation(
    model_factory, tokenizer, tmp_path, family
) -> None:  # type: ignore[no-untyped-def]
    model = model_factory(family)
    store = _store(model, tokenizer, tmp_path, corpus_texts())
    got = store.get_many([1, 2])
    # direct: feed the same chunks, collect the keys with a plain pre-hook
    spec = architecture_for(model)
    chunks = store._chunks()
    keys: list[torch.Tensor] = []
    handle = model.get_submodule(spec.mlp_out_name(2)).register_forward_pre_hook(
        lambda _m, args: keys.append(args[0].detach().reshape(-1, args[0].shape[-1]))
    )
    try:
        with torch.no_grad():
            model(input_ids=chunks)
    finally:
        handle.remove()
    k = torch.cat(keys).double()
    expected = (k.T @ k / k.shape[0]).float()
    torch.testing.assert_close(got[2], expected, rtol=1e-4, atol=1e-6)
    assert got[1].shape == (spec.key_size(model),) * 2
    assert torch.allclose(got[1], got[1].T)


def test_cached_on_disk_and_keyed_by_corpus(
    model_factory, tokenizer, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    model = model_factory("llama")
    first = _store(model, tokenizer, tmp_path, corpus_texts())
    c = first.get(1)
    assert first.directory is not None and (first.directory / "layer001.safetensors").is_file()

    def no_forward(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(model, "forward", no_forward)
    again = _store(model, tokenizer, tmp_path, corpus_texts())
    assert torch.equal(again.get(1), c)
    other = _store(model, tokenizer, tmp_path, corpus_texts(seed=7))
    assert other.directory != first.directory
    with pytest.raises(AssertionError, match="cache"):
        other.get(1)


def test_too_small_corpus_is_an_error(model_factory, tokenizer) -> None:  # type: ignore[no-untyped-def]
    store = _store(model_factory("llama"), tokenizer, None, ["a b"])
    with pytest.raises(EditorError, match="fewer than"):
        store.get(0)
