"""Answering a question the interpreter read: from the facts in force, and from the model.

- ``(subject, relation)`` and walks (``QueryIntent.path``: "the wife of the president of
  America" is ``president`` then ``spouse`` from ``America``): the graph's answer is reached by
  walking the facts in force hop by hop; the answer carries every fact walked (``chain``), and
  when a hop has no fact, which one (``missing``: "the graph has no `spouse` for Joe_Biden").
- ``(relation, object)`` ("whose wife is Jill Biden?"): the subjects holding it.
- ``subject`` alone ("what do you know about Joe Biden?"): the entity's facts in force, as
  subject and as object.

With a model attached, its answer is shown beside the graph's: ``model`` from its weights alone
(the cloze of each hop, each answered by the model, its own answer taken as the next hop's
subject), and for a walk ``model_in_context`` (the graph's facts of the hops before the last
stated before the last hop's cloze). Nothing here writes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from interpreter import QueryIntent
from kg import GraphView, Schema
from knowsync._outcomes import Answer

__all__ = ["ABOUT_LIMIT", "FANOUT", "cloze", "graph_answer", "names_one_of", "with_model_answer"]

FANOUT = 25  # entities followed per hop of a walk
ABOUT_LIMIT = 200  # facts listed for "what do you know about X?"


def graph_answer(intent: QueryIntent, view: GraphView) -> Answer:
    """The graph's answer to one question, read on one snapshot of the graph."""
    subject = intent.subject.name if intent.subject is not None else None
    obj = intent.object.name if intent.object is not None else None
    path = list(intent.path)
    answer = Answer(intent.question, subject=subject, relation=intent.relation, path=path)
    if subject is not None and path:
        _walk(answer, view, subject, path)
    elif obj is not None and intent.relation is not None:
        answer.facts = view.facts(relation=intent.relation, object=obj)
        answer.graph = [f.subject for f in answer.facts]
    elif subject is not None:
        _about(answer, view, subject)
    else:
        answer.unclear = {
            "missing": "entity",
            "message": "Which entity is the question about?",
            "suggestions": [],
        }
    return answer


def with_model_answer(answer: Answer, model: Any, schema: Schema) -> Answer:
    """``answer`` with the model's answers beside the graph's (see the module docstring), and
    whether they agree; unchanged without a model or a relation asked about.

    Args:
        answer: the graph's answer (``graph_answer``).
        model: the model side (``answer(prompt)``, and ``cloze`` or ``cloze_for``), or None.
        schema: the relation library (for the cloze prompts).
    """
    if model is not None and answer.subject is not None and answer.path:
        _ask_model(answer, model, schema, answer.subject, answer.path)
    if answer.model is not None and answer.graph:
        answer.agree = names_one_of(answer.model, answer.graph)
    return answer


def _walk(answer: Answer, view: GraphView, subject: str, path: Sequence[str]) -> None:
    """Walk ``path`` from ``subject`` over the facts in force, recording every fact walked."""
    frontier = [subject]
    for hop, relation in enumerate(path, 1):
        facts = [f for entity in frontier for f in view.facts(subject=entity, relation=relation)]
        if not facts:
            names = ", ".join(frontier)
            answer.missing = {
                "hop": hop,
                "subject": list(frontier),
                "relation": relation,
                "message": f"the graph has no `{relation}` for {names}",
            }
            answer.graph = []
            return
        answer.facts.extend(facts)
        answer.chain.extend(
            {"hop": hop, "subject": f.subject, "relation": f.relation, "object": f.object}
            for f in facts
        )
        frontier = list(dict.fromkeys(f.object for f in facts))[:FANOUT]
        answer.graph = frontier


def _about(answer: Answer, view: GraphView, subject: str) -> None:
    """Every fact in force about ``subject``, as subject then as object."""
    facts = view.facts(subject=subject, limit=ABOUT_LIMIT)
    facts += view.facts(object=subject, limit=max(0, ABOUT_LIMIT - len(facts)))
    answer.facts = facts
    if not facts:
        answer.missing = {
            "hop": 0,
            "subject": [subject],
            "relation": None,
            "message": f"the graph has no facts about {subject}",
        }


def _ask_model(answer: Answer, model: Any, schema: Schema, subject: str, path: list[str]) -> None:
    """The model's answers: hop by hop from its weights, and (for a walk the graph could
    follow to its last hop) with the graph's earlier facts stated in context."""
    current = subject
    said: str | None = None
    for relation in path:
        prompt = cloze(model, schema, current, relation)
        if not prompt:
            return
        said = str(model.answer(prompt)).strip() or None
        if said is None:
            break
        current = said
    answer.model = said
    if len(path) < 2:
        return
    last_hop = [c for c in answer.chain if c["hop"] == len(path) - 1]
    if len(last_hop) != 1:
        return  # the graph did not reach one entity before the last hop
    context = []
    for step in answer.chain:
        if step["hop"] < len(path):
            stated = cloze(model, schema, step["subject"], step["relation"])
            if stated:
                context.append(f"{stated} {_display(step['object'])}.")
    prompt = cloze(model, schema, last_hop[0]["object"], path[-1])
    if prompt:
        answer.model_in_context = str(model.answer(" ".join([*context, prompt]))).strip() or None


def cloze(model: Any, schema: Schema, subject: str, relation: str) -> str | None:
    """The model side's cloze prompt for (subject, relation), from its own ``cloze`` (or
    ``cloze_for``) when it has one, else from the relation's first template."""
    if hasattr(model, "cloze"):
        prompt = model.cloze(subject, relation)
        return None if prompt is None else str(prompt)
    if hasattr(model, "cloze_for"):
        prompt = model.cloze_for(schema, subject, relation)
        return None if prompt is None else str(prompt)
    rel = schema.find(relation)
    if rel is None or not rel.cloze:
        return None
    return rel.cloze[0].replace("{subject}", _display(subject))


def _display(entity: str) -> str:
    return entity.replace("_", " ")


def _fold(text: str) -> str:
    """A name or answer for comparison: lower case, underscores and punctuation as spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def names_one_of(answer: str, objects: Sequence[str]) -> bool:
    """Whether the model's answer names one of the graph's objects (as whole words)."""
    said = f" {_fold(answer)} "
    return any(f" {_fold(o)} " in said for o in objects if _fold(o))
