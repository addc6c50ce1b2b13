"""How far the model agrees with its graph: ``knowsync model check``.

Measured by greedy generation, never assumed:

- **cloze**: for each (subject, relation) in force, whether the model's greedy continuation of
  the relation's first cloze template starts with one of the graph's objects;
- **paraphrase**: the same on the relation's other templates;
- **locality**: on a fixed set of unrelated facts the unedited model answers right
  (``datasets/probes/locality.jsonl``, from CounterFact), the share it still answers right;
- **same subject**: for the subjects whose facts are in the weights, whether prompts on
  relations the graph holds nothing for (the subject's other knowledge) still get the
  continuation the unedited model gave.

A relation without templates is asked with one made from its name
(:meth:`kg.Relation.cloze_templates`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg import InputError
from knowsync._model_side import display_name
from knowsync._resources import datasets_dir

if TYPE_CHECKING:
    from knowsync._api import KnowSync

__all__ = [
    "RECORDS_KEPT",
    "AgreementReport",
    "check_agreement",
    "check_history",
    "locality_probes",
    "record_check",
]

_MISSES_KEPT = 50
_SAME_SUBJECT_PER = 2
_SAME_SUBJECT_MAX = 200


@dataclass
class _Tally:
    asked: int = 0
    right: int = 0

    def add(self, ok: bool) -> None:
        self.asked += 1
        self.right += ok

    @property
    def share(self) -> float | None:
        return self.right / self.asked if self.asked else None


@dataclass
class AgreementReport:
    """The agreement between the model and the graph (see the module docstring).

    Attributes:
        relations: per relation, ``{"pairs", "cloze", "paraphrase", "paraphrase_asked"}``
            (shares in [0, 1], None when nothing was asked).
        cloze, paraphrase, locality, same_subject: the overall shares (None: nothing asked).
        counts: how many probes of each kind were asked.
        misses: the first disagreements: prompt, the graph's answers, what the model said.
        edits_in_force: journal ids of the edits whose facts are in the weights.
    """

    relations: dict[str, dict[str, Any]] = field(default_factory=dict)
    cloze: float | None = None
    paraphrase: float | None = None
    locality: float | None = None
    same_subject: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    edits_in_force: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cloze": self.cloze,
            "paraphrase": self.paraphrase,
            "locality": self.locality,
            "same_subject": self.same_subject,
            "counts": self.counts,
            "relations": self.relations,
            "misses": self.misses,
            "edits_in_force": self.edits_in_force,
        }

    def lines(self) -> list[str]:
        """The report as lines a person reads."""

        def pct(x: float | None) -> str:
            return "  —  " if x is None else f"{100 * x:5.1f}%"

        c = self.counts
        out = [
            f"cloze agreement       {pct(self.cloze)}  ({c.get('cloze', 0)} subject/relation "
            "pairs in force)",
            f"paraphrase agreement  {pct(self.paraphrase)}  ({c.get('paraphrase', 0)} prompts)",
            f"unrelated locality    {pct(self.locality)}  ({c.get('locality', 0)} probes)",
            f"same-subject locality {pct(self.same_subject)}  ({c.get('same_subject', 0)} "
            f"prompts; {len(self.edits_in_force)} edits in the weights)",
            "",
            f"{'relation':<28} {'pairs':>5} {'cloze':>7} {'paraphr.':>8}",
        ]
        for name, row in sorted(self.relations.items()):
            out.append(
                f"{name:<28} {row['pairs']:>5} {pct(row['cloze']):>7} {pct(row['paraphrase']):>8}"
            )
        if self.misses:
            out += ["", "first disagreements (prompt -> the model; the graph says):"]
            out += [
                f"  {m['prompt']} -> {m['said']!r}; graph: {', '.join(m['graph'])}"
                for m in self.misses[:10]
            ]
        return out


def locality_probes(path: Path | None = None) -> list[tuple[str, str]]:
    """The shipped unrelated-knowledge probes as (prompt, answer).

    Raises:
        InputError: the file cannot be read.
    """
    path = path or datasets_dir() / "probes" / "locality.jsonl"
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the locality probes {path}: {exc}") from exc
    return [(str(r["prompt"]), str(r["answer"])) for r in rows]


def check_agreement(
    ks: KnowSync,
    *,
    relation: str | None = None,
    limit: int | None = None,
    locality: Path | None = None,
    tick: Callable[[int, int], None] | None = None,
) -> AgreementReport:
    """Ask the knowledge base's model about every (subject, relation) in force and report
    where it agrees with the graph.

    Args:
        relation: only this relation (its canonical name or an alias).
        limit: at most this many subject/relation pairs (in a stable order).
        locality: the unrelated probes file (default: the shipped one).
        tick: called with the number of prompts asked so far and the number to ask in all
            (a progress bar with an estimate of the time left).

    Raises:
        InputError: no model is attached, an unknown relation, or a bad limit.
    """
    from editor import ProbeScorer, says

    side = ks.model
    if side is None:
        raise InputError(
            "no model is attached: open the knowledge base with a model (--model default)",
            field="model",
        )
    if limit is not None and limit < 1:
        raise InputError("limit must be at least 1", field="limit")
    schema = ks.schema
    wanted = None
    if relation is not None:
        rel = schema.find(relation)
        if rel is None:
            raise InputError(f"unknown relation {relation!r}", field="relation")
        wanted = rel.name
    graph: dict[tuple[str, str], list[str]] = defaultdict(list)
    for fact in ks.state():
        if wanted is None or fact.relation == wanted:
            graph[(fact.subject, fact.relation)].append(display_name(fact.object))
    pairs = sorted(graph)[:limit] if limit is not None else sorted(graph)
    probes = locality_probes(locality)
    same = _same_subject_prompts(ks, side, graph)
    total = sum(_templates(schema, r) for _, r in pairs) + len(probes) + 2 * len(same)
    scorer = ProbeScorer(side.loaded.model, side.loaded.tokenizer)
    report = AgreementReport(edits_in_force=list(side.in_force))
    asked = 0

    def step() -> None:
        nonlocal asked
        asked += 1
        if tick is not None:
            tick(asked, total)

    def ask(prompt: str, answers: list[str]) -> tuple[bool, str]:
        step()
        result: tuple[bool, str] = says(scorer, prompt, answers)
        return result

    cloze, para = _Tally(), _Tally()
    with side.lock:
        for subject, rel_name in pairs:
            rel = schema.find(rel_name)
            templates = rel.cloze_templates() if rel is not None else ()
            if not templates:
                continue
            row = report.relations.setdefault(
                rel_name, {"pairs": 0, "_cloze": _Tally(), "_para": _Tally()}
            )
            row["pairs"] += 1
            answers = graph[(subject, rel_name)]
            for i, template in enumerate(templates):
                prompt = template.replace("{subject}", display_name(subject))
                ok, said = ask(prompt, answers)
                (cloze if i == 0 else para).add(ok)
                row["_cloze" if i == 0 else "_para"].add(ok)
                if not ok and len(report.misses) < _MISSES_KEPT:
                    report.misses.append({"prompt": prompt, "graph": answers, "said": said})
        local = _Tally()
        for prompt, answer in probes:
            local.add(ask(prompt, [answer])[0])
        report.locality, n_local = local.share, local.asked
        report.same_subject, n_same = _same_subject(side, scorer, same, ask, step)
    for row in report.relations.values():
        row["cloze"], row["paraphrase"] = row["_cloze"].share, row["_para"].share
        row["paraphrase_asked"] = row.pop("_para").asked
        row.pop("_cloze")
    report.cloze, report.paraphrase = cloze.share, para.share
    report.counts = {
        "cloze": cloze.asked,
        "paraphrase": para.asked,
        "locality": n_local,
        "same_subject": n_same,
    }
    return report


def _templates(schema: Any, relation: str) -> int:
    rel = schema.find(relation)
    return len(rel.cloze_templates()) if rel is not None else 0


def _same_subject_prompts(
    ks: KnowSync, side: Any, graph: dict[tuple[str, str], list[str]]
) -> list[str]:
    """Prompts about the subjects in the weights on relations the graph holds nothing for
    (their other knowledge, which the view must leave alone): per subject the first
    :data:`_SAME_SUBJECT_PER` such relations by name, :data:`_SAME_SUBJECT_MAX` in all."""
    if side.generation is None:
        return []
    schema = ks.schema
    held: dict[str, set[str]] = defaultdict(set)
    for subject, relation in graph:
        held[subject].add(relation)
    relations = sorted(r.name for r in schema.relations)
    prompts: list[str] = []
    for subject in sorted(held):
        others = [r for r in relations if r not in held[subject]][:_SAME_SUBJECT_PER]
        for name in others:
            rel = schema.find(name)
            assert rel is not None
            prompts.append(rel.cloze_templates()[0].replace("{subject}", display_name(subject)))
    return prompts[:_SAME_SUBJECT_MAX]


def _same_subject(
    side: Any,
    scorer: Any,
    prompts: list[str],
    ask: Callable[[str, list[str]], tuple[bool, str]],
    step: Callable[[], None],
) -> tuple[float | None, int]:
    """Whether each prompt gets the same continuation (its first words) from the live model
    as from the unedited one."""
    if not prompts:
        return None, 0
    before: list[str] = []
    with side._base_weights():
        for prompt in prompts:
            step()
            before.append(scorer.greedy(prompt, 4))
    tally = _Tally()
    for prompt, base in zip(prompts, before, strict=True):
        words = base.split()
        tally.add(ask(prompt, [" ".join(words[:2])])[0] if words else True)
    return tally.share, tally.asked


# ---------------------------------------------------------------- the record over time

#: Documents of this kind hold one completed check each, keyed by when it finished (ISO time,
#: so that the key order is the time order).
_RECORD_KIND = "agreement"
#: Checks kept; the oldest go first.
RECORDS_KEPT = 500
_MEASURES = ("cloze", "paraphrase", "locality", "same_subject")


def record_check(
    ks: KnowSync,
    report: AgreementReport,
    *,
    user: str,
    relation: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Keep ``report``'s figures in the knowledge base (with who asked, the journal id the
    weights reflected and whether the check covered every fact), dropping the oldest records
    beyond :data:`RECORDS_KEPT`; returns the record."""
    from kg import now_iso

    side = ks.model
    record: dict[str, Any] = {
        "at": now_iso(),
        "by": user,
        "model": side.label if side is not None else None,
        "generation": side.generation if side is not None else None,
        "edits_in_force": len(report.edits_in_force),
        "partial": relation is not None or limit is not None,
        "relation": relation,
        "limit": limit,
        **{m: getattr(report, m) for m in _MEASURES},
        "counts": dict(report.counts),
        "relations": {
            name: {k: row.get(k) for k in ("pairs", "cloze", "paraphrase")}
            for name, row in sorted(report.relations.items())
        },
    }
    with ks.store.write() as tx:
        tx.put_doc(_RECORD_KIND, record["at"], record)
        keys = [k for k, _ in tx.docs(_RECORD_KIND)]
        for key in keys[: max(0, len(keys) - RECORDS_KEPT)]:
            tx.delete_doc(_RECORD_KIND, key)
    return record


def check_history(ks: KnowSync, limit: int = 100) -> list[dict[str, Any]]:
    """The last ``limit`` recorded checks, oldest first.

    Raises:
        InputError: a limit below 1.
    """
    if limit < 1:
        raise InputError("limit must be at least 1", field="limit")
    with ks.store.read() as view:
        records = [value for _, value in view.docs(_RECORD_KIND)]
    return records[-limit:]
