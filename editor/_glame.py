"""GLAME-style propagation inside an edit (Zhang et al., 2024, "Knowledge Graph Enhanced Large
Language Model Editing"), in its simplest form: extra targets of the value optimisation.

When ``(s, r, o*)`` is written, facts of the new object's neighbourhood ``o* -r1-> o1 -r2-> o2``
should follow for ``s`` too ("the director of the performer of Hey Jude" is now the director of
the new performer). We ask them through *composed prompts* about the edited subject,

    cloze_r1("the r of {}")                 -> o1     ("The director of the performer of {} is")
    cloze_r2("the r1 of the r of {}")       -> o2     ("... the director of the performer of {}")

and add them to the request as ``extra_targets``; the value optimisation then makes the
subject's representation carry the new object's associated knowledge, at the position the method
edits (the subject's last token). The neighbourhood comes from the graph (the controller samples
it); :func:`mquake_extra_targets` builds it from an MQuAKE record's new triples for evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_PROPAGATION_HOPS",
    "Hop",
    "mquake_extra_targets",
    "propagation_targets",
    "relation_noun",
]

#: Hops of the new object's neighbourhood used as extra targets when a caller does not say
#: (0: off). Measured with ROME on MQuAKE-hard cases 0-4 (20 edits, 15 four-hop questions):
#: 3 hops raised the probability-based portability from 0.00 to 0.20 (one case), left the
#: generation-based portability at 0.00, and cost 2.4x the CPU time per edit; too little
#: evidence for the cost, so it is off unless asked for (``--propagate 3``).
DEFAULT_PROPAGATION_HOPS = 0


@dataclass(frozen=True)
class Hop:
    """One fact of the new object's neighbourhood, walked outwards from the new object.

    Attributes:
        relation: the relation's noun label ("country of citizenship", "capital").
        cloze: the relation's cloze template with ``{}`` for its subject ("{} is a citizen of").
        obj: the object of the fact ("Australia").
    """

    relation: str
    cloze: str
    obj: str


def relation_noun(label: str) -> str:
    """A noun phrase for a relation label: the first of alternatives ("director / manager" ->
    "director"), underscores as spaces, lower case."""
    first = label.split("/")[0].replace("_", " ").strip()
    return " ".join(first.split()).lower()


def _fill(cloze: str, phrase: str) -> str:
    """Put a noun phrase (itself holding the ``{}`` slot) into a cloze's slot."""
    if cloze.count("{}") != 1:
        raise ValueError(f"cloze {cloze!r} must hold exactly one '{{}}'")
    if cloze.startswith("{}"):
        phrase = phrase[:1].upper() + phrase[1:]
    before, after = cloze.split("{}")
    return before + phrase + after


def propagation_targets(
    edited_relation: str, paths: Sequence[Sequence[Hop]], *, max_hops: int = 3
) -> tuple[tuple[str, str], ...]:
    """Composed ``(prompt template, target)`` pairs for an edit ``(s, edited_relation, o*)``.

    Args:
        edited_relation: the noun label of the edited relation ("performer").
        paths: paths out of the new object ``o*``, each a sequence of hops.
        max_hops: hops followed along each path.

    Returns:
        Pairs whose prompts have ``{}`` at the edited subject, without duplicates.

    Raises:
        ValueError: when a hop's cloze has no single ``{}``.
    """
    out: dict[str, str] = {}
    for path in paths:
        phrase = f"the {relation_noun(edited_relation)} of {{}}"
        for hop in path[:max_hops]:
            out.setdefault(_fill(hop.cloze, phrase), hop.obj)
            phrase = f"the {relation_noun(hop.relation)} of {phrase}"
    return tuple(out.items())


def _cloze_template(cloze: str, subject: str) -> str | None:
    i = cloze.find(subject)
    if i < 0:
        return None
    return cloze[:i] + "{}" + cloze[i + len(subject) :]


def mquake_extra_targets(
    record: dict[str, Any], *, max_hops: int = 3
) -> list[tuple[tuple[str, str], ...]]:
    """Extra targets for each requested rewrite of an MQuAKE record: the chain of the record's
    *new* triples (``orig.new_triples_labeled``) that starts at the rewrite's new object, with
    each hop's cloze taken from ``new_single_hops`` (the one-hop cloze of that triple). The
    record's multi-hop questions are never used.

    Returns:
        One tuple of ``(prompt template, target)`` per requested rewrite, in order.
    """
    triples = [tuple(t) for t in record.get("orig", {}).get("new_triples_labeled", [])]
    hops = record.get("new_single_hops", [])
    clozes: dict[tuple[str, str], str] = {}
    for (subj, label, _obj), hop in zip(triples, hops, strict=False):
        template = _cloze_template(str(hop.get("cloze", "")), str(subj))
        if template is not None and template.count("{}") == 1:
            clozes[(str(subj), str(label))] = template
    out: list[tuple[tuple[str, str], ...]] = []
    for rw in record.get("requested_rewrite", []):
        subject, new = str(rw["subject"]), str(rw["target_new"]["str"])
        edited = next((t for t in triples if t[0] == subject and t[2] == new), None)
        if edited is None:
            out.append(())
            continue
        path: list[Hop] = []
        current, seen = new, {subject}
        while len(path) < max_hops and current not in seen:
            seen.add(current)
            nxt = next((t for t in triples if t[0] == current), None)
            if nxt is None or (str(nxt[0]), str(nxt[1])) not in clozes:
                break
            path.append(Hop(str(nxt[1]), clozes[(str(nxt[0]), str(nxt[1]))], str(nxt[2])))
            current = str(nxt[2])
        out.append(propagation_targets(str(edited[1]), [path], max_hops=max_hops))
    return out
