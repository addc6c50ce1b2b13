"""Value optimisation (ROME's ``compute_v``, MEMIT's ``z``): the output of a module at the
subject's last token that makes the model give a target, found by Adam on a shift ``delta``
added there, with the weights frozen.

Many values at once: :func:`optimize_subject_values` optimises independent problems (one
shift each) in shared forward passes. The loss is a sum of per-problem terms and Adam acts
element by element, one optimiser per problem, so each problem takes its own course (its own
steps, its own stopping rule) as it would alone, up to float rounding; the batch only shares
the matrix products, which on a CPU cost much less per row in a batch of tens of rows than
in a batch of a few. Problems join as others finish (at most ``batch`` at a time), each with
the key/value cache of its tokens before the subject computed once, when it joins.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from editor._common import (
    DEFAULT_CONTEXT_TEMPLATES,
    EncodedCloze,
    _in_context,
    encode_cloze,
    rewriting_templates,
    target_token_ids,
)
from editor._errors import EditComputationError
from editor._hooks import StopForward, Trace, frozen_parameters, primary_tensor, replace_primary
from editor._protocol import EditContext
from editor._request import EditRequest

__all__ = [
    "SubjectProblem",
    "ValueOptimization",
    "optimize_subject_value",
    "optimize_subject_values",
    "optimize_value",
    "rotate_prefixes",
]


#: What optimising one value gives: ``(v_star, v_init, info)``, or why it failed.
_Result = tuple[torch.Tensor, torch.Tensor, dict[str, Any]] | EditComputationError


@dataclass(frozen=True)
class ValueOptimization:
    """Hyperparameters of the value optimisation (ROME's ``compute_v``).

    Attributes:
        num_grad_steps: Adam steps at most.
        lr: Adam learning rate on ``delta``.
        weight_decay: weight of ``||delta|| / ||v_init||^2`` in the loss.
        clamp_norm_factor: ``||delta||`` is kept at most this times ``||v_init||``.
        kl_factor: weight of the KL term that keeps "{subject} is a" predictions stable.
        early_stop_loss: stop once the (weighted) target NLL falls below this.
        stop_probability: also stop once every main target token has at least this
            probability and every avoided token at most a quarter of ``1 - stop_probability``
            (what greedy generation needs, with a margin; None: only the loss stops early).
        context_templates: prefixes ("{}" marks where the prompt goes).
        kl_prompts: essence prompts for the KL term.
        extra_weight: weight of the mean NLL of the request's ``extra_targets`` (GLAME-style
            propagation) relative to the main target's.
        extra_contexts: how many of ``context_templates`` (from the first) each extra target is
            asked in (they are long composed prompts: fewer prefixes keep the cost down).
        paraphrase_contexts: how many of ``context_templates`` (from the first, which is the
            bare "{}") each of the request's paraphrases is asked in; the prefixes make the
            edit hold in varied contexts, the paraphrases in varied phrasings, and asking every
            paraphrase in every prefix would multiply the cost per edit for little more.
        cloze_first: in :func:`optimize_subject_value`, first fit each request's bare prompt
            alone (one row per fact: cheap steps), then every row from there. The cost of a
            step grows with the rows, and most of the way is the same for all of them.
        stop_on_greedy: also stop once, on every row, each target token is the most likely
            next token by ``greedy_margin`` (in log-probability) over the next likeliest, and
            no avoided object is the most likely: what greedy generation needs.
    """

    num_grad_steps: int = 25
    lr: float = 0.5
    weight_decay: float = 1e-3
    clamp_norm_factor: float = 4.0
    kl_factor: float = 0.0625
    early_stop_loss: float = 5e-2
    stop_probability: float | None = None
    context_templates: tuple[str, ...] = DEFAULT_CONTEXT_TEMPLATES
    kl_prompts: tuple[str, ...] = ("{} is a",)
    extra_weight: float = 0.5
    extra_contexts: int = 2
    paraphrase_contexts: int = 1
    cloze_first: bool = False
    stop_on_greedy: bool = False
    greedy_margin: float = 0.0


@dataclass(frozen=True)
class _Row:
    """One sequence of the value optimisation: a cloze, what it should predict, its share of
    the loss, and whether it is an extra (propagated) target."""

    cloze: EncodedCloze
    target: tuple[int, ...]
    extra: bool
    share: float = 1.0


def _target_rows(tok: Any, request: EditRequest, hp: ValueOptimization) -> list[_Row]:
    """Every prompt the value is optimised on, with its target tokens: the request's prompt in
    each context prefix and its paraphrases in the first ``paraphrase_contexts`` (target:
    ``target_new``), then each extra target in the first ``extra_contexts`` prefixes. Shares:
    the main rows split 1 evenly, the extra rows ``extra_weight``."""
    main = tuple(target_token_ids(tok, request.target_new))
    rows = [
        _Row(encode_cloze(tok, t, request.subject), main, False)
        for t in rewriting_templates(request, hp.context_templates, hp.paraphrase_contexts)
    ]
    extras: list[_Row] = []
    if hp.extra_weight > 0:
        contexts = hp.context_templates[: max(1, hp.extra_contexts)]
        for template, target in request.extra_target_templates():
            ids = tuple(target_token_ids(tok, target))
            for c in contexts:
                extras.append(
                    _Row(encode_cloze(tok, _in_context(c, template), request.subject), ids, True)
                )
    rows = [replace(r, share=1.0 / len(rows)) for r in rows]
    if extras:
        rows += [replace(r, share=hp.extra_weight / len(extras)) for r in extras]
    return rows


def rotate_prefixes(hp: ValueOptimization, i: int, count: int | None) -> ValueOptimization:
    """``hp`` with the bare prompt and ``count`` of the other prefixes, from the ``i``-th on."""
    if count is None:
        return hp
    bare, others = hp.context_templates[:1], hp.context_templates[1:]
    if not others:
        return hp
    chosen = tuple(others[(i + j) % len(others)] for j in range(min(count, len(others))))
    return replace(hp, context_templates=bare + chosen)


def optimize_value(
    ctx: EditContext,
    request: EditRequest,
    site: str,
    hp: ValueOptimization,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Find the output ``v*`` of module ``site`` at the subject's last token that makes the model
    produce ``request.target_new`` (ROME eq. 4, MEMIT eq. 16).

    With ``delta`` added to the site's output at the subject's last token in every prompt,

        L(delta) = mean_j -log P(target | ctx_j + prompt; delta)
                   + extra_weight * mean_e -log P(target_e | ctx_e + prompt_e; delta)
                   + kl_factor * KL(P(. | "{s} is a"; delta) || P(. | "{s} is a"))
                   + weight_decay * ||delta|| / ||v_init||^2,

    (token NLLs averaged per prompt; the second term only when the request has
    ``extra_targets``) minimised by Adam with ``||delta|| <= clamp_norm_factor * ||v_init||``;
    ``v* = v_init + delta``. The model's weights are never written.

    Returns:
        ``(v_star, v_init, info)`` where the vectors are float32 on the model's device.

    Raises:
        EditComputationError: when the optimisation produces a non-finite value.
    """
    rows = _target_rows(ctx.tokenizer, request, hp)
    problem = _problem(ctx, request.subject, rows, [], hp)
    return _solved(_optimize_many(ctx, [problem], site, hp, batch=1)[0])


class SubjectProblem(Protocol):
    """What :func:`optimize_subject_values` reads of each problem (a
    :class:`editor.SubjectFacts` is one)."""

    @property
    def subject(self) -> str: ...
    @property
    def requests(self) -> Sequence[EditRequest]: ...
    @property
    def avoid(self) -> Sequence[tuple[str, str]]: ...
    @property
    def keep(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class _Subject:
    subject: str
    requests: Sequence[EditRequest]
    avoid: Sequence[tuple[str, str]] = ()
    keep: Sequence[str] = ()


def optimize_subject_value(
    ctx: EditContext,
    subject: str,
    requests: Sequence[EditRequest],
    site: str,
    hp: ValueOptimization,
    *,
    avoid: Sequence[tuple[str, str]] = (),
    avoid_weight: float = 1.0,
    prefixes_per_request: int | None = None,
    keep: Sequence[str] = (),
    keep_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """One value for ``subject`` that makes the model give *every* request's target, and none of
    the ``avoid`` objects (retracted facts), while prompts about the subject's other knowledge
    (``keep``: templates with ``{}``) keep the unshifted model's next-token distribution
    (``keep_weight`` times the mean KL over them).

    All requests share one subject, hence one key at the subject's last token: written one at a
    time, each would overwrite the last ("the president of America" answered with the first
    lady). Optimised together, each request weighs the same (its rows split its share), and

        + avoid_weight * mean_a -log(1 - P(first token of object_a | prompt_a; delta))

    pushes each avoided ``(template, object)`` pair's object out of the answer (asked in the
    bare prompt and the first ``paraphrase_contexts`` prefixes).

    With ``prefixes_per_request``, each request is asked in the bare prompt and that many of
    the other context prefixes, taken in turn (request ``i`` starts at prefix ``i``), so that
    the cost grows with the number of facts, not with facts times prefixes, while the subject
    is still seen in every prefix.

    Returns:
        ``(v_star, v_init, info)`` as :func:`optimize_value`.

    Raises:
        EditComputationError: no request and nothing to avoid, a request about another
            subject, or a non-finite value.
    """
    one = _Subject(subject, requests, avoid, keep)
    out = optimize_subject_values(
        ctx,
        [one],
        site,
        hp,
        avoid_weight=avoid_weight,
        prefixes_per_request=prefixes_per_request,
        keep_weight=keep_weight,
        batch=1,
    )
    return _solved(out[0])


def optimize_subject_values(
    ctx: EditContext,
    problems: Sequence[SubjectProblem],
    site: str,
    hp: ValueOptimization,
    *,
    avoid_weight: float = 1.0,
    prefixes_per_request: int | None = None,
    keep_weight: float = 0.0,
    batch: int = 8,
    done: Callable[[int, _Result], None] | None = None,
) -> list[_Result]:
    """:func:`optimize_subject_value` for many problems (each its subject, requests, avoided
    pairs and kept prompts), ``batch`` at a time in shared forward passes (see the module
    doc).

    Returns:
        For each problem in order, ``(v_star, v_init, info)`` or the
        :class:`EditComputationError` that stopped it (one problem's failure does not stop
        the others). ``done(i, result)`` is called as soon as problem ``i`` is settled.
    """
    tok = ctx.tokenizer
    results: list[_Result | None] = [None] * len(problems)
    built: list[tuple[int, _Problem, _Problem | None]] = []

    def settle(i: int, result: _Result) -> None:
        results[i] = result
        if done is not None:
            done(i, result)

    for i, p in enumerate(problems):
        try:
            rows, bare, avoid_rows = _subject_rows(
                tok, p, hp, avoid_weight=avoid_weight, prefixes_per_request=prefixes_per_request
            )
            main = _problem(
                ctx, p.subject, rows, avoid_rows, hp, keep=p.keep, keep_weight=keep_weight
            )
            first = None
            if hp.cloze_first and p.requests:
                firsts = [replace(r, share=1.0 / len(p.requests)) for r in bare]
                first = _problem(ctx, p.subject, firsts, [], hp, first_only=True)
        except EditComputationError as exc:
            settle(i, exc)
            continue
        built.append((i, main, first))
    if not any(first is not None for _, _, first in built):
        _optimize_many(
            ctx,
            [main for _, main, _ in built],
            site,
            hp,
            batch=batch,
            done=lambda j, result: settle(built[j][0], result),
        )
        return [r for r in results if r is not None]
    # the bare prompt of each request first (one row per fact: cheap steps), then every row
    # from where that ended
    starts = _optimize_many(ctx, [first for _, _, first in built if first], site, hp, batch=batch)
    seconds: list[tuple[int, _Problem, dict[str, Any]]] = []
    for (i, main, _), start in zip(built, starts, strict=True):
        if isinstance(start, EditComputationError):
            settle(i, start)
            continue
        info = start[2]
        seconds.append((i, replace(main, init=info.pop("delta")), info))

    def finish(j: int, result: _Result) -> None:
        i, _, first_info = seconds[j]
        if not isinstance(result, EditComputationError):
            result[2]["cloze_steps"] = first_info["steps"]
            result[2]["nll_before"] = first_info["nll_before"]
            result[2]["token_nll_before"] = first_info["token_nll_before"]
        settle(i, result)

    _optimize_many(ctx, [p for _, p, _ in seconds], site, hp, batch=batch, done=finish)
    return [r for r in results if r is not None]


def _solved(result: _Result) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    if isinstance(result, EditComputationError):
        raise result
    return result


def _subject_rows(
    tok: Any,
    p: SubjectProblem,
    hp: ValueOptimization,
    *,
    avoid_weight: float,
    prefixes_per_request: int | None,
) -> tuple[list[_Row], list[_Row], list[_Row]]:
    """A subject problem's target rows (each request's share split over its rows), the bare
    prompt of each request, and the avoid rows."""
    if not p.requests and not p.avoid:
        raise EditComputationError("nothing to optimise: no request and nothing to avoid")
    others = sorted({r.subject for r in p.requests} - {p.subject})
    if others:
        raise EditComputationError(f"one subject per value: {p.subject!r}, not {others}")
    rows: list[_Row] = []
    bare: list[_Row] = []
    for i, request in enumerate(p.requests):
        own = _target_rows(tok, request, rotate_prefixes(hp, i, prefixes_per_request))
        rows += [replace(r, share=r.share / len(p.requests)) for r in own]
        bare.append(own[0])  # the prompt itself, no prefix
    avoid_rows: list[_Row] = []
    contexts = hp.context_templates[: max(1, hp.paraphrase_contexts)]
    for template, obj in p.avoid:
        first = (target_token_ids(tok, obj)[0],)
        for c in contexts:
            cloze = encode_cloze(tok, _in_context(c, template), p.subject)
            avoid_rows.append(_Row(cloze, first, False))
    if avoid_rows:
        avoid_rows = [replace(r, share=avoid_weight / len(avoid_rows)) for r in avoid_rows]
    return rows, bare, avoid_rows


# ------------------------------------------------------------------------------ the engine


@dataclass(frozen=True)
class _Problem:
    """One value to optimise: target rows (NLL, weighted by their shares), avoid rows
    (unlikelihood of their one token), KL prompts with their weights; ``init`` starts
    ``delta`` there (not at zero); ``first_only`` also returns the final ``delta`` in
    ``info["delta"]`` (for a second run to start from)."""

    subject: str
    rows: tuple[_Row, ...]
    avoid_rows: tuple[_Row, ...]
    kls: tuple[EncodedCloze, ...]
    kl_weights: tuple[float, ...]
    init: torch.Tensor | None = None
    first_only: bool = False


def _problem(
    ctx: EditContext,
    subject: str,
    rows: Sequence[_Row],
    avoid_rows: Sequence[_Row],
    hp: ValueOptimization,
    *,
    keep: Sequence[str] = (),
    keep_weight: float = 0.0,
    first_only: bool = False,
) -> _Problem:
    kl_templates = list(hp.kl_prompts) + (list(keep) if keep_weight > 0 else [])
    kls = tuple(encode_cloze(ctx.tokenizer, t, subject) for t in kl_templates)
    # each KL row's weight: the essence prompts share kl_factor, the keep prompts keep_weight
    n_ess, n_keep = len(hp.kl_prompts), len(kls) - len(hp.kl_prompts)
    weights = (hp.kl_factor / max(1, n_ess),) * n_ess + (keep_weight / max(1, n_keep),) * n_keep
    return _Problem(subject, tuple(rows), tuple(avoid_rows), kls, weights, first_only=first_only)


@dataclass(eq=False)
class _Run:
    """A problem while it is optimised: its sequences, its shift and optimiser, what its
    first pass measured, and the keys and values of its tokens before the subject (per
    layer, every row's one after the other: ``(heads, sum(starts), head_dim)``)."""

    problem: _Problem
    delta: torch.Tensor
    optimizer: torch.optim.Optimizer
    seqs: list[list[int]]
    starts: list[int]
    kv: list[tuple[torch.Tensor, torch.Tensor]] | None
    v_init: torch.Tensor | None = None
    kl_init: torch.Tensor | None = None
    steps: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start_many(
        cls, ctx: EditContext, problems: Sequence[_Problem], width: int, lr: float
    ) -> list[_Run]:
        """Runs for ``problems``, their prefix caches computed in one pass."""
        laid: list[tuple[list[list[int]], list[int]]] = []
        for problem in problems:
            scored = problem.rows + problem.avoid_rows
            seqs = [list(r.cloze.ids) + list(r.target[:-1]) for r in scored]
            seqs += [list(e.ids) for e in problem.kls]
            # Tokens before the subject's last one do not depend on delta: their keys and
            # values are computed once and each step runs only the rest of every sequence.
            starts = [r.cloze.subject_last for r in scored]
            starts += [e.subject_last for e in problem.kls]
            laid.append((seqs, starts))
        caches = _prefix_caches(ctx, laid)
        runs = []
        for problem, (seqs, starts), kv in zip(problems, laid, caches, strict=True):
            delta = torch.zeros(width, device=ctx.device)
            if problem.init is not None:
                delta = problem.init.detach().to(ctx.device, torch.float32).clone()
            delta.requires_grad_(True)
            runs.append(
                cls(
                    problem=problem,
                    delta=delta,
                    optimizer=torch.optim.Adam([delta], lr=lr),
                    seqs=seqs,
                    starts=starts,
                    kv=kv,
                )
            )
        return runs


def _prefix_caches(
    ctx: EditContext, laid: Sequence[tuple[Sequence[Sequence[int]], Sequence[int]]]
) -> list[list[tuple[torch.Tensor, torch.Tensor]] | None]:
    """For each run's ``(seqs, starts)``: per layer, the keys and values of every row's tokens
    before ``starts[i]``, one row after the other (None when no row has such tokens). All
    runs' prefixes go through in one packed pass (each row sees only its own tokens)."""
    rows = [
        list(seq[:start]) for seqs, starts in laid for seq, start in zip(seqs, starts, strict=True)
    ]
    if not any(rows):
        return [None] * len(laid)
    ids, positions, sees = _packed(rows, [0] * len(rows), ctx.device)
    model: Any = ctx.model
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    with torch.no_grad():
        out = decoder(
            input_ids=ids, attention_mask=sees[None, None], position_ids=positions, use_cache=True
        )
    layers = [(layer.keys[0], layer.values[0]) for layer in out.cache.layers]
    caches: list[list[tuple[torch.Tensor, torch.Tensor]] | None] = []
    at = 0
    for _, starts in laid:
        size = sum(starts)
        if not size:
            caches.append(None)
            continue
        caches.append([(k[:, at : at + size], v[:, at : at + size]) for k, v in layers])
        at += size
    return caches


def _packed(
    rows: Sequence[Sequence[int]], starts: Sequence[int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows one after the other in one sequence: the ids ``(1, T)``, the positions ``(1, T)``
    (row ``i`` counts from ``starts[i]``), and which token sees which ``(T, T)``: the tokens
    of its own row up to itself."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long, device=device)
    ids = torch.tensor([[t for r in rows for t in r]], dtype=torch.long, device=device)
    row_of = torch.repeat_interleave(torch.arange(len(rows), device=device), lengths)
    first = torch.cumsum(lengths, 0) - lengths  # where each row begins
    offset = torch.arange(ids.shape[1], device=device) - first[row_of]
    start = torch.tensor(list(starts), dtype=torch.long, device=device)
    positions = (start[row_of] + offset)[None]
    sees = (row_of[:, None] == row_of[None, :]) & (offset[None, :] <= offset[:, None])
    return ids, positions, sees


class _Batch:
    """The runs in flight packed into one forward pass of one sequence.

    Every row's suffix (its subject's last token on) follows the last one in a single
    sequence, and every row's prefix keys and values follow each other in the cache; a
    block mask lets each token see its own row's prefix and the suffix tokens before it in
    its own row, and position ids restart at each row's own positions. So no token is
    padding: a pass costs the tokens the rows have (rows of one batch differ in length by
    up to several times). Run ``r``'s sequences are contiguous (its target rows, its avoid
    rows, its KL rows), and so are its scored positions, so that each run's terms are one
    slice of each vector. ``delta`` is added at each row's first suffix token.
    """

    def __init__(self, ctx: EditContext, runs: Sequence[_Run]) -> None:
        self.ctx = ctx
        self.runs = list(runs)
        dev = ctx.device
        suffixes = [
            seq[s:] for run in self.runs for seq, s in zip(run.seqs, run.starts, strict=True)
        ]
        lengths = [len(x) for x in suffixes]
        at = [0]
        for length in lengths[:-1]:
            at.append(at[-1] + length)
        seq_run: list[int] = []
        first: list[int] = []
        pred: list[tuple[int, int, float, bool]] = []
        avoid: list[tuple[int, int, float]] = []
        kl: list[tuple[int, float]] = []
        self.pred_span: list[tuple[int, int]] = []
        self.avoid_span: list[tuple[int, int]] = []
        self.kl_span: list[tuple[int, int]] = []
        k = 0  # the row (sequence) index over all runs
        for r, run in enumerate(self.runs):
            p = run.problem
            first.append(at[k])
            seq_run += [r] * len(run.seqs)
            # for prompt i of length n_i, position n_i - 1 + j predicts target_i[j] (counted
            # from the subject's last token); each gets its row's share split over its tokens,
            # so that the loss is the per-prompt token mean, weighted by shares
            begin = len(pred)
            for i, row in enumerate(p.rows):
                for j, token in enumerate(row.target):
                    col = len(row.cloze.ids) - 1 + j - run.starts[i]
                    share = row.share / len(row.target)
                    pred.append((at[k + i] + col, token, share, not row.extra))
            self.pred_span.append((begin, len(pred)))
            begin = len(avoid)
            for i, row in enumerate(p.avoid_rows):
                q = len(p.rows) + i
                col = len(row.cloze.ids) - 1 - run.starts[q]
                avoid.append((at[k + q] + col, row.target[0], row.share))
            self.avoid_span.append((begin, len(avoid)))
            begin = len(kl)
            base = len(p.rows) + len(p.avoid_rows)
            for i, (e, w) in enumerate(zip(p.kls, p.kl_weights, strict=True)):
                kl.append((at[k + base + i] + len(e.ids) - 1 - e.subject_last, w))
            self.kl_span.append((begin, len(kl)))
            k += len(run.seqs)

        def column(rows: Sequence[tuple[Any, ...]], i: int, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor([row[i] for row in rows], dtype=dtype, device=dev)

        def owners(spans: Sequence[tuple[int, int]]) -> torch.Tensor:
            ids = [r for r, (a, b) in enumerate(spans) for _ in range(a, b)]
            return torch.tensor(ids, dtype=torch.long, device=dev)

        self.first = first
        self.row_start = torch.tensor(at, dtype=torch.long, device=dev)
        self.row_run = torch.tensor(seq_run, dtype=torch.long, device=dev)
        self.pred_at, self.pred_label = column(pred, 0, torch.long), column(pred, 1, torch.long)
        self.pred_weight = column(pred, 2, torch.float32)
        self.pred_main = column(pred, 3, torch.bool)
        self.pred_run = owners(self.pred_span)
        self.avoid_at, self.avoid_label = column(avoid, 0, torch.long), column(avoid, 1, torch.long)
        self.avoid_weight = column(avoid, 2, torch.float32)
        self.avoid_run = owners(self.avoid_span)
        self.kl_at, self.kl_weight = column(kl, 0, torch.long), column(kl, 1, torch.float32)
        self.kl_run = owners(self.kl_span)

        # the packed sequence, its positions, and who sees whom
        starts = [s for run in self.runs for s in run.starts]
        self.ids, self.positions, sees = _packed(suffixes, starts, dev)
        row_of = torch.repeat_interleave(
            torch.arange(len(lengths), device=dev), torch.tensor(lengths, device=dev)
        )
        self.kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if any(run.kv is not None for run in self.runs):
            prefix_of = torch.repeat_interleave(
                torch.arange(len(starts), device=dev), torch.tensor(starts, device=dev)
            )
            sees = torch.cat([row_of[:, None] == prefix_of[None, :], sees], dim=1)
            layers = len(next(run.kv for run in self.runs if run.kv is not None))
            self.kv = [
                (
                    torch.cat([run.kv[i][0] for run in self.runs if run.kv is not None], 1)[None],
                    torch.cat([run.kv[i][1] for run in self.runs if run.kv is not None], 1)[None],
                )
                for i in range(layers)
            ]
        self.mask = sees[None, None]

    def run_model(self) -> None:
        """One pass over the packed sequence (the traces around it read what they need)."""
        from transformers import DynamicCache

        if self.kv is None:
            self.ctx.model(
                input_ids=self.ids,
                attention_mask=self.mask,
                position_ids=self.positions,
                use_cache=False,
            )
            return
        # a fresh cache each pass: the stored keys and values are never written in place, so
        # passes give the same result however often they run
        cache = DynamicCache(ddp_cache_data=list(self.kv))
        self.ctx.model(
            input_ids=self.ids,
            attention_mask=self.mask,
            position_ids=self.positions,
            cache=cache,
            use_cache=True,
        )


def _optimize_many(
    ctx: EditContext,
    problems: Sequence[_Problem],
    site: str,
    hp: ValueOptimization,
    *,
    batch: int,
    done: Callable[[int, _Result], None] | None = None,
) -> list[_Result]:
    """Optimise every problem's ``delta`` (see :func:`optimize_value` for the loss), at most
    ``batch`` in one forward pass; a problem leaves the pass as soon as its stopping rule
    holds, and the next one joins."""
    results: list[_Result | None] = [None] * len(problems)
    lm_head = ctx.spec.output_head(ctx.model)
    width = ctx.spec.hidden_size(ctx.model)
    waiting = deque(range(len(problems)))
    batch = max(1, batch)
    active: list[tuple[int, _Run]] = []
    layout: _Batch | None = None

    def forward(b: _Batch, deltas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        def add_delta(output: Any, _name: str) -> Any:
            hidden = primary_tensor(output)
            for r, run in enumerate(b.runs):
                if run.v_init is None:
                    run.v_init = hidden[0, b.first[r]].detach().float().clone()
            hidden = hidden.clone()
            hidden[0, b.row_start] = hidden[0, b.row_start] + deltas[b.row_run].to(hidden.dtype)
            return replace_primary(output, hidden)

        with (
            Trace(ctx.model, site, retain_output=False, edit_output=add_delta),
            Trace(
                ctx.model, ctx.spec.final_norm, retain_output=True, detach=False, stop=True
            ) as final,
            contextlib.suppress(StopForward),
        ):
            b.run_model()
        hidden = primary_tensor(final.output)
        # only the positions we score go through the (large) vocabulary projection
        pred = F.log_softmax(lm_head(hidden[0, b.pred_at]).float(), dim=-1)
        avoid = F.log_softmax(lm_head(hidden[0, b.avoid_at]).float(), dim=-1)
        kl = F.log_softmax(lm_head(hidden[0, b.kl_at]).float(), dim=-1)
        return pred, avoid, kl

    def settle(i: int, result: _Result) -> None:
        results[i] = result
        if done is not None:
            done(i, result)

    with frozen_parameters(ctx.model):
        while waiting or active:
            starting = [waiting.popleft() for _ in range(min(len(waiting), batch - len(active)))]
            joined = _Run.start_many(ctx, [problems[i] for i in starting], width, hp.lr)
            active += zip(starting, joined, strict=True)
            if layout is None or joined:
                layout = _Batch(ctx, [run for _, run in active])
            b = layout
            if any(run.problem.init is not None for run in joined):
                # the KL's reference is the unshifted model, not where a run starts
                with torch.no_grad():
                    zeroed = torch.stack(
                        [
                            torch.zeros_like(run.delta) if run in joined else run.delta.detach()
                            for _, run in active
                        ]
                    )
                    kl_zero = forward(b, zeroed)[2]
                for r, (_, run) in enumerate(active):
                    if run in joined:
                        a, z = b.kl_span[r]
                        run.kl_init = kl_zero[a:z].detach().clone()
            deltas = torch.stack([run.delta for _, run in active])
            pred_logp, avoid_logp, kl_logp = forward(b, deltas)
            for r, (_, run) in enumerate(active):
                if run.kl_init is None:
                    a, z = b.kl_span[r]
                    run.kl_init = kl_logp[a:z].detach().clone()
            kl_ref = torch.cat([run.kl_init for _, run in active if run.kl_init is not None])
            n = len(active)
            nll = -pred_logp.gather(1, b.pred_label[:, None])[:, 0]
            weighted = nll * b.pred_weight
            nll_run = weighted.new_zeros(n).index_add(0, b.pred_run, weighted)
            # -log(1 - p) of each avoided token, computed stably from log p
            p_avoid = avoid_logp.gather(1, b.avoid_label[:, None])[:, 0].exp()
            unlikely = -torch.log1p(-p_avoid.clamp(max=1 - 1e-6)) * b.avoid_weight
            avoid_run = unlikely.new_zeros(n).index_add(0, b.avoid_run, unlikely)
            kl_rows = (kl_logp.exp() * (kl_logp - kl_ref)).sum(-1) * b.kl_weight  # KL(now || base)
            kl_run = kl_rows.new_zeros(n).index_add(0, b.kl_run, kl_rows)
            v_norms = torch.stack(
                [run.v_init.norm() for _, run in active if run.v_init is not None]
            )
            decay = hp.weight_decay * (deltas.norm(dim=1) / v_norms**2)
            losses = nll_run + avoid_run + kl_run + decay
            finished = [
                _measure(
                    run,
                    b,
                    r,
                    hp,
                    nll.detach(),
                    weighted.detach(),
                    pred_logp.detach(),
                    p_avoid.detach(),
                    avoid_logp.detach(),
                    nll_run[r].item() + avoid_run[r].item(),
                )
                for r, (_, run) in enumerate(active)
            ]
            going = [r for r in range(n) if not finished[r]]
            if going:
                losses[going].sum().backward()
                for r in going:
                    run = active[r][1]
                    run.optimizer.step()
                    run.optimizer.zero_grad()
                    assert run.v_init is not None
                    max_norm = hp.clamp_norm_factor * run.v_init.norm()
                    with torch.no_grad():
                        if run.delta.norm() > max_norm:
                            run.delta.mul_(max_norm / run.delta.norm())
            if len(going) < n:
                for r in range(n):
                    if finished[r]:
                        i, run = active[r]
                        settle(i, _final(run))
                active = [active[r] for r in going]
                layout = None
    return [r for r in results if r is not None]


def _measure(
    run: _Run,
    b: _Batch,
    r: int,
    hp: ValueOptimization,
    nll: torch.Tensor,
    weighted: torch.Tensor,
    pred_logp: torch.Tensor,
    p_avoid: torch.Tensor,
    avoid_logp: torch.Tensor,
    nll_value: float,
) -> bool:
    """Record run ``r``'s figures of this pass in its ``info``; whether it stops here (its
    loss is low enough, greedy generation gives every target and no avoided object, or it has
    taken every step)."""
    run.steps += 1
    info = run.info
    pa, pz = b.pred_span[r]
    aa, az = b.avoid_span[r]
    main = b.pred_main[pa:pz]
    has_main = bool(main.any())
    main_value = weighted[pa:pz][main].sum().item()
    if run.steps == 1:
        info["nll_before"] = main_value
        info["token_nll_before"] = nll[pa:pz][main].sum().item() / max(1.0, float(main.sum()))
        if az > aa:
            info["avoid_p_before"] = p_avoid[aa:az].max().item()
    info["nll"] = main_value
    if az > aa:
        info["avoid_p"] = p_avoid[aa:az].max().item()
    extra = [row.share for row in run.problem.rows if row.extra]
    if extra:
        info["extra_nll"] = (weighted[pa:pz].sum().item() - main_value) / sum(extra)
        if run.steps == 1:
            info["extra_nll_before"] = info["extra_nll"]
    if nll_value < hp.early_stop_loss:
        return True
    if hp.stop_probability is not None:
        least = (-nll[pa:pz][main]).exp().min().item() if has_main else 1.0
        most = p_avoid[aa:az].max().item() if az > aa else 0.0
        if least >= hp.stop_probability and most <= (1 - hp.stop_probability) / 4:
            return True
    if hp.stop_on_greedy and has_main:
        # greedy generation gives every target (each token the most likely next one, by a
        # margin) and no avoided object is the most likely
        labels = b.pred_label[pa:pz][main][:, None]
        logp = pred_logp[pa:pz][main]
        wanted = logp.gather(1, labels)[:, 0]
        rival = logp.scatter(1, labels, float("-inf")).max(1).values
        greedy = bool((wanted - rival >= hp.greedy_margin).all())
        avoided = az == aa or bool((avoid_logp[aa:az].argmax(1) != b.avoid_label[aa:az]).all())
        if greedy and avoided:
            return True
    return run.steps >= hp.num_grad_steps


def _final(run: _Run) -> _Result:
    assert run.v_init is not None
    delta = run.delta.detach()
    info = run.info
    info["steps"] = float(run.steps)
    info["delta_norm_ratio"] = (delta.norm() / run.v_init.norm()).item()
    v_star = run.v_init + delta
    if not torch.isfinite(v_star).all():
        return EditComputationError(f"value optimisation diverged for {run.problem.subject!r}")
    if run.problem.first_only:
        info["delta"] = delta.clone()
    return v_star, run.v_init, info
