"""Steps shared by the locate-then-edit methods (ROME, MEMIT, AlphaEdit).

One implementation of each step, parametrised by *where* it acts, instead of one copy per
method: tokenising a cloze with the subject's last token located (:func:`encode_cloze`), reading
keys or hidden states at that token (:func:`read_at_subject`), and optimising the value vector
that makes the model produce the new target (:func:`optimize_value`, ROME's ``compute_v``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F

from editor._errors import EditComputationError
from editor._hooks import StopForward, Trace, frozen_parameters, primary_tensor, replace_primary
from editor._protocol import EditContext
from editor._request import EditRequest

__all__ = [
    "BROAD_CONTEXT_TEMPLATES",
    "DEFAULT_CONTEXT_TEMPLATES",
    "EncodedCloze",
    "ValueOptimization",
    "encode_cloze",
    "optimize_subject_value",
    "optimize_value",
    "read_at_subject",
    "rewriting_templates",
    "rotate_prefixes",
    "target_token_ids",
]

#: Prefixes that make the edit hold in varied contexts (ROME samples five ~10-token prefixes
#: from the model, starting "The", "Therefore", "Because", "I", "You"; we fix them as data so
#: that an edit is a deterministic function of the request).
DEFAULT_CONTEXT_TEMPLATES: tuple[str, ...] = (
    "{}",
    "The following text is from a short encyclopedia article. {}",
    "Therefore, the answer is easy to find. {}",
    "Because of this, many people know the fact. {}",
    "I read about it in a book last year. {}",
    "You may already have heard about this. {}",
)


#: Twelve prefixes (the six above and six more, of other registers: quiz, news, dialogue,
#: narrative). With ROME on CounterFact records 0-19 (tuning split) they raised the
#: generation-based paraphrase score from 0.20 to 0.30 (probability 0.85 to 0.95), but on
#: records 300-319 (held out) it went from 0.10 to 0.05 (probability 0.95 to 1.00) and locality
#: from 0.85 to 0.75, at 1.6-1.8x the CPU time per edit. Offered for experiments, not a default.
BROAD_CONTEXT_TEMPLATES: tuple[str, ...] = (
    *DEFAULT_CONTEXT_TEMPLATES,
    "Here is a question from a quiz. {}",
    "It was a quiet morning in the small town. {}",
    "Q: Tell me one fact. A: {}",
    "In the news today: {}",
    "My teacher once told me something interesting. {}",
    "Regarding the history of the region, scholars disagree. {}",
)


@dataclass(frozen=True)
class EncodedCloze:
    """Token ids of one filled cloze and the index of the subject's last token."""

    ids: tuple[int, ...]
    subject_last: int


def _split_at_slot(template: str) -> tuple[str, str]:
    sentinel = "\x00"
    filled = template.format(sentinel)
    i = filled.index(sentinel)
    return filled[:i], filled[i + 1 :]


def encode_cloze(tokenizer: Any, template: str, subject: str) -> EncodedCloze:
    """Tokenise ``template.format(subject)`` and locate the subject's last token.

    Raises:
        EditComputationError: when the subject tokenises to nothing.
    """
    before, after = _split_at_slot(template)
    upto = tokenizer(before + subject)["input_ids"]
    full = tokenizer(before + subject + after)["input_ids"]
    if not upto or not full:
        raise EditComputationError(f"subject {subject!r} produced no tokens in {template!r}")
    return EncodedCloze(tuple(full), min(len(upto), len(full)) - 1)


def target_token_ids(tokenizer: Any, target: str) -> list[int]:
    """Token ids of the target as it continues a prompt (with one leading space).

    Raises:
        EditComputationError: when the target tokenises to nothing.
    """
    ids = tokenizer(" " + target.strip(), add_special_tokens=False)["input_ids"]
    if not ids:
        raise EditComputationError(f"target {target!r} produced no tokens")
    return list(ids)


def rewriting_templates(
    request: EditRequest,
    context_templates: Sequence[str],
    paraphrase_contexts: int | None = None,
) -> list[str]:
    """The prompt in every context prefix, then each paraphrase template in the first
    ``paraphrase_contexts`` prefixes (None: in all of them)."""
    out = [_in_context(ctx, request.prompt) for ctx in context_templates]
    contexts = (
        context_templates
        if paraphrase_contexts is None
        else (context_templates[: max(1, paraphrase_contexts)])
    )
    out += [_in_context(ctx, p) for p in request.paraphrase_templates() for ctx in contexts]
    return out


def _pad_right(
    seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad if pad is not None else 0)


def read_at_subject(
    ctx: EditContext,
    module_name: str,
    templates: Sequence[str],
    subjects: Sequence[str],
    *,
    kind: Literal["input", "output"],
) -> torch.Tensor:
    """Read a module's input or output at the subject's last token, one row per template.

    Args:
        ctx: the edit context.
        module_name: the module to read (e.g. the MLP output projection of a layer).
        templates: cloze templates with ``{}``.
        subjects: the subject for each template (same length).
        kind: "input" for the module's first input (a key), "output" for its output.

    Returns:
        A float32 tensor ``(len(templates), width)`` on the model's device.
    """
    encoded = [encode_cloze(ctx.tokenizer, t, s) for t, s in zip(templates, subjects, strict=True)]
    ids, mask = _pad_right([e.ids for e in encoded], _pad_id(ctx.tokenizer), ctx.device)
    rows = torch.arange(len(encoded), device=ctx.device)
    cols = torch.tensor([e.subject_last for e in encoded], device=ctx.device)
    with (
        torch.no_grad(),
        Trace(
            ctx.model,
            module_name,
            retain_input=kind == "input",
            retain_output=kind == "output",
            stop=True,
        ) as trace,
        contextlib.suppress(StopForward),
    ):
        ctx.model(input_ids=ids, attention_mask=mask, use_cache=False)
    value = trace.input if kind == "input" else trace.output
    assert value is not None
    return value[rows, cols].float()


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


def _in_context(context: str, template: str) -> str:
    return context.replace("{}", template) if context != "{}" else template


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
    return _optimize(ctx, request.subject, rows, [], site, hp)


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
    if not requests and not avoid:
        raise EditComputationError("nothing to optimise: no request and nothing to avoid")
    others = sorted({r.subject for r in requests} - {subject})
    if others:
        raise EditComputationError(f"one subject per value: {subject!r}, not {others}")
    tok = ctx.tokenizer
    rows: list[_Row] = []
    bare: list[_Row] = []
    for i, request in enumerate(requests):
        own = _target_rows(tok, request, rotate_prefixes(hp, i, prefixes_per_request))
        rows += [replace(r, share=r.share / len(requests)) for r in own]
        bare.append(own[0])  # the prompt itself, no prefix
    avoid_rows: list[_Row] = []
    contexts = hp.context_templates[: max(1, hp.paraphrase_contexts)]
    for template, obj in avoid:
        first = (target_token_ids(tok, obj)[0],)
        for c in contexts:
            cloze = encode_cloze(tok, _in_context(c, template), subject)
            avoid_rows.append(_Row(cloze, first, False))
    if avoid_rows:
        avoid_rows = [replace(r, share=avoid_weight / len(avoid_rows)) for r in avoid_rows]
    if not hp.cloze_first or not requests:
        return _optimize(
            ctx, subject, rows, avoid_rows, site, hp, keep=keep, keep_weight=keep_weight
        )
    # the bare prompt of each request (the first of its rows), then every row from there
    firsts = [replace(r, share=1.0 / len(requests)) for r in bare]
    _, _, first_info = _optimize(ctx, subject, firsts, [], site, hp, first_only=True)
    start = first_info.pop("delta")
    v_star, v_init, info = _optimize(
        ctx, subject, rows, avoid_rows, site, hp, init=start, keep=keep, keep_weight=keep_weight
    )
    info["cloze_steps"] = first_info["steps"]
    info["nll_before"] = first_info["nll_before"]
    info["token_nll_before"] = first_info["token_nll_before"]
    return v_star, v_init, info


def rotate_prefixes(hp: ValueOptimization, i: int, count: int | None) -> ValueOptimization:
    """``hp`` with the bare prompt and ``count`` of the other prefixes, from the ``i``-th on."""
    if count is None:
        return hp
    bare, others = hp.context_templates[:1], hp.context_templates[1:]
    if not others:
        return hp
    chosen = tuple(others[(i + j) % len(others)] for j in range(min(count, len(others))))
    return replace(hp, context_templates=bare + chosen)


def _optimize(
    ctx: EditContext,
    subject: str,
    rows: list[_Row],
    avoid_rows: list[_Row],
    site: str,
    hp: ValueOptimization,
    *,
    init: torch.Tensor | None = None,
    first_only: bool = False,
    keep: Sequence[str] = (),
    keep_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The optimisation behind :func:`optimize_value` and :func:`optimize_subject_value`:
    target rows (NLL, weighted by their shares), avoid rows (unlikelihood of their one token),
    the KL and the decay terms. ``init`` starts ``delta`` there (not at zero); ``first_only``
    also returns the final ``delta`` in ``info["delta"]`` (for a second run to start from)."""
    tok = ctx.tokenizer
    kl_templates = list(hp.kl_prompts) + (list(keep) if keep_weight > 0 else [])
    kls = [encode_cloze(tok, t, subject) for t in kl_templates]
    # each KL row's weight: the essence prompts share kl_factor, the keep prompts keep_weight
    n_ess, n_keep = len(hp.kl_prompts), len(kl_templates) - len(hp.kl_prompts)
    kl_weights = torch.tensor(
        [hp.kl_factor / max(1, n_ess)] * n_ess + [keep_weight / max(1, n_keep)] * n_keep,
        device=ctx.device,
    )
    scored = rows + avoid_rows
    seqs = [list(r.cloze.ids) + list(r.target[:-1]) for r in scored] + [list(e.ids) for e in kls]
    # Tokens before the subject's last one do not depend on delta: their keys and values are
    # computed once (a prefix cache) and each step runs only the rest of every sequence.
    starts = [r.cloze.subject_last for r in scored] + [e.subject_last for e in kls]
    run = _SuffixRunner(ctx, seqs, starts, _pad_id(tok))
    lookup_rows = torch.arange(len(seqs), device=ctx.device)
    lookup_cols = torch.zeros(len(seqs), dtype=torch.long, device=ctx.device)

    # Positions whose next-token prediction is a target token: for prompt i of length n_i,
    # position n_i - 1 + j predicts target_i[j] (counted from the subject's last token in the
    # run). Each position's NLL gets its row's share split over the row's tokens, so that the
    # loss is the per-prompt token mean, weighted by shares.
    pred_rows, pred_cols, labels, weights, is_extra = [], [], [], [], []
    for i, r in enumerate(rows):
        for j, token in enumerate(r.target):
            pred_rows.append(i)
            pred_cols.append(len(r.cloze.ids) - 1 + j - starts[i])
            labels.append(token)
            weights.append(r.share / len(r.target))
            is_extra.append(r.extra)
    n_extra = sum(1 for r in rows if r.extra)
    extra_weight = sum(r.share for r in rows if r.extra)
    avoid_at = torch.tensor(
        [len(r.cloze.ids) - 1 - starts[len(rows) + i] for i, r in enumerate(avoid_rows)],
        dtype=torch.long,
        device=ctx.device,
    )
    avoid_idx = torch.arange(len(rows), len(scored), device=ctx.device)
    avoid_labels = torch.tensor([r.target[0] for r in avoid_rows], device=ctx.device)
    avoid_weights = torch.tensor([r.share for r in avoid_rows], device=ctx.device)
    pred_rows_t = torch.tensor(pred_rows, dtype=torch.long, device=ctx.device)
    pred_cols_t = torch.tensor(pred_cols, dtype=torch.long, device=ctx.device)
    pred_labels = torch.tensor(labels, dtype=torch.long, device=ctx.device)
    pred_weights = torch.tensor(weights, device=ctx.device)
    main_mask = ~torch.tensor(is_extra, dtype=torch.bool, device=ctx.device)
    kl_rows = torch.arange(len(scored), len(seqs), device=ctx.device)
    kl_cols = torch.tensor(
        [len(e.ids) - 1 - e.subject_last for e in kls], dtype=torch.long, device=ctx.device
    )

    lm_head = ctx.spec.output_head(ctx.model)
    width = ctx.spec.hidden_size(ctx.model)
    delta = torch.zeros(width, device=ctx.device)
    if init is not None:
        delta = init.detach().to(ctx.device, torch.float32).clone()
    delta.requires_grad_(True)
    state: dict[str, torch.Tensor] = {}

    def add_delta(output: Any, _name: str) -> Any:
        hidden = primary_tensor(output)
        if "v_init" not in state:
            state["v_init"] = hidden[0, lookup_cols[0]].detach().float().clone()
        hidden = hidden.clone()
        hidden[lookup_rows, lookup_cols] = hidden[lookup_rows, lookup_cols] + delta.to(hidden.dtype)
        return replace_primary(output, hidden)

    def forward() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with (
            Trace(ctx.model, site, retain_output=False, edit_output=add_delta),
            Trace(
                ctx.model, ctx.spec.final_norm, retain_output=True, detach=False, stop=True
            ) as final,
            contextlib.suppress(StopForward),
        ):
            run()
        hidden = primary_tensor(final.output)
        # Only the positions we score go through the (large) vocabulary projection.
        pred_logp = F.log_softmax(lm_head(hidden[pred_rows_t, pred_cols_t]).float(), dim=-1)
        avoid_logp = F.log_softmax(lm_head(hidden[avoid_idx, avoid_at]).float(), dim=-1)
        kl_logp = F.log_softmax(lm_head(hidden[kl_rows, kl_cols]).float(), dim=-1)
        return pred_logp, avoid_logp, kl_logp

    optimizer = torch.optim.Adam([delta], lr=hp.lr)
    info: dict[str, Any] = {}
    kl_init: torch.Tensor | None = None
    steps = 0
    main_tokens = max(1.0, float(main_mask.sum()))
    with frozen_parameters(ctx.model):
        for steps in range(1, hp.num_grad_steps + 1):
            optimizer.zero_grad()
            if kl_init is None and init is not None:
                # the KL's reference is the unshifted model, not where this run starts
                with torch.no_grad():
                    start = delta.detach().clone()
                    delta.zero_()
                    kl_init = forward()[2].detach().clone()
                    delta.copy_(start)
            pred_logp, avoid_logp, kl_logp = forward()
            if kl_init is None:
                kl_init = kl_logp.detach().clone()
            nll = -pred_logp.gather(1, pred_labels[:, None])[:, 0]
            nll_loss = (nll * pred_weights).sum()
            # -log(1 - p) of each avoided token, computed stably from log p
            p_avoid = avoid_logp.gather(1, avoid_labels[:, None])[:, 0].exp()
            avoid_loss = (-torch.log1p(-p_avoid.clamp(max=1 - 1e-6)) * avoid_weights).sum()
            kl_rows_loss = (kl_logp.exp() * (kl_logp - kl_init)).sum(-1)  # KL(now || base)
            kl_loss = (kl_rows_loss * kl_weights).sum()
            v_init = state["v_init"]
            decay = hp.weight_decay * (delta.norm() / v_init.norm() ** 2)
            loss = nll_loss + avoid_loss + kl_loss + decay
            main_value = (nll.detach() * pred_weights)[main_mask].sum().item()
            nll_value = nll_loss.item() + avoid_loss.item()
            if steps == 1:
                info["nll_before"] = main_value
                info["token_nll_before"] = nll.detach()[main_mask].sum().item() / main_tokens
                if avoid_rows:
                    info["avoid_p_before"] = p_avoid.detach().max().item()
            info["nll"] = main_value
            if avoid_rows:
                info["avoid_p"] = p_avoid.detach().max().item()
            if n_extra:
                info["extra_nll"] = (nll_loss.item() - main_value) / extra_weight
                if steps == 1:
                    info["extra_nll_before"] = info["extra_nll"]
            if nll_value < hp.early_stop_loss:
                break
            if hp.stop_probability is not None:
                least = (-nll.detach())[main_mask].exp().min() if bool(main_mask.any()) else 1.0
                most = p_avoid.detach().max() if avoid_rows else 0.0
                if least >= hp.stop_probability and most <= (1 - hp.stop_probability) / 4:
                    break
            if hp.stop_on_greedy and bool(main_mask.any()):
                # greedy generation gives every target (each token the most likely next one,
                # by a margin) and no avoided object is the most likely
                logp = pred_logp.detach()[main_mask]
                wanted = logp.gather(1, pred_labels[main_mask][:, None])[:, 0]
                rival = logp.scatter(1, pred_labels[main_mask][:, None], float("-inf")).max(1)
                greedy = bool((wanted - rival.values >= hp.greedy_margin).all())
                avoided = not avoid_rows or bool(
                    (avoid_logp.detach().argmax(1) != avoid_labels).all()
                )
                if greedy and avoided:
                    break
            if steps == hp.num_grad_steps:
                break
            loss.backward()
            optimizer.step()
            max_norm = hp.clamp_norm_factor * v_init.norm()
            with torch.no_grad():
                if delta.norm() > max_norm:
                    delta.mul_(max_norm / delta.norm())
    info["steps"] = float(steps)
    info["delta_norm_ratio"] = (delta.detach().norm() / state["v_init"].norm()).item()
    v_init = state["v_init"]
    v_star = (v_init + delta).detach()
    if not torch.isfinite(v_star).all():
        raise EditComputationError(f"value optimisation diverged for {subject!r}")
    if first_only:
        info["delta"] = delta.detach().clone()
    return v_star, v_init, info


class _SuffixRunner:
    """Runs a batch of sequences from given positions on, over a cache of what comes before.

    Row ``i`` is ``seqs[i]``; the tokens before ``starts[i]`` are run once, left-padded, into a
    key/value cache; each call then runs ``seqs[i][starts[i]:]`` (right-padded) with the right
    positions and mask. Position 0 of the call's output is each row's token ``starts[i]``.
    The cache is never written in place (each call concatenates into new tensors), so calls
    give the same result however often they run. With no prefix at all, the rows run whole.
    """

    def __init__(
        self,
        ctx: EditContext,
        seqs: Sequence[Sequence[int]],
        starts: Sequence[int],
        pad_id: int,
    ) -> None:
        self.ctx = ctx
        device = ctx.device
        width = max(starts)
        n = len(seqs)
        prefix = torch.full((n, width), pad_id, dtype=torch.long)
        prefix_mask = torch.zeros((n, width), dtype=torch.long)
        for i, (seq, start) in enumerate(zip(seqs, starts, strict=True)):
            if start:
                prefix[i, width - start :] = torch.tensor(list(seq[:start]), dtype=torch.long)
                prefix_mask[i, width - start :] = 1
        suffix, suffix_mask = _pad_right(
            [list(seq[start:]) for seq, start in zip(seqs, starts, strict=True)], pad_id, device
        )
        self.suffix = suffix
        self.mask = torch.cat([prefix_mask.to(device), suffix_mask], dim=1)
        start_t = torch.tensor(list(starts), dtype=torch.long, device=device)
        self.positions = start_t[:, None] + torch.arange(suffix.shape[1], device=device)[None, :]
        self.kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if width:
            prefix_positions = (prefix_mask.cumsum(1) - 1).clamp(min=0).to(device)
            model: Any = ctx.model
            decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
            with torch.no_grad():
                out = decoder(
                    input_ids=prefix.to(device),
                    attention_mask=prefix_mask.to(device),
                    position_ids=prefix_positions,
                    use_cache=True,
                )
            self.kv = [(layer.keys, layer.values) for layer in out.cache.layers]

    def __call__(self) -> None:
        from transformers import DynamicCache

        if self.kv is None:
            self.ctx.model(
                input_ids=self.suffix,
                attention_mask=self.mask,
                position_ids=self.positions,
                use_cache=False,
            )
            return
        cache = DynamicCache(ddp_cache_data=list(self.kv))
        self.ctx.model(
            input_ids=self.suffix,
            attention_mask=self.mask,
            position_ids=self.positions,
            cache=cache,
            use_cache=True,
        )
