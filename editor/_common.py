"""Steps shared by the locate-then-edit methods (ROME, MEMIT, AlphaEdit).

One implementation of each step, parametrised by *where* it acts, instead of one copy per
method: tokenising a cloze with the subject's last token located (:func:`encode_cloze`), reading
keys or hidden states at that token (:func:`read_at_subject`). Optimising the value vector that
makes the model produce the new target (ROME's ``compute_v``) lives in :mod:`editor._values`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from editor._errors import EditComputationError
from editor._hooks import StopForward, Trace
from editor._protocol import EditContext
from editor._request import EditRequest

__all__ = [
    "BROAD_CONTEXT_TEMPLATES",
    "DEFAULT_CONTEXT_TEMPLATES",
    "EncodedCloze",
    "encode_cloze",
    "read_at_subject",
    "rewriting_templates",
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


def _in_context(context: str, template: str) -> str:
    return context.replace("{}", template) if context != "{}" else template


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
