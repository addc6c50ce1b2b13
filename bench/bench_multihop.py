"""Multi-hop questions answered from the graph, end to end through the Python API, on MQuAKE.

For each case: a fresh knowledge base (the embedded store in a temporary folder, the MQuAKE
schema ``datasets/mquake/schema.json``) holding the case's original triples (with
``--distractors``, also the other cases' original triples that do not contradict them); the
case's edits stated as sentences through ``Session.submit`` (the rewrite's prompt filled with
the subject and the new object: "Hey Jude was performed by Madonna."); then the case's three
multi-hop questions through ``Session.ask``. The graph's answer is right when it is exactly one
entity, the case's new answer (or one of its aliases). A case counts when any of its questions
is right, as MQuAKE counts.

Printed: per case and per question, the accuracy of the graph's answer; how many edits were
read as the rewrite's own fact and applied; the one-hop questions of each case's new chain
(``new_single_hops``, worded by MQuAKE's question templates) asked of the edited graph;
interpreter time per question (``KnowSync.parse``, p50/p95) and the whole ``ask`` (p50/p95).

Then MQuAKE's own examples of each relation (``original_prompts/rel-prompts.json``: "Q: Who
performed Dear Prudence? A: The Beatles", real names none of the cases use), one knowledge
base per relation holding its examples' facts: each example's question asked as written, and
four of them stated anew with the relation's cloze template ("Dear Prudence was performed by
Zorbo Quist."): how many are answered, and read and applied as that fact.

No model is needed. ``--model default`` (or a model path) attaches the model to every case's
knowledge base (one copy loaded for the run; each case's knowledge base brings it into
agreement with its own facts in force, as ``knowsync serve`` does, and gives it back at the
end), and adds per question and per case the accuracy of the model's answer from its weights
alone (the cloze of each hop answered by the model, its answer the next hop's subject) and of
the model with the graph's facts of the earlier hops stated before the last hop's cloze. A
model answer is right when it names the new answer or one of its aliases as whole words. The
entries the model's view is made of are cached in ``--cache`` (default: a temporary folder),
so a second run computes none. With a model, one case takes 15-35 s on 2 cores: use
``--limit``.

Usage (from the repository root)::

    python bench/bench_multihop.py
    python bench/bench_multihop.py --cases held_out.json --distractors
    python bench/bench_multihop.py --limit 20 --verbose
    python bench/bench_multihop.py --skip 50     # cases 50-99 only
    python bench/bench_multihop.py --model default --limit 10 --cache /tmp/mh-cache
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowsync import KnowSync  # noqa: E402
from knowsync._session import Session  # noqa: E402

DEFAULT_CASES = Path("/work/shared/data/mquake/mquake_hard_dev100.json")
SCHEMA = ROOT / "datasets" / "mquake" / "schema.json"
USER = "mquake"


def _name(label: str) -> str:
    """An entity label as a graph name (the graph's convention joins words with underscores)."""
    return "_".join(label.split())


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def _triples(case: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The case's original triples, with the schema's relation names."""
    out = []
    for (_, pid, _), (s, _, o) in zip(
        case["orig"]["triples"], case["orig"]["triples_labeled"], strict=True
    ):
        out.append((_name(s), pid, _name(o)))
    return out


def _sentence(rewrite: dict[str, Any]) -> str:
    """An edit as a person would state it: the rewrite's prompt, filled."""
    return f"{rewrite['prompt'].format(rewrite['subject'])} {rewrite['target_new']['str']}."


def _read_triples(sub: Any) -> list[tuple[str, str, str]]:
    """The triples a submission was read as, names folded."""
    return [
        (_fold(t["subject"]["name"]), t["relation"], _fold(t["object"]["name"]))
        for t in sub.intent.get("triples", [])
    ]


def _names(said: str | None, wanted: set[str]) -> bool:
    """Whether a model's answer names one of ``wanted`` (folded) as whole words."""
    if not said:
        return False
    text = f" {_fold(said)} "
    return any(f" {w} " in text for w in wanted if w)


def _model_sides(args: argparse.Namespace) -> Any:
    """A maker of one model side per case (all on one loaded copy of the model), or None."""
    if not args.model:
        return None
    from editor import shared_model
    from knowsync._model_side import ModelSide

    loaded = shared_model(None if args.model == "default" else args.model)
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp()) / "entries"
    return lambda: ModelSide(loaded, cache_root=cache)


def relation_examples(prompts_dir: Path) -> dict[str, Any]:
    """One-hop questions and edits on MQuAKE's examples of each relation (see the module
    docstring): answered and applied counts, and what went wrong."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    by_pid = {r["description"].split()[1]: r["name"] for r in schema["relations"]}
    examples = json.loads((prompts_dir / "rel-prompts.json").read_text(encoding="utf-8"))
    clozes = json.loads((prompts_dir / "cloze_templates.json").read_text(encoding="utf-8"))
    questions = json.loads((prompts_dir / "question_templates.json").read_text(encoding="utf-8"))
    asked = answered = stated = applied = 0
    wrong: list[str] = []
    for pid, text in sorted(examples.items()):
        if pid not in by_pid or pid not in questions or pid not in clozes:
            continue
        relation = by_pid[pid]
        shape = re.escape(questions[pid]).replace(re.escape("[X]"), "(.+?)")
        found = []
        for question, answer in re.findall(r"Q: (.*?) A: (.*?)(?:\n|$)", text):
            m = re.fullmatch(shape, question)
            if m is not None:
                found.append((m.group(1), question, answer))
        if not found:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            ks = KnowSync(f"sqlite:///{tmp}/kb.db", schema=SCHEMA)
            try:
                ks.edit([(_name(x), relation, _name(a)) for x, _, a in found], user="examples")
                session = Session(ks, USER)
                for _, question, answer in found:
                    asked += 1
                    got = session.ask(question)
                    if len(got.graph) == 1 and _fold(got.graph[0]) == _fold(answer):
                        answered += 1
                    else:
                        wrong.append(f"question {question!r}: {got.graph or got.missing}")
                for subject, _, _ in found[:4]:
                    stated += 1
                    sentence = clozes[pid].replace("[X]", subject).replace("__", "Zorbo Quist")
                    sub = session.submit(f"{sentence.strip()}.", new_names=True)
                    read = _read_triples(sub)
                    if sub.decision == "accepted" and read == [
                        (_fold(subject), relation, "zorbo quist")
                    ]:
                        applied += 1
                    else:
                        wrong.append(f"edit {sentence!r}: {sub.decision} {sub.reason or ''}")
            finally:
                ks.close()
    return {
        "questions": asked,
        "answered": answered,
        "edits": stated,
        "applied": applied,
        "wrong": wrong,
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))
    cases = cases[args.skip :]
    if args.limit:
        cases = cases[: args.limit]
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    by_pid = {
        r["description"].split()[1]: r["name"] for r in schema["relations"] if r["description"]
    }
    every = [[(s, by_pid[p], o) for s, p, o in _triples(c)] for c in cases]
    parse_s: list[float] = []
    ask_s: list[float] = []
    right_q = right_c = questions = edits_read = edits_total = clarified = 0
    model_right = in_context_right = single_right = single_model_right = singles = 0
    model_cases = in_context_cases = 0
    rows = []
    sides = _model_sides(args)
    for number, case in enumerate(cases):
        case_started = time.perf_counter()
        own = every[number]
        facts = list(own)
        if args.distractors:
            taken = {(s, r) for s, r, _ in own}
            taken |= {
                (_name(w["subject"]), by_pid[w["relation_id"]]) for w in case["requested_rewrite"]
            }
            for other, triples in enumerate(every):
                if other == number:
                    continue
                for s, r, o in triples:
                    if (s, r) not in taken:  # one object per (subject, relation): no contradiction
                        taken.add((s, r))
                        facts.append((s, r, o))
        with tempfile.TemporaryDirectory() as tmp:
            side = sides() if sides is not None else None
            ks = KnowSync(f"sqlite:///{tmp}/kb.db", schema=SCHEMA, model=side)
            try:
                ks.edit(facts, user="mquake-original")
                session = Session(ks, USER)
                for rewrite in case["requested_rewrite"]:
                    edits_total += 1
                    # MQuAKE's edits name new objects by design (a counterfactual's target is
                    # often not in the case's graph): the person confirms new names up front
                    sub = session.submit(_sentence(rewrite), new_names=True)
                    if sub.decision == "needs_clarification":
                        # "did you mean <a known name>?": the person means the name as written
                        as_written = [s for s in sub.suggestions if '"' in s]
                        if as_written:
                            clarified += 1
                            sub = session.submit(as_written[-1], new_names=True)
                    wanted_fact = (
                        _fold(rewrite["subject"]),
                        by_pid[rewrite["relation_id"]],
                        _fold(rewrite["target_new"]["str"]),
                    )
                    read = _read_triples(sub)
                    ok = sub.decision == "accepted" and read == [wanted_fact]
                    edits_read += ok
                    if args.verbose and not ok:
                        print(f"  edit not applied: {_sentence(rewrite)!r}: {sub.decision} "
                              f"{read} {sub.reason or sub.question or ''}")  # fmt: skip
                wanted = {_fold(a) for a in [case["new_answer"], *case["new_answer_alias"]]}
                any_right = any_model = any_in_context = False
                for question in case["questions"]:
                    questions += 1
                    started = time.perf_counter()
                    ks.parse(question)
                    parse_s.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    answer = session.ask(question)
                    ask_s.append(time.perf_counter() - started)
                    right = len(answer.graph) == 1 and _fold(answer.graph[0]) in wanted
                    right_q += right
                    any_right |= right
                    by_weights = _names(answer.model, wanted)
                    in_context = _names(answer.model_in_context, wanted)
                    model_right += by_weights
                    in_context_right += in_context
                    any_model |= by_weights
                    any_in_context |= in_context
                    rows.append(
                        {
                            "case": case["case_id"],
                            "question": question,
                            "right": right,
                            "graph": answer.graph,
                            "path": answer.path,
                            "missing": (answer.missing or {}).get("message"),
                            "unclear": (answer.unclear or {}).get("message"),
                            "model": answer.model,
                            "model_in_context": answer.model_in_context,
                        }
                    )
                    if args.verbose and not right:
                        print(f"  [{case['case_id']}] {question}\n      path={answer.path} "
                              f"graph={answer.graph} want={case['new_answer']!r} "
                              f"missing={(answer.missing or {}).get('message')} "
                              f"unclear={(answer.unclear or {}).get('message')}")  # fmt: skip
                right_c += any_right
                model_cases += any_model
                in_context_cases += any_in_context
                # the one-hop questions of the case's new chain, worded by MQuAKE's question
                # templates ("Who performed Hey Jude?"), asked of the edited graph
                for hop in case.get("new_single_hops", []):
                    answer = session.ask(hop["question"])
                    want = {_fold(a) for a in [hop["answer"], *hop.get("answer_alias", [])]}
                    ok = len(answer.graph) == 1 and _fold(answer.graph[0]) in want
                    single_right += ok
                    single_model_right += _names(answer.model, want)
                    singles += 1
                    if args.verbose and not ok:
                        print(f"  [{case['case_id']}] one hop: {hop['question']} "
                              f"path={answer.path} graph={answer.graph} want={hop['answer']!r} "
                              f"missing={(answer.missing or {}).get('message')} "
                              f"unclear={(answer.unclear or {}).get('message')}")  # fmt: skip
            finally:
                ks.close()
        if sides is not None:  # a model run is slow: say where it stands
            took = time.perf_counter() - case_started
            print(f"case {number + 1}/{len(cases)} ({case['case_id']}): {took:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    return {
        "cases": len(cases),
        "questions": questions,
        "question_accuracy": right_q / max(1, questions),
        "case_accuracy": right_c / max(1, len(cases)),
        "one_hop_questions": singles,
        "one_hop_accuracy": single_right / max(1, singles),
        "one_hop_model_accuracy": single_model_right / max(1, singles) if args.model else None,
        "edits_applied": f"{edits_read}/{edits_total}",
        "edits_clarified": clarified,
        "interpreter_ms_p50": 1000 * _percentile(parse_s, 0.5),
        "interpreter_ms_p95": 1000 * _percentile(parse_s, 0.95),
        "ask_ms_p50": 1000 * _percentile(ask_s, 0.5),
        "ask_ms_p95": 1000 * _percentile(ask_s, 0.95),
        "model_question_accuracy": model_right / max(1, questions) if args.model else None,
        "model_case_accuracy": model_cases / max(1, len(cases)) if args.model else None,
        "model_in_context_question_accuracy": (
            in_context_right / max(1, questions) if args.model else None
        ),
        "model_in_context_case_accuracy": (
            in_context_cases / max(1, len(cases)) if args.model else None
        ),
        "mean_interpreter_ms": 1000 * statistics.fmean(parse_s) if parse_s else None,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=str(DEFAULT_CASES), help="a MQuAKE case file (JSON)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N cases")
    parser.add_argument(
        "--limit", type=int, default=0, help="the first N cases only (after --skip)"
    )
    parser.add_argument(
        "--distractors",
        action="store_true",
        help="also hold the other cases' original triples that do not contradict the case's",
    )
    parser.add_argument("--model", default="", help="attach a model (default, a path); optional")
    parser.add_argument("--cache", default="", help="where the model's entries are cached")
    parser.add_argument("--verbose", action="store_true", help="print every wrong answer")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    out = run(args)
    prompts = Path(args.cases).parent / "original_prompts"
    if (prompts / "rel-prompts.json").is_file():
        out["relation_examples"] = relation_examples(prompts)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(
        f"cases: {out['cases']}  questions: {out['questions']}  "
        f"edits applied: {out['edits_applied']} "
        f"({out['edits_clarified']} after confirming a name the linker asked about)"
    )
    print(f"graph answer right, per question: {out['question_accuracy']:.1%}")
    print(f"graph answer right, per case (any of its questions): {out['case_accuracy']:.1%}")
    print(f"one-hop questions of the new chains ({out['one_hop_questions']}), graph answer "
          f"right: {out['one_hop_accuracy']:.1%}")  # fmt: skip
    print(f"interpreter per question: p50 {out['interpreter_ms_p50']:.1f} ms, "
          f"p95 {out['interpreter_ms_p95']:.1f} ms")  # fmt: skip
    print(f"whole ask per question: p50 {out['ask_ms_p50']:.1f} ms, p95 {out['ask_ms_p95']:.1f} ms")
    examples = out.get("relation_examples")
    if examples:
        print(f"MQuAKE's examples of each relation: {examples['answered']}/"
              f"{examples['questions']} questions answered, {examples['applied']}/"
              f"{examples['edits']} edits read and applied")  # fmt: skip
        if args.verbose:
            for line in examples["wrong"]:
                print(f"  {line}")
    if out["model_question_accuracy"] is not None:
        print(f"model from its weights right on the one-hop questions of the new chains: "
              f"{out['one_hop_model_accuracy']:.1%}")  # fmt: skip
        print(f"model from its weights right: per question {out['model_question_accuracy']:.1%}, "
              f"per case {out['model_case_accuracy']:.1%}")  # fmt: skip
        print(f"model with the chain in context right: per question "
              f"{out['model_in_context_question_accuracy']:.1%}, per case "
              f"{out['model_in_context_case_accuracy']:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
