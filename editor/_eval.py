"""Editing evaluations on the standard formats (CounterFact, zsRE, MQuAKE).

A record becomes an :class:`EvalCase`: the edit requests it asks for and the probes that check
them. Each probe is scored twice, since teacher-forced scores overstate what a user sees:

- probability score: the expected answer is more likely than the competing one (mean token
  log-probability, teacher forced; CounterFact's "efficacy/paraphrase score");
- generation score: greedy decoding without teacher forcing starts with the expected answer
  (or one of its aliases), after at most one leading article ("plays as a midfielder").

Probe kinds: ``efficacy`` (the edit prompt: new target vs old), ``generalization`` (a paraphrase
the method never sees: new vs old), ``locality`` (an unrelated prompt: its greedy continuation is
unchanged, and its preference between its own answer and the new target does not flip),
``portability`` (MQuAKE multi-hop questions: new answer vs old). Locality compares with the
unedited model, so every probe is also scored before the edits ("before" in the report).

Modes: ``single`` applies each case's edits to the unedited model, scores, and rolls them back
through the ledger (which also times the rollback); ``sequential`` applies every case's edits one
after another and scores everything at the end.

The readers take EasyEdit's CounterFact and MEND-zsRE flat formats and MQuAKE's JSON. A record
that cannot become a case (its subject does not occur in its prompt) is skipped and counted.
"""

from __future__ import annotations

import json
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ValidationError

from editor._common import target_token_ids
from editor._editor import ModelEditor
from editor._errors import EditComputationError, EditorError
from editor._glame import mquake_extra_targets
from editor._protocol import EditMethod
from editor._request import EditRequest

__all__ = [
    "EVAL_FORMATS",
    "EvalCase",
    "EvalReport",
    "Probe",
    "ProbeScorer",
    "diagnostic_lines",
    "evaluate",
    "known_cases",
    "reach_line",
    "read_cases",
    "says",
    "starts_with_answer",
]

EvalFormat = Literal["counterfact", "zsre", "mquake"]
EvalMode = Literal["single", "sequential"]
EVAL_FORMATS: tuple[str, ...] = ("counterfact", "zsre", "mquake")
PROBE_KINDS: tuple[str, ...] = ("efficacy", "generalization", "locality", "portability")

#: How a question (zsRE's locality questions, MQuAKE's questions) is put to a causal LM.
QUESTION_FORMAT = "Question: {} Answer:"


@dataclass(frozen=True)
class Probe:
    """One prompt to check after the edit.

    Attributes:
        kind: one of :data:`PROBE_KINDS`.
        prompt: the full prompt text.
        answer: what the model should produce (for locality: the prompt's own answer).
        competitor: the answer it should be preferred to (the old target; for locality: the
            new target), or None when there is none.
        aliases: other strings that count as ``answer`` for the generation score.
    """

    kind: str
    prompt: str
    answer: str
    competitor: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalCase:
    """One evaluation record: the edits it asks for and the probes that check them."""

    case_id: str
    requests: tuple[EditRequest, ...]
    probes: tuple[Probe, ...]


# ---------------------------------------------------------------------------------- readers


def _load_records(path: Path) -> list[dict[str, Any]]:
    """A JSON list (or JSON lines) of objects.

    Raises:
        EditorError: when the file is missing or not a list of objects.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise EditorError(f"cannot read evaluation file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise EditorError(f"{path} is neither JSON nor JSON lines: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise EditorError(f"{path} must hold a list of JSON objects")
    return data


def _template(prompt: str, subject: str) -> str:
    """``prompt`` with ``{}`` at the subject's first mention (case-insensitive fallback).

    Raises:
        ValueError: when the subject does not occur in the prompt.
    """
    i = prompt.find(subject)
    if i < 0:
        i = prompt.lower().find(subject.lower())
    if i < 0:
        raise ValueError(f"subject {subject!r} not in prompt {prompt!r}")

    def esc(s: str) -> str:
        return s.replace("{", "{{").replace("}", "}}")

    return esc(prompt[:i]) + "{}" + esc(prompt[i + len(subject) :])


def _subject_in(prompt: str, subject: str) -> str:
    """The subject as spelled in ``prompt`` (it may differ in case)."""
    i = prompt.find(subject)
    if i >= 0:
        return subject
    i = prompt.lower().find(subject.lower())
    return prompt[i : i + len(subject)] if i >= 0 else subject


def _counterfact_case(r: dict[str, Any], index: int, propagate: int) -> EvalCase:
    subject = _subject_in(str(r["prompt"]), str(r["subject"]))
    new, old = str(r["target_new"]), str(r["ground_truth"])
    request = EditRequest(
        prompt=_template(str(r["prompt"]), subject),
        subject=subject,
        target_new=new,
        target_true=old,
    )
    probes = [Probe("efficacy", request.text, new, old)]
    if r.get("rephrase_prompt"):
        probes.append(Probe("generalization", str(r["rephrase_prompt"]), new, old))
    if r.get("locality_prompt"):
        probes.append(
            Probe("locality", str(r["locality_prompt"]), str(r["locality_ground_truth"]), new)
        )
    return EvalCase(str(r.get("case_id", index)), (request,), tuple(probes))


def _zsre_case(r: dict[str, Any], index: int, propagate: int) -> EvalCase:
    subject = _subject_in(str(r["src"]), str(r["subject"]))
    answers = r.get("answers") or [r.get("pred")]
    old = str(answers[0]) if answers and answers[0] else None
    new = str(r["alt"])
    request = EditRequest(
        prompt=_template(str(r["src"]), subject), subject=subject, target_new=new, target_true=old
    )
    probes = [Probe("efficacy", request.text, new, old)]
    if r.get("rephrase"):
        probes.append(Probe("generalization", str(r["rephrase"]), new, old))
    if r.get("loc"):
        loc = re.sub(r"^nq question:\s*", "", str(r["loc"])).strip()
        if not loc.endswith("?"):
            loc += "?"
        probes.append(Probe("locality", QUESTION_FORMAT.format(loc), str(r["loc_ans"]), new))
    return EvalCase(str(r.get("case_id", index)), (request,), tuple(probes))


def _mquake_case(r: dict[str, Any], index: int, propagate: int) -> EvalCase:
    requests, probes = [], []
    rewrites = r["requested_rewrite"]
    extras = mquake_extra_targets(r, max_hops=propagate) if propagate > 0 else [()] * len(rewrites)
    for rw, extra in zip(rewrites, extras, strict=True):
        new, old = str(rw["target_new"]["str"]), str(rw["target_true"]["str"])
        request = EditRequest(
            prompt=str(rw["prompt"]),
            subject=str(rw["subject"]),
            target_new=new,
            target_true=old,
            extra_targets=extra,
        )
        requests.append(request)
        probes.append(Probe("efficacy", request.text, new, old))
        if rw.get("question"):
            probes.append(Probe("generalization", QUESTION_FORMAT.format(rw["question"]), new, old))
    for question in r.get("questions", ()):
        probes.append(
            Probe(
                "portability",
                QUESTION_FORMAT.format(question),
                str(r["new_answer"]),
                str(r["answer"]),
                tuple(str(a) for a in r.get("new_answer_alias", ())),
            )
        )
    return EvalCase(str(r.get("case_id", index)), tuple(requests), tuple(probes))


_READERS: dict[str, Callable[[dict[str, Any], int, int], EvalCase]] = {
    "counterfact": _counterfact_case,
    "zsre": _zsre_case,
    "mquake": _mquake_case,
}


def read_cases(
    path: Path,
    fmt: str,
    *,
    offset: int = 0,
    limit: int | None = None,
    propagate: int = 0,
) -> tuple[list[EvalCase], int]:
    """Read an evaluation file into cases.

    Args:
        path: a JSON list (or JSON lines) file.
        fmt: one of :data:`EVAL_FORMATS`.
        offset: records to skip first.
        limit: at most this many records (after ``offset``), or None for all.
        propagate: for MQuAKE, give each request GLAME-style ``extra_targets`` composed from
            this many hops of the record's new triples out of the new object
            (:func:`editor._glame.mquake_extra_targets`); 0 for none. Other formats carry no
            neighbourhood and ignore it.

    Returns:
        ``(cases, skipped)``: the cases, and the number of records that could not become one.

    Raises:
        EditorError: for an unknown format, an unreadable file, or a file whose records lack the
            format's fields.
    """
    reader = _READERS.get(fmt)
    if reader is None:
        raise EditorError(f"unknown evaluation format {fmt!r}; use one of {EVAL_FORMATS}")
    if offset < 0 or (limit is not None and limit < 0):
        raise EditorError("offset and limit must not be negative")
    records = _load_records(path)
    end = None if limit is None else offset + limit
    cases, skipped = [], 0
    for index, record in enumerate(records[offset:end], start=offset):
        try:
            cases.append(reader(record, index, propagate))
        except KeyError as exc:
            raise EditorError(
                f"{path}: record {index} has no field {exc} (is it really {fmt}?)"
            ) from exc
        except (ValueError, TypeError, ValidationError):
            skipped += 1
    return cases, skipped


# ---------------------------------------------------------------------------------- scoring


#: A leading article a greedy continuation may put before the answer ("plays as a
#: midfielder", "named for the Netherlands"): English needs it after many relation phrasings,
#: so the answer still counts as given.
_LEADING_ARTICLE = re.compile(r"^(?:the|an|a)\s+")


def starts_with_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether ``text`` (a greedy continuation) starts with one of ``answers``, ignoring case,
    runs of whitespace and one leading article: the one rule by which knowsync says the model
    gives an answer (evaluation, the agreement check, an edit's report)."""
    t = " ".join(text.split()).lower()
    bare = _LEADING_ARTICLE.sub("", t)
    for answer in answers:
        a = " ".join(answer.split()).lower()
        if a and (t.startswith(a) or bare.startswith(a)):
            return True
    return False


def says(scorer: ProbeScorer, prompt: str, answers: Sequence[str]) -> tuple[bool, str]:
    """Whether the model's greedy continuation of ``prompt`` starts with one of ``answers``
    (ignoring case, whitespace and one leading article), and the continuation, decoded just
    long enough to hold the longest answer and one more token.

    Raises:
        EditorError: no answers.
    """
    if not answers:
        raise EditorError("says() needs at least one answer to look for")
    n = max(len(target_token_ids(scorer.tokenizer, a)) for a in answers) + 1
    text = scorer.greedy(prompt, min(scorer.max_new_tokens, n))
    return starts_with_answer(text, answers), text


@dataclass
class ProbeScorer:
    """Scores probes on the live model (no hooks, no writes).

    Attributes:
        model: the causal LM.
        tokenizer: its tokenizer.
        max_new_tokens: cap on the greedy continuation's length.
    """

    model: Any
    tokenizer: Any
    max_new_tokens: int = 12

    @property
    def device(self) -> torch.device:
        """The model's device."""
        device: torch.device = next(self.model.parameters()).device
        return device

    def _prompt_ids(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    @torch.no_grad()
    def mean_logprob(self, prompt: str, answer: str) -> float:
        """Mean log-probability per token of ``answer`` after ``prompt`` (teacher forced)."""
        p_ids = self._prompt_ids(prompt)
        t_ids = target_token_ids(self.tokenizer, answer)
        ids = torch.tensor([p_ids + t_ids], device=self.device)
        logits = self.model(input_ids=ids, use_cache=False).logits[0].float()
        logp = torch.log_softmax(logits[len(p_ids) - 1 : -1], dim=-1)
        picked = logp[torch.arange(len(t_ids)), torch.tensor(t_ids, device=self.device)]
        return float(picked.mean())

    def greedy(self, prompt: str, n_tokens: int) -> str:
        """The greedy continuation of ``prompt``, ``n_tokens`` long, decoded."""
        return self.greedy_with_gap(prompt, n_tokens)[0]

    @torch.no_grad()
    def greedy_with_gap(self, prompt: str, n_tokens: int) -> tuple[str, float]:
        """The greedy continuation of ``prompt`` and its weakest step: the smallest gap, in
        nats, between the log-probabilities of the chosen token and the runner-up (near 0: a
        near tie that any small change of the weights may flip)."""
        ids = torch.tensor([self._prompt_ids(prompt)], device=self.device)
        out: list[int] = []
        gap = float("inf")
        cache = None
        step = ids
        for _ in range(n_tokens):
            result = self.model(input_ids=step, cache=cache, use_cache=True)
            cache = result.cache
            top = torch.log_softmax(result.logits[0, -1].float(), dim=-1).topk(2)
            gap = min(gap, float(top.values[0] - top.values[1]))
            token = int(top.indices[0])
            out.append(token)
            step = torch.tensor([[token]], device=self.device)
        return str(self.tokenizer.decode(out, skip_special_tokens=True)), gap if out else 0.0

    def continuation_length(self, probe: Probe) -> int:
        """Tokens to decode: the longest accepted answer (or competitor, so that the unedited
        model's own answer can be recognised too), plus one."""
        answers = (probe.answer, *probe.aliases)
        if probe.competitor is not None and probe.kind != "locality":
            answers = (*answers, probe.competitor)
        lengths = [len(target_token_ids(self.tokenizer, a)) for a in answers]
        return min(self.max_new_tokens, max(lengths) + 1)

    def score(self, probe: Probe) -> dict[str, Any]:
        """Raw scores of one probe: the greedy text, and the answer-vs-competitor margin."""
        text, gap = self.greedy_with_gap(probe.prompt, self.continuation_length(probe))
        margin = None
        if probe.competitor is not None:
            margin = self.mean_logprob(probe.prompt, probe.answer) - self.mean_logprob(
                probe.prompt, probe.competitor
            )
        return {"text": text, "margin": margin, "gap": gap}


def _judge(probe: Probe, after: dict[str, Any], before: dict[str, Any]) -> dict[str, float | None]:
    """Turn raw scores into the probe's probability and generation scores."""
    if probe.kind == "locality":
        gen = float(after["text"] == before["text"])
        prob = None
        if after["margin"] is not None:
            prob = float((after["margin"] > 0) == (before["margin"] > 0))
        return {"prob": prob, "gen": gen}
    gen = float(starts_with_answer(after["text"], (probe.answer, *probe.aliases)))
    prob = None if after["margin"] is None else float(after["margin"] > 0)
    return {"prob": prob, "gen": gen}


def known_cases(
    model: Any,
    tokenizer: Any,
    cases: Sequence[EvalCase],
    limit: int | None = None,
    kinds: Sequence[str] = ("efficacy",),
) -> list[EvalCase]:
    """The cases whose fact the unedited model knows, in order, at most ``limit`` of them.

    A case is known when, for each probe kind in ``kinds`` ("efficacy": the edit prompt,
    "generalization": the paraphrase), the unedited model's greedy continuation of that probe
    starts with the old answer: the protocol of the reference figures (facts the model knows, so
    that a change of answer is the edit's doing). Cases without such a probe are left out.

    Raises:
        EditorError: for an empty ``kinds`` or a kind without an old answer to check.
    """
    wanted = tuple(dict.fromkeys(kinds))
    if not wanted or any(k not in ("efficacy", "generalization") for k in wanted):
        raise EditorError(
            f"known cases are judged on efficacy and/or generalization probes, not {list(kinds)}"
        )
    scorer = ProbeScorer(model, tokenizer)
    kept: list[EvalCase] = []
    for case in cases:
        if limit is not None and len(kept) >= limit:
            break
        if all(_knows(scorer, case, kind) for kind in wanted):
            kept.append(case)
    return kept


def _knows(scorer: ProbeScorer, case: EvalCase, kind: str) -> bool:
    """Whether every probe of ``kind`` in ``case`` is greedily answered with its old answer
    (False when the case has none)."""
    checks = [(p, p.competitor) for p in case.probes if p.kind == kind and p.competitor]
    return bool(checks) and all(
        starts_with_answer(scorer.greedy(p.prompt, scorer.continuation_length(p)), (old,))
        for p, old in checks
    )


# ---------------------------------------------------------------------------------- report


@dataclass
class EvalReport:
    """What :func:`evaluate` measured. Scores are means over probes (``n`` of them); ``before``
    holds the same scores for the unedited model (locality is relative to it, so absent);
    ``details`` has every probe of every case: its greedy text before and after, and its
    scores (in the JSON output, so that any figure can be traced to the prompts behind it)."""

    method: str
    mode: str
    cases: int
    edits: int
    failed_edits: int
    scores: dict[str, dict[str, float | int | None]]
    before: dict[str, dict[str, float | int | None]]
    seconds_per_edit_median: float | None
    seconds_per_edit_mean: float | None
    cpu_seconds_per_edit_median: float | None
    rollback_ms_median: float | None
    rollback_ms_max: float | None
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as text lines for people."""

        def fmt(v: float | int | None) -> str:
            return "  n/a" if v is None else f"{float(v):5.3f}"

        out = [
            f"{self.method} ({self.mode}): {self.cases} cases, {self.edits} edits"
            + (f", {self.failed_edits} failed" if self.failed_edits else "")
        ]
        out.append(f"  {'metric':16s} {'prob':>6s} {'gen':>6s} {'n':>5s}   (unedited prob/gen)")
        for kind in PROBE_KINDS:
            s = self.scores.get(kind)
            if not s or not s["n"]:
                continue
            b = self.before.get(kind, {})
            tail = "" if kind == "locality" else f"   ({fmt(b.get('prob'))}/{fmt(b.get('gen'))})"
            out.append(
                f"  {kind:16s} {fmt(s['prob']):>6s} {fmt(s['gen']):>6s} {int(s['n'] or 0):5d}{tail}"
            )
        out += diagnostic_lines(self.extra)
        if "portability_case_gen" in self.extra:
            out.append(
                f"  portability per case (any question): prob "
                f"{self.extra['portability_case_prob']:.3f}, gen "
                f"{self.extra['portability_case_gen']:.3f}"
            )
        if self.seconds_per_edit_median is not None:
            out.append(
                f"  s/edit median {self.seconds_per_edit_median:.2f}, mean "
                f"{self.seconds_per_edit_mean:.2f}; CPU s/edit median "
                f"{self.cpu_seconds_per_edit_median:.2f}"
            )
        if self.rollback_ms_median is not None:
            out.append(
                f"  rollback median {self.rollback_ms_median:.1f} ms, max "
                f"{self.rollback_ms_max:.1f} ms"
            )
        out.append(f"  peak RSS {self.peak_rss_mb:.0f} MB")
        return out


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _summarise(
    judged: Sequence[tuple[Probe, dict[str, float | None]]],
) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in PROBE_KINDS:
        rows = [j for p, j in judged if p.kind == kind]
        probs = [j["prob"] for j in rows if j["prob"] is not None]
        gens = [j["gen"] for j in rows if j["gen"] is not None]
        out[kind] = {
            "prob": statistics.fmean(probs) if probs else None,
            "gen": statistics.fmean(gens) if gens else None,
            "n": len(rows),
        }
    return out


def _per_case_portability(
    cases: Sequence[EvalCase], judged: Sequence[Sequence[dict[str, float | None]]]
) -> dict[str, float]:
    """MQuAKE's own aggregate: a case counts when any of its questions is answered."""
    prob, gen = [], []
    for case, scores in zip(cases, judged, strict=True):
        port = [s for p, s in zip(case.probes, scores, strict=True) if p.kind == "portability"]
        if port:
            prob.append(float(any((s["prob"] or 0) > 0 for s in port)))
            gen.append(float(any((s["gen"] or 0) > 0 for s in port)))
    if not prob:
        return {}
    return {
        "portability_case_prob": statistics.fmean(prob),
        "portability_case_gen": statistics.fmean(gen),
    }


def reach_line(extra: dict[str, Any]) -> str | None:
    """The report line for ``extra["unedited_gen_old"]`` (None when it is absent or empty);
    takes the report's ``extra`` as a dict so that saved JSON reports print the same way."""
    reach = extra.get("unedited_gen_old") or {}
    if not reach:
        return None
    shown = ", ".join(f"{kind} {value:.3f}" for kind, value in reach.items())
    return (
        f"  unedited model greedily gives the old answer: {shown} "
        "(the generation score's reach on these prompts)"
    )


def _old_answer_generated(
    cases: Sequence[EvalCase], before: Sequence[Sequence[dict[str, Any]]]
) -> dict[str, float]:
    """How often the unedited model's greedy continuation starts with the *old* answer, per
    probe kind: the generation score's ceiling on these prompts (a prompt the model does not
    answer greedily even with knowledge it has cannot be expected to yield the new answer)."""
    hits: dict[str, list[float]] = {}
    for case, scores in zip(cases, before, strict=True):
        for probe, score in zip(case.probes, scores, strict=True):
            if probe.kind != "locality" and probe.competitor is not None:
                hits.setdefault(probe.kind, []).append(
                    float(starts_with_answer(score["text"], (probe.competitor,)))
                )
    return {kind: statistics.fmean(xs) for kind, xs in hits.items() if xs}


#: Bins of the unedited continuation's weakest top-2 gap (nats) for the locality breakdown: a
#: near tie (the runner-up at least 90% as likely), an open call, a clear one (the chosen
#: token at least e times as likely as the runner-up at every step).
LOCALITY_GAP_BINS: tuple[tuple[str, float, float], ...] = (
    ("<0.1", 0.0, 0.1),
    ("0.1-1", 0.1, 1.0),
    (">=1", 1.0, float("inf")),
)


def _locality_by_gap(
    cases: Sequence[EvalCase],
    before: Sequence[Sequence[dict[str, Any]]],
    judged: Sequence[Sequence[dict[str, float | None]]],
) -> dict[str, dict[str, float | int]]:
    """Locality's generation score split by how firm the unedited continuation was (its
    weakest top-2 gap, :data:`LOCALITY_GAP_BINS`): a near tie is flipped by almost any small
    change of the weights, related to the prompt or not, so the firm bins show the damage done
    to what the model says with some confidence."""
    bins: dict[str, list[float]] = {label: [] for label, _, _ in LOCALITY_GAP_BINS}
    for case, scores, judgements in zip(cases, before, judged, strict=True):
        for probe, score, j in zip(case.probes, scores, judgements, strict=True):
            if probe.kind != "locality" or j["gen"] is None:
                continue
            label = next(lb for lb, lo, hi in LOCALITY_GAP_BINS if lo <= score["gap"] < hi)
            bins[label].append(float(j["gen"]))
    return {label: {"gen": statistics.fmean(xs), "n": len(xs)} for label, xs in bins.items() if xs}


def diagnostic_lines(extra: dict[str, Any]) -> list[str]:
    """The report lines that say how far the generation scores can be read: the reach of the
    generation score (:func:`reach_line`) and locality by the unedited gap; takes a report's
    ``extra`` as a dict so that saved JSON reports print the same way."""
    return [line for line in (reach_line(extra), _locality_gap_line(extra)) if line]


def _locality_gap_line(extra: dict[str, Any]) -> str | None:
    """The report line for ``extra["locality_by_unedited_gap"]`` (None when absent)."""
    by_gap = extra.get("locality_by_unedited_gap") or {}
    if not by_gap:
        return None
    shown = ", ".join(f"{label} {v['gen']:.3f} (n={v['n']})" for label, v in by_gap.items())
    return (
        "  locality gen by the unedited continuation's weakest top-2 gap in nats: "
        f"{shown} (near ties flip under small, unrelated changes of the weights)"
    )


# ---------------------------------------------------------------------------------- evaluate


@dataclass
class _Timings:
    edit_s: list[float] = field(default_factory=list)
    edit_cpu_s: list[float] = field(default_factory=list)
    rollback_ms: list[float] = field(default_factory=list)
    failed: int = 0


def _apply_case(
    editor: ModelEditor,
    method: EditMethod,
    case: EvalCase,
    next_id: int,
    timings: _Timings,
    applied: list[int],
) -> None:
    """Apply a case's requests one edit each, appending the ids to ``applied`` as they land; a
    request the method cannot write is counted as failed and skipped (its probes show it)."""
    for request in case.requests:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            editor.edit(next_id, method, [request])
        except EditComputationError:
            timings.failed += 1
            continue
        timings.edit_s.append(time.perf_counter() - start)
        timings.edit_cpu_s.append(time.process_time() - cpu)
        applied.append(next_id)
        next_id += 1


def _rollback(editor: ModelEditor, edit_ids: list[int], timings: _Timings) -> None:
    """Roll back ``edit_ids`` latest first, removing each from the list once it is undone."""
    while edit_ids:
        start = time.perf_counter()
        editor.rollback(edit_ids[-1])
        timings.rollback_ms.append((time.perf_counter() - start) * 1000)
        edit_ids.pop()


def evaluate(
    editor: ModelEditor,
    method: EditMethod,
    cases: Sequence[EvalCase],
    *,
    mode: EvalMode = "single",
    progress: bool = True,
) -> EvalReport:
    """Edit the model with ``method`` as the cases ask and score every probe.

    The editor's ledger is used for every edit and every rollback; the edits this function
    makes are rolled back before it returns (in sequential mode, after scoring), so the model
    ends as it was found.

    Args:
        editor: the model editor (its ledger may already hold edits: they stay in force).
        method: the editing method.
        cases: from :func:`read_cases`.
        mode: "single" or "sequential" (see the module docstring).
        progress: a tqdm bar on stderr.

    Returns:
        The :class:`EvalReport`.

    Raises:
        EditorError: for an unknown mode or no cases.
        LedgerError: when a rollback fails.

    Other errors (an interrupt, a failing forward pass) propagate after the edits made so far
    have been rolled back.
    """
    from tqdm.auto import tqdm

    if mode not in ("single", "sequential"):
        raise EditorError(f"unknown mode {mode!r}; use 'single' or 'sequential'")
    if not cases:
        raise EditorError("no evaluation cases")
    scorer = ProbeScorer(editor.loaded.model, editor.loaded.tokenizer)
    prepared = list(cases)
    bar = tqdm(
        total=2 * len(cases),
        desc=f"{method.name} {mode}",
        disable=not progress,
        file=sys.stderr,
        unit="step",
    )
    before = []
    for case in prepared:
        before.append([scorer.score(p) for p in case.probes])
        bar.update(1)
    timings = _Timings()
    next_id = max(editor.ledger.in_force, default=0) + 1
    after: list[list[dict[str, Any]]] = []
    in_force: list[int] = []
    try:
        for case in prepared:
            _apply_case(editor, method, case, next_id, timings, in_force)
            next_id += len(case.requests)
            if mode == "single":
                after.append([scorer.score(p) for p in case.probes])
                _rollback(editor, in_force, timings)
            bar.update(1)
        if mode == "sequential":
            after = [[scorer.score(p) for p in case.probes] for case in prepared]
            _rollback(editor, in_force, timings)
    finally:
        bar.close()
        if in_force:  # an error midway: leave the model as it was found
            editor.ledger.rollback_to(in_force)

    judged_per_case = [
        [_judge(p, a, b) for p, a, b in zip(c.probes, sa, sb, strict=True)]
        for c, sa, sb in zip(prepared, after, before, strict=True)
    ]
    judged_before_per_case = [
        [_judge(p, b, b) for p, b in zip(c.probes, sb, strict=True)]
        for c, sb in zip(prepared, before, strict=True)
    ]
    flat = [
        (p, j)
        for c, js in zip(prepared, judged_per_case, strict=True)
        for p, j in zip(c.probes, js, strict=True)
    ]
    flat_before = [
        (p, j)
        for c, js in zip(prepared, judged_before_per_case, strict=True)
        for p, j in zip(c.probes, js, strict=True)
        if p.kind != "locality"
    ]
    extra: dict[str, Any] = dict(_per_case_portability(prepared, judged_per_case))
    extra["unedited_gen_old"] = _old_answer_generated(prepared, before)
    by_gap = _locality_by_gap(prepared, before, judged_per_case)
    if by_gap:
        extra["locality_by_unedited_gap"] = by_gap
    details = [
        {
            "case_id": case.case_id,
            "probes": [
                {
                    "kind": p.kind,
                    "prompt": p.prompt,
                    "answer": p.answer,
                    "competitor": p.competitor,
                    "before": b["text"],
                    "after": a["text"],
                    "gap_before": b["gap"],
                    **j,
                }
                for p, a, b, j in zip(case.probes, sa, sb, js, strict=True)
            ],
        }
        for case, sa, sb, js in zip(prepared, after, before, judged_per_case, strict=True)
    ]
    before_port = _per_case_portability(prepared, judged_before_per_case)
    if before_port:
        extra["portability_case_before"] = before_port

    def med(xs: list[float]) -> float | None:
        return statistics.median(xs) if xs else None

    return EvalReport(
        method=method.name,
        mode=mode,
        cases=len(cases),
        edits=len(timings.edit_s),
        failed_edits=timings.failed,
        scores=_summarise(flat),
        before={k: v for k, v in _summarise(flat_before).items() if k != "locality"},
        seconds_per_edit_median=med(timings.edit_s),
        seconds_per_edit_mean=statistics.fmean(timings.edit_s) if timings.edit_s else None,
        cpu_seconds_per_edit_median=med(timings.edit_cpu_s),
        rollback_ms_median=med(timings.rollback_ms),
        rollback_ms_max=max(timings.rollback_ms) if timings.rollback_ms else None,
        peak_rss_mb=_peak_rss_mb(),
        extra=extra,
        details=details,
    )
