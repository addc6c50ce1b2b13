"""The subject router: each subject's shift added exactly where the input names it, and
nowhere else (tiny llama, word-level tokenizer)."""

from __future__ import annotations

import copy

import pytest
import torch
from tests_editor_helpers import logits_of, save_tiny_llama, token_ids

from editor import LoadedModel, SubjectRouter


def _greedy(loaded: LoadedModel, prompt: torch.Tensor) -> torch.Tensor:
    return loaded.model.generate(  # type: ignore[no-any-return]
        input_ids=prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=4,
        do_sample=False,
        pad_token_id=0,
    )


def test_a_prompt_without_a_subject_runs_the_base_model_bit_for_bit(loaded) -> None:  # type: ignore[no-untyped-def]
    before = logits_of(loaded, "The capital of France is Paris")
    router = SubjectRouter(loaded, layer=1)
    router.set(["Alice", "Bob"], torch.randn(2, 32) * 5)
    assert torch.equal(logits_of(loaded, "The capital of France is Paris"), before)


def test_the_shift_lands_at_the_subjects_last_token_only(loaded) -> None:  # type: ignore[no-untyped-def]
    text = "The wife of Bob is Carol"
    before = logits_of(loaded, text)
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32) * 5)
    after = logits_of(loaded, text)
    col = router.matches(token_ids(loaded, text)[0].tolist())
    assert col == [(3, "Bob")]
    # causal: positions before the subject are untouched, from the subject on they change
    assert torch.equal(after[:3], before[:3])
    assert not torch.allclose(after[3:], before[3:])


def test_longest_name_wins_and_every_occurrence_is_found(loaded) -> None:  # type: ignore[no-untyped-def]
    router = SubjectRouter(loaded, layer=1)
    router.set(["Paris", "France Paris"], torch.zeros(2, 32))
    ids = token_ids(loaded, "Paris is near France Paris")[0].tolist()
    assert router.matches(ids) == [(0, "Paris"), (4, "France Paris")]


def test_clear_disabled_and_remove_give_the_base_model(loaded) -> None:  # type: ignore[no-untyped-def]
    text = "The wife of Bob is Carol"
    base = logits_of(loaded, text)
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32) * 5)
    with router.disabled():
        assert torch.equal(logits_of(loaded, text), base)
    assert not torch.equal(logits_of(loaded, text), base)
    router.clear()
    assert torch.equal(logits_of(loaded, text), base)
    router.set(["Bob"], torch.randn(1, 32) * 5)
    router.remove()
    assert torch.equal(logits_of(loaded, text), base)


def test_a_copy_of_the_model_carries_no_router(loaded) -> None:  # type: ignore[no-untyped-def]
    text = "The wife of Bob is Carol"
    base = logits_of(loaded, text)
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32) * 5)
    work = copy.deepcopy(loaded.model)
    with torch.no_grad():
        out = work(input_ids=token_ids(loaded, text)).logits[0]
    assert torch.equal(out, base)


def test_cached_generation_matches_a_full_forward(loaded) -> None:  # type: ignore[no-untyped-def]
    """Token by token with a cache, every generated token is what a full forward over the
    sequence so far (the router applied to all of it) predicts."""
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32) * 5)
    prompt = token_ids(loaded, "The wife of Bob is")
    n = prompt.shape[1]
    with torch.no_grad():
        out = _greedy(loaded, prompt)
        with router.disabled():
            base = _greedy(loaded, prompt)
        for i in range(n, out.shape[1]):
            full = loaded.model(input_ids=out[:, :i]).logits[0, -1]
            assert int(full.argmax()) == int(out[0, i])
    assert not torch.equal(out, base)


def test_a_name_completed_by_generated_tokens_is_found(loaded) -> None:  # type: ignore[no-untyped-def]
    """A two-token name whose second token arrives in a cached step is still matched."""
    router = SubjectRouter(loaded, layer=1)
    shift = torch.randn(1, 32) * 5
    router.set(["France Paris"], shift)
    ids = token_ids(loaded, "The capital France Paris is")
    with torch.no_grad():
        whole = loaded.model(input_ids=ids).logits[0, -1]
        first = loaded.model(input_ids=ids[:, :3], use_cache=True)
        step = loaded.model(input_ids=ids[:, 3:], cache=first.cache, use_cache=True).logits[0, -1]
    assert torch.allclose(whole, step, atol=1e-5)


def test_a_table_of_the_wrong_shape_is_refused(loaded) -> None:  # type: ignore[no-untyped-def]
    router = SubjectRouter(loaded, layer=1)
    with pytest.raises(ValueError, match="2 subjects need 2 shifts"):
        router.set(["Alice", "Bob"], torch.zeros(3, 32))


def test_an_exported_memory_loads_back_and_answers_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from editor import MEMORY_FILES, load_exported, load_model

    folder = save_tiny_llama(tmp_path / "tiny")
    loaded = load_model(folder)
    text = "The wife of Bob is Carol"
    base = logits_of(loaded, text)
    router = SubjectRouter(loaded, layer=2)
    router.set(["Bob", "Alice"], torch.randn(2, 32) * 5)
    routed = logits_of(loaded, text)
    assert not torch.equal(routed, base)
    router.save(folder)
    assert all((folder / name).is_file() for name in MEMORY_FILES)

    exported = load_exported(folder)
    assert exported.router is not None
    assert exported.router.subjects == ("Bob", "Alice") and exported.router.layer == 2
    assert torch.equal(logits_of(exported.loaded, text), routed)  # bit for bit
    assert torch.equal(
        logits_of(exported.loaded, "The capital of France is Paris"),
        logits_of(loaded, "The capital of France is Paris"),
    )
    exported.router.remove()
    assert torch.equal(logits_of(exported.loaded, text), base)  # the weights alone: no memory

    plain = save_tiny_llama(tmp_path / "plain")
    assert load_exported(plain).router is None


def test_a_gate_travels_with_the_memory(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from editor._gate import build_gate

    gate = build_gate(torch.randn(6, 16), 3, [torch.randn(2, 16)], [[0]], margin=0.25, floor=-0.5)
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32), gate)
    router.save(tmp_path)
    again = SubjectRouter.installed(loaded, tmp_path)
    assert again.gate is not None
    assert (again.gate.margin, again.gate.floor) == (0.25, -0.5)
    for name, value in gate.tensors().items():
        assert torch.equal(again.gate.tensors()[name], value), name
    assert torch.equal(again.shifts, router.shifts)  # type: ignore[arg-type]


def test_a_memory_that_does_not_fit_the_model_is_refused(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from editor import ModelLoadError

    with pytest.raises(ModelLoadError, match="cannot read the subject memory"):
        SubjectRouter.installed(loaded, tmp_path)
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob"], torch.randn(1, 32))
    path = router.save(tmp_path)
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "layer": 99}))
    with pytest.raises(ModelLoadError, match="for layer 99; this model has"):
        SubjectRouter.installed(loaded, tmp_path)
    path.write_text(json.dumps({**meta, "subjects": ["Bob", "Carol"]}))
    with pytest.raises(ModelLoadError, match="shifts of shape"):
        SubjectRouter.installed(loaded, tmp_path)
    path.write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(ModelLoadError, match="is not a knowsync-subject-memory/1 file"):
        SubjectRouter.installed(loaded, tmp_path)
