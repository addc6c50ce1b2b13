"""Which prompts about a subject's other knowledge its entry keeps as the base model answers
them: relations the graph holds nothing for, never one of the subject's own prompts, a fixed
number, chosen the same way every time (no model needed)."""

from __future__ import annotations

from pathlib import Path

from kg import Schema
from knowsync._model_side import KEEP_PER_SUBJECT, _keep_templates

SCHEMA = Schema.load(Path(__file__).resolve().parents[1] / "datasets" / "oneedit" / "schema.json")


def _own(relations: set[str]) -> set[str]:
    out: set[str] = set()
    for name in relations:
        rel = SCHEMA.find(name)
        assert rel is not None
        out.update(t.replace("{subject}", "{}") for t in rel.cloze_templates())
    return out


def test_keep_prompts_avoid_what_the_graph_says_of_the_subject() -> None:
    held = {"wife", "born_in", "father"}
    keep = _keep_templates(SCHEMA, "Barack_Obama", held)
    assert len(keep) == KEEP_PER_SUBJECT
    assert not set(keep) & _own(held)  # "{} is married to" (wife's) is never kept
    assert all("{}" in t for t in keep)


def test_the_choice_is_fixed_and_varies_by_subject() -> None:
    one = _keep_templates(SCHEMA, "Barack_Obama", {"wife"})
    assert one == _keep_templates(SCHEMA, "Barack_Obama", {"wife"})
    others = {_keep_templates(SCHEMA, name, {"wife"}) for name in ("France", "Joe_Biden", "Rome")}
    assert len(others | {one}) > 1


def test_a_relation_held_drops_out_of_the_choice() -> None:
    keep = _keep_templates(SCHEMA, "Barack_Obama", set())
    first = keep[0]
    rel = next(
        r for r in SCHEMA.relations if r.cloze_templates()[0].replace("{subject}", "{}") == first
    )
    assert first not in _keep_templates(SCHEMA, "Barack_Obama", {rel.name})
