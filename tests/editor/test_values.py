"""The value optimisation packs many problems into one forward pass (every row's suffix one
after the other, a block mask, the rows' prefix caches side by side). These tests pin that the
packing changes nothing a problem sees: its loss on the first pass equals the model's own loss
on its prompts run plainly, one at a time; and problems optimised together take the course
each takes alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests_editor_helpers import FAMILIES

from editor import EditContext, EditRequest, ValueOptimization, optimize_subject_values
from editor._common import encode_cloze, target_token_ids

FRANCE = EditRequest(prompt="The capital city of {}", subject="France", target_new="Rome Italy")
ALICE = EditRequest(
    prompt="{} speaks",
    subject="Alice",
    target_new="Japanese",
    paraphrases=("The mother tongue of {} is",),
)
BOB = EditRequest(prompt="{} plays the", subject="Bob", target_new="violin")
HP = ValueOptimization(
    num_grad_steps=4,
    lr=0.05,
    context_templates=("{}", "A small company in Italy . {}"),
    kl_prompts=("{} is a",),
)


class _Facts:
    def __init__(self, request: EditRequest, avoid: tuple[tuple[str, str], ...] = ()) -> None:
        self.subject = request.subject
        self.requests = (request,)
        self.avoid = avoid
        self.keep: tuple[str, ...] = ()


PROBLEMS = [
    _Facts(FRANCE, avoid=(("The capital city of {}", "Paris"),)),
    _Facts(ALICE),
    _Facts(BOB),
]


def _plain_nll(ctx: EditContext, template: str, request: EditRequest) -> float:
    """Mean NLL of the target's tokens after the filled template, one unpadded sequence."""
    enc = encode_cloze(ctx.tokenizer, template, request.subject)
    target = target_token_ids(ctx.tokenizer, request.target_new)
    ids = torch.tensor([list(enc.ids) + target[:-1]])
    with torch.no_grad():
        logp = torch.log_softmax(ctx.model(input_ids=ids).logits[0].float(), -1)
    n = len(enc.ids)
    return -sum(float(logp[n - 1 + j, t]) for j, t in enumerate(target)) / len(target)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_packed_pass_sees_what_a_plain_pass_sees(edit_context_factory, family: str) -> None:
    """The first pass's target loss of each problem, packed with the others, is the mean of
    its rows' losses computed one plain sequence at a time (bare prompt, the prompt in the
    context prefix, each paraphrase)."""
    ctx = edit_context_factory(family)
    site = ctx.spec.mlp_out_name(1)
    results = optimize_subject_values(ctx, PROBLEMS, site, HP, prefixes_per_request=1, batch=3)
    for facts, result in zip(PROBLEMS, results, strict=True):
        assert not isinstance(result, Exception), result
        (request,) = facts.requests
        templates = [request.prompt, HP.context_templates[1].replace("{}", request.prompt)]
        templates += list(request.paraphrase_templates())
        expected = sum(_plain_nll(ctx, t, request) for t in templates) / len(templates)
        assert result[2]["nll_before"] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_problems_optimised_together_take_the_course_each_takes_alone(
    edit_context_factory,
) -> None:
    ctx = edit_context_factory("llama")
    site = ctx.spec.mlp_out_name(1)
    hp = replace(HP, num_grad_steps=6, stop_on_greedy=True)
    together = optimize_subject_values(ctx, PROBLEMS, site, hp, prefixes_per_request=1, batch=2)
    for facts, joint in zip(PROBLEMS, together, strict=True):
        (alone,) = optimize_subject_values(ctx, [facts], site, hp, prefixes_per_request=1, batch=1)
        assert not isinstance(joint, Exception) and not isinstance(alone, Exception)
        assert joint[2]["steps"] == alone[2]["steps"]
        assert joint[2]["nll"] == pytest.approx(alone[2]["nll"], rel=1e-3)
        torch.testing.assert_close(joint[0], alone[0], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(joint[1], alone[1], rtol=1e-5, atol=1e-5)


def test_one_problem_failing_does_not_stop_the_others(edit_context_factory) -> None:
    ctx = edit_context_factory("llama")
    site = ctx.spec.mlp_out_name(1)
    empty = _Facts(BOB)
    empty.requests = ()  # nothing to optimise
    seen: list[int] = []
    out = optimize_subject_values(
        ctx, [PROBLEMS[0], empty, PROBLEMS[2]], site, HP, batch=2, done=lambda i, _: seen.append(i)
    )
    assert isinstance(out[1], Exception) and "nothing to optimise" in str(out[1])
    assert not isinstance(out[0], Exception) and not isinstance(out[2], Exception)
    assert sorted(seen) == [0, 1, 2]
