"""The evaluation module: readers of the three formats, GLAME's composed targets, the value
optimisation with extra targets, and ``evaluate`` on a tiny model (scores, rollback, modes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from tests_editor_helpers import counterfact_records, states_equal

from editor import (
    EditorError,
    EditRequest,
    Hop,
    ModelEditor,
    Rome,
    evaluate,
    mquake_extra_targets,
    propagation_targets,
    read_cases,
    relation_noun,
)
from editor._values import ValueOptimization, optimize_value

COUNTERFACT = [
    {
        "case_id": 7,
        "prompt": "The mother tongue of Danielle Darrieux is",
        "target_new": "English",
        "subject": "Danielle Darrieux",
        "ground_truth": "French",
        "rephrase_prompt": "Where Danielle Darrieux is from, people speak the language of",
        "locality_prompt": "Michel Rocard is a native speaker of",
        "locality_ground_truth": "French",
    },
    {  # subject missing from the prompt: skipped, counted
        "prompt": "The capital of Nowhere is",
        "target_new": "Paris",
        "subject": "Zorland",
        "ground_truth": "Rome",
        "rephrase_prompt": "x",
        "locality_prompt": "y",
        "locality_ground_truth": "z",
    },
]

ZSRE = [
    {
        "subject": "UniFirst",
        "src": "What is the product made by unifirst?",
        "pred": "uniform",
        "rephrase": "What will be the product of UniFirst?",
        "alt": "unmanned aircraft",
        "answers": ["uniform"],
        "loc": "nq question: john goodman's character in the big lebowski",
        "loc_ans": "Walter Sobchak",
    }
]


def _mquake_record() -> dict[str, object]:
    chain = [
        ("Hey Jude", "performer", "Madonna", "{} was performed by", "The Beatles"),
        ("Madonna", "director / manager", "Narendra Modi", "The director of {} is", "Guy"),
        ("Narendra Modi", "country of citizenship", "Australia", "{} is a citizen of", "India"),
        ("Australia", "official language", "Arabic", "The official language of {} is", "English"),
    ]
    return {
        "case_id": 1,
        "requested_rewrite": [
            {
                "prompt": p,
                "subject": s,
                "target_new": {"str": o},
                "target_true": {"str": old},
                "question": f"What is the {rel} of {s}?",
            }
            for s, rel, o, p, old in chain
        ],
        "questions": ['What is the official language of ... "Hey Jude"\'s performer?'],
        "answer": "English",
        "new_answer": "Arabic",
        "new_answer_alias": ["Arabic language"],
        "new_single_hops": [{"cloze": p.format(s), "answer": o} for s, _, o, p, _ in chain],
        "orig": {"new_triples_labeled": [[s, rel, o] for s, rel, o, _, _ in chain]},
    }


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# ---------------------------------------------------------------------------------- readers


def test_read_counterfact(tmp_path: Path) -> None:
    cases, skipped = read_cases(_write(tmp_path, "cf.json", COUNTERFACT), "counterfact")
    assert skipped == 1 and len(cases) == 1
    (case,) = cases
    assert case.case_id == "7"
    (request,) = case.requests
    assert request.prompt == "The mother tongue of {} is" and request.target_true == "French"
    assert request.paraphrases == ()  # the rephrase is held out, never given to the method
    kinds = {p.kind: p for p in case.probes}
    assert kinds["generalization"].prompt.startswith("Where Danielle")
    assert (kinds["locality"].answer, kinds["locality"].competitor) == ("French", "English")


def test_read_zsre_matches_the_subject_case_insensitively(tmp_path: Path) -> None:
    (case,), skipped = read_cases(_write(tmp_path, "z.json", ZSRE), "zsre")
    assert skipped == 0
    (request,) = case.requests
    assert request.subject == "unifirst" and request.prompt == "What is the product made by {}?"
    assert (request.target_new, request.target_true) == ("unmanned aircraft", "uniform")
    loc = next(p for p in case.probes if p.kind == "locality")
    assert loc.prompt.startswith("Question: john goodman") and "nq question" not in loc.prompt


def test_read_mquake_with_and_without_propagation(tmp_path: Path) -> None:
    path = _write(tmp_path, "mq.json", [_mquake_record()])
    (plain,), _ = read_cases(path, "mquake")
    assert len(plain.requests) == 4 and all(not r.extra_targets for r in plain.requests)
    port = [p for p in plain.probes if p.kind == "portability"]
    assert port[0].answer == "Arabic" and port[0].competitor == "English"
    assert port[0].aliases == ("Arabic language",)
    (glame,), _ = read_cases(path, "mquake", propagate=2)
    assert [len(r.extra_targets) for r in glame.requests] == [2, 2, 1, 0]
    # the probes never change with propagation
    assert glame.probes == plain.probes


def test_read_jsonl_offset_limit_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "cf.jsonl"
    path.write_text("\n".join(json.dumps(COUNTERFACT[0] | {"case_id": i}) for i in range(5)))
    cases, _ = read_cases(path, "counterfact", offset=1, limit=2)
    assert [c.case_id for c in cases] == ["1", "2"]
    with pytest.raises(EditorError, match="unknown evaluation format"):
        read_cases(path, "nope")
    with pytest.raises(EditorError, match="no field"):
        read_cases(path, "zsre")
    with pytest.raises(EditorError, match="cannot read"):
        read_cases(tmp_path / "missing.json", "counterfact")
    bad = _write(tmp_path, "bad.json", {"not": "a list"})
    with pytest.raises(EditorError, match="list of JSON objects"):
        read_cases(bad, "counterfact")


# ---------------------------------------------------------------------------------- GLAME


def test_propagation_targets_compose_the_chain() -> None:
    hops = [
        Hop("director / manager", "The director of {} is", "Narendra Modi"),
        Hop("country of citizenship", "{} is a citizen of", "Australia"),
    ]
    assert relation_noun("director / manager") == "director"
    assert propagation_targets("performer", [hops]) == (
        ("The director of the performer of {} is", "Narendra Modi"),
        ("The director of the performer of {} is a citizen of", "Australia"),
    )
    assert propagation_targets("performer", [hops], max_hops=1) == (
        ("The director of the performer of {} is", "Narendra Modi"),
    )
    first = propagation_targets("capital", [[Hop("mayor", "{} has the mayor", "Bob")]])
    assert first == (("The capital of {} has the mayor", "Bob"),)


def test_mquake_extra_targets_follow_the_new_triples_only() -> None:
    targets = mquake_extra_targets(_mquake_record(), max_hops=3)
    assert targets[0][-1] == (
        "The official language of the country of citizenship of the director of the performer "
        "of {} is",
        "Arabic",
    )
    assert targets[3] == ()


def test_request_extra_targets_are_validated_and_optional() -> None:
    plain = EditRequest(prompt="The capital of {} is", subject="Zorland", target_new="Paris")
    assert plain.extra_targets == ()
    r = EditRequest(
        prompt="The capital of {} is",
        subject="Zorland",
        target_new="Paris",
        extra_targets=(("The mayor of the capital of {} is", "Bob"), ("Zorland's king is", "Al")),
    )
    assert r.extra_target_templates()[1] == ("{}'s king is", "Al")
    with pytest.raises(ValidationError):
        EditRequest(prompt="{} is", subject="Z", target_new="P", extra_targets=(("nope", "x"),))
    with pytest.raises(ValidationError):
        EditRequest(prompt="{} is", subject="Z", target_new="P", extra_targets=(("{} a", " "),))


def test_value_optimisation_also_fits_the_extra_targets(edit_context_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = edit_context_factory("llama")
    site = ctx.spec.mlp_out_name(1)
    hp = ValueOptimization(num_grad_steps=15, extra_weight=1.0, early_stop_loss=0.0)
    base = EditRequest(prompt="The capital city of {}", subject="Zorland", target_new="Tokyo")
    extra = base.model_copy(update={"extra_targets": (("The river of {}", "Japanese"),)})
    _, _, plain_info = optimize_value(ctx, base, site, hp)
    _, _, info = optimize_value(ctx, extra, site, hp)
    assert "extra_nll" not in plain_info
    assert info["extra_nll"] < info["extra_nll_before"]
    assert info["nll"] < info["nll_before"]


# ---------------------------------------------------------------------------------- evaluate


def _tiny_cases(tmp_path: Path) -> Path:
    records = counterfact_records([("Zorland", "Tokyo", "Paris"), ("Quxville", "Rome", "Madrid")])
    return _write(tmp_path, "tiny_cf.json", records)


@pytest.fixture
def tiny_editor(edit_context_factory):  # type: ignore[no-untyped-def]
    from editor import LoadedModel

    ctx = edit_context_factory("llama")
    loaded = LoadedModel(ctx.model, ctx.tokenizer, "tiny-llama", ctx.spec, "tiny")
    editor = ModelEditor(loaded, corpus=ctx.stats.corpus, progress=False)
    editor.stats = ctx.stats
    return editor


@pytest.mark.parametrize("mode", ["single", "sequential"])
def test_evaluate_scores_and_restores_the_model(tiny_editor, tmp_path: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    cases, _ = read_cases(_tiny_cases(tmp_path), "counterfact")
    before = copy.deepcopy(tiny_editor.loaded.model.state_dict())
    report = evaluate(tiny_editor, Rome(), cases, mode=mode, progress=False)
    assert states_equal(before, tiny_editor.loaded.model.state_dict())
    assert tiny_editor.ledger.in_force == ()
    assert report.edits == 2 and report.failed_edits == 0 and report.cases == 2
    assert report.scores["efficacy"]["prob"] == 1.0  # a random model still takes the edit
    for kind in ("efficacy", "generalization", "locality"):
        s = report.scores[kind]
        assert s["n"] == 2
        assert 0.0 <= float(s["gen"] or 0) <= 1.0 and 0.0 <= float(s["prob"] or 0) <= 1.0
    assert report.scores["portability"]["n"] == 0
    assert report.rollback_ms_median is not None and report.peak_rss_mb > 0
    data = json.loads(json.dumps(report.to_dict()))
    assert data["mode"] == mode and "locality" not in data["before"]
    assert [d["case_id"] for d in data["details"]] == ["0", "1"]
    probe = data["details"][0]["probes"][0]
    assert probe["kind"] == "efficacy" and probe["answer"] == "Tokyo"
    assert probe["prob"] == 1.0 and isinstance(probe["before"], str) and probe["after"]
    assert any("efficacy" in line for line in report.lines())
    # locality split by how firm the unedited continuation was: every probe in one bin
    by_gap = data["extra"]["locality_by_unedited_gap"]
    assert sum(v["n"] for v in by_gap.values()) == 2
    assert set(by_gap) <= {"<0.1", "0.1-1", ">=1"}
    loc = [p for d in data["details"] for p in d["probes"] if p["kind"] == "locality"]
    assert all(p["gap_before"] >= 0 for p in loc)
    assert any("weakest top-2 gap" in line for line in report.lines())


def test_greedy_gap_is_the_weakest_steps_top_two_margin(tiny_editor) -> None:  # type: ignore[no-untyped-def]
    from editor import ProbeScorer

    model, tok = tiny_editor.loaded.model, tiny_editor.loaded.tokenizer
    text, gap = ProbeScorer(model, tok).greedy_with_gap("The capital city of France", 3)
    ids = torch.tensor([tok("The capital city of France")["input_ids"]])
    gaps = []
    with torch.no_grad():
        for _ in range(3):
            top = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), -1).topk(2)
            gaps.append(float(top.values[0] - top.values[1]))
            ids = torch.cat([ids, top.indices[:1].view(1, 1)], dim=1)
    assert gap == pytest.approx(min(gaps), abs=1e-5)
    assert text == tok.decode(ids[0, -3:])


def test_evaluate_keeps_earlier_edits_in_force(tiny_editor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases, _ = read_cases(_tiny_cases(tmp_path), "counterfact")
    request = EditRequest(prompt="Bob said that {}", subject="Alice", target_new="Japanese")
    tiny_editor.edit(41, Rome(), [request])
    evaluate(tiny_editor, Rome(), cases[:1], progress=False)
    assert tiny_editor.ledger.in_force == (41,)


def test_evaluate_rejects_bad_arguments(tiny_editor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EditorError, match="no evaluation cases"):
        evaluate(tiny_editor, Rome(), [], progress=False)
    with pytest.raises(EditorError, match="unknown mode"):
        evaluate(tiny_editor, Rome(), [object()], mode="batch", progress=False)  # type: ignore[arg-type, list-item]


def test_probe_scorer_greedy_matches_generate(tiny_editor) -> None:  # type: ignore[no-untyped-def]
    from editor import ProbeScorer

    model, tok = tiny_editor.loaded.model, tiny_editor.loaded.tokenizer
    scorer = ProbeScorer(model, tok)
    ids = torch.tensor([tok("The capital city of France")["input_ids"]])
    with torch.no_grad():
        logits_ids = []
        cur = ids
        for _ in range(3):
            nxt = model(input_ids=cur).logits[0, -1].argmax()
            logits_ids.append(int(nxt))
            cur = torch.cat([cur, nxt.view(1, 1)], dim=1)
    assert scorer.greedy("The capital city of France", 3) == tok.decode(logits_ids)


def test_generation_score_accepts_one_leading_article_and_nothing_else() -> None:
    from editor._eval import Probe, _judge

    probe = Probe("efficacy", "Teddy Bridgewater plays as", "midfielder", "quarterback")

    def gen(text: str) -> float | None:
        return _judge(probe, {"text": text, "margin": 1.0}, {"text": "", "margin": -1.0})["gen"]

    assert gen(" midfielder and") == 1.0
    assert gen(" a Midfielder") == 1.0
    assert gen("  the  midfielder") == 1.0
    assert gen(" an midfielder") == 1.0
    assert gen(" a quarterback") == 0.0
    assert gen(" a great midfielder") == 0.0
    assert gen(" the a midfielder") == 0.0
    assert gen(" another midfielder") == 0.0
    locality = Probe("locality", "Al Sears plays", "jazz", "opera")
    judged = _judge(
        locality, {"text": " the jazz", "margin": 1.0}, {"text": " jazz", "margin": 1.0}
    )
    assert judged["gen"] == 0.0  # locality still wants the continuation unchanged


def test_an_error_midway_leaves_the_model_as_found(tiny_editor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases, _ = read_cases(_tiny_cases(tmp_path), "counterfact")
    before = copy.deepcopy(tiny_editor.loaded.model.state_dict())

    class FailsSecond(Rome):
        calls = 0

        def compute(self, ctx, requests):  # type: ignore[no-untyped-def]
            FailsSecond.calls += 1
            if FailsSecond.calls == 2:
                raise RuntimeError("boom")
            return super().compute(ctx, requests)

    with pytest.raises(RuntimeError, match="boom"):
        evaluate(tiny_editor, FailsSecond(), cases, mode="sequential", progress=False)
    assert tiny_editor.ledger.in_force == ()
    assert states_equal(before, tiny_editor.loaded.model.state_dict())


def test_a_request_the_method_cannot_write_counts_as_failed(tiny_editor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from editor import EditComputationError

    cases, _ = read_cases(_tiny_cases(tmp_path), "counterfact")

    class Refuses(Rome):
        def compute(self, ctx, requests):  # type: ignore[no-untyped-def]
            if requests[0].subject == "Quxville":
                raise EditComputationError("no")
            return super().compute(ctx, requests)

    report = evaluate(tiny_editor, Refuses(), cases, progress=False)
    assert (report.edits, report.failed_edits) == (1, 1)


def test_known_cases_keep_what_the_unedited_model_answers(tiny_editor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from editor import ProbeScorer, known_cases

    model, tok = tiny_editor.loaded.model, tiny_editor.loaded.tokenizer
    scorer = ProbeScorer(model, tok)
    # What the (random) model says after each prompt becomes the "old answer" of a known case.
    said = {s: scorer.greedy(f"The capital city of {s}", 1).strip() for s in ("Zorland", "Qux")}
    records = counterfact_records(
        [
            ("Zorland", "Tokyo", said["Zorland"]),
            ("Qux", "Tokyo", "Tokyo" if said["Qux"] != "Tokyo" else "Rome"),
            ("Qux", "Tokyo", said["Qux"]),
        ]
    )
    cases, _ = read_cases(_write(tmp_path, "known.json", records), "counterfact")
    assert [c.case_id for c in known_cases(model, tok, cases)] == ["0", "2"]
    assert [c.case_id for c in known_cases(model, tok, cases, limit=1)] == ["0"]
    # Known on the paraphrase too: its greedy answer must also be the old one. Record 0's
    # paraphrase is its prompt (known); record 1's is a prompt the model answers otherwise.
    other = next(
        q
        for q in (f"In Zorland, {w}" for w in ("the capital", "people say", "we find", "there is"))
        if not scorer.greedy(q, 1).strip().startswith(said["Zorland"])
    )
    both = counterfact_records([("Zorland", "Tokyo", said["Zorland"])] * 2)
    both[0]["rephrase_prompt"] = "The capital city of Zorland"
    both[1]["rephrase_prompt"] = other
    both_cases, _ = read_cases(_write(tmp_path, "both.json", both), "counterfact")
    kinds = ("efficacy", "generalization")
    assert [c.case_id for c in known_cases(model, tok, both_cases, kinds=kinds)] == ["0"]
    assert [c.case_id for c in known_cases(model, tok, both_cases)] == ["0", "1"]
    with pytest.raises(EditorError, match="efficacy and/or generalization"):
        known_cases(model, tok, cases, kinds=("locality",))
    with pytest.raises(EditorError, match="efficacy and/or generalization"):
        known_cases(model, tok, cases, kinds=())
    report = evaluate(tiny_editor, Rome(), cases, progress=False)
    # the unedited model's own answer is recognised on two of the three edit prompts
    assert report.extra["unedited_gen_old"]["efficacy"] == pytest.approx(2 / 3)
    assert any("old answer" in line for line in report.lines())


def test_every_edit_hands_free_heap_back_even_when_it_fails(tiny_editor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import editor._editor as editor_module
    from editor import EditComputationError

    editor_module.release_free_heap()  # the real call works on this platform (or is a no-op)
    calls: list[int] = []
    monkeypatch.setattr(editor_module, "release_free_heap", lambda: calls.append(1))
    request = EditRequest(prompt="The capital city of {}", subject="Zorland", target_new="Tokyo")
    tiny_editor.edit(1, Rome(), [request])

    class Refuses(Rome):
        def compute(self, ctx, requests):  # type: ignore[no-untyped-def]
            raise EditComputationError("no")

    with pytest.raises(EditComputationError):
        tiny_editor.edit(2, Refuses(), [request])
    assert len(calls) == 2 and tiny_editor.ledger.in_force == (1,)
    tiny_editor.rollback(1)
