"""The router's gate: a subject's shift only where the prompt asks one of its own questions."""

from __future__ import annotations

import pytest
import torch
from tests_editor_helpers import logits_of, token_ids

from editor import LoadedModel, SubjectRouter, Trace
from editor._gate import build_gate


def _orthogonal_to(rows: torch.Tensor, seed: int = 0) -> torch.Tensor:
    v = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(seed))
    basis, _ = torch.linalg.qr(rows.T)
    v = v - basis @ (basis.T @ v)
    return torch.nn.functional.normalize(v, dim=0)


def _synthetic(margin: float = 0.0, floor: float = 0.5):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    width, templates, fillers = 16, 3, 2
    bank_keys = torch.randn(templates * fillers, width)
    own = [torch.randn(2, width)]  # one subject, two prompts of its own
    return build_gate(bank_keys, templates, own, [[0]], margin=margin, floor=floor)


def test_a_prompt_asking_the_subjects_question_adds_the_shift() -> None:
    gate = _synthetic()
    rows = torch.tensor([0])
    # the bank's template 0 is the subject's; a key in its direction asks it
    assert gate.allows((gate.mean + gate.bank[0])[None], rows).tolist() == [True]
    # so does a key in the direction of one of the subject's own prompts
    assert gate.allows((gate.mean + gate.own[1])[None], rows).tolist() == [True]


def test_a_prompt_asking_another_question_of_the_subject_gets_nothing() -> None:
    gate = _synthetic()
    rows = torch.tensor([0, 0])
    keys = torch.stack([gate.mean + gate.bank[1], gate.mean + gate.bank[2]])
    assert gate.allows(keys, rows).tolist() == [False, False]


def test_a_prompt_unlike_every_known_question_adds_the_shift() -> None:
    gate = _synthetic(floor=0.5)
    stranger = _orthogonal_to(torch.cat([gate.bank, gate.own]))
    assert gate.allows((gate.mean + stranger)[None], torch.tensor([0])).tolist() == [True]
    # with no floor, the closest known question decides
    strict = _synthetic(floor=-2.0)
    decided = strict.allows((strict.mean + stranger)[None], torch.tensor([0]))
    assert decided.dtype == torch.bool


def test_the_margin_lets_a_near_tie_through() -> None:
    gate = _synthetic(margin=0.0, floor=-2.0)
    # halfway between template 0 (its own) and template 1 (not), a little nearer to 1
    mixed = 0.45 * gate.bank[0] + 0.55 * gate.bank[1]
    rows = torch.tensor([0])
    assert gate.allows((gate.mean + mixed)[None], rows).tolist() == [False]
    loose = _synthetic(margin=0.5, floor=-2.0)
    assert loose.allows((loose.mean + mixed)[None], rows).tolist() == [True]


def test_of_one_subjects_rows_the_closest_allowed_one_wins_at_a_token() -> None:
    from editor._router import _best_per_place

    # two places; at (0, 3) rows 0 and 1 are allowed, 1 asks more closely; at (1, 2) none is
    b, t = [0, 0, 1, 1], [3, 3, 2, 2]
    assert _best_per_place(b, t, [True, True, False, False], [0.2, 0.9, 0.99, 0.5]) == [1]
    assert _best_per_place(b, t, [True, True, True, False], [0.5, 0.5, 0.1, 0.9]) == [0, 2]


def test_a_subject_without_prompts_of_its_own_is_gated_by_the_bank_alone() -> None:
    torch.manual_seed(1)
    bank_keys = torch.randn(4, 8)
    gate = build_gate(bank_keys, 2, [torch.zeros(0, 8)], [[1]], margin=0.0, floor=-2.0)
    rows = torch.tensor([0, 0])
    keys = torch.stack([gate.mean + gate.bank[1], gate.mean + gate.bank[0]])
    assert gate.allows(keys, rows).tolist() == [True, False]


# ------------------------------------------------------------ on a model (tiny llama)


def _key(loaded: LoadedModel, text: str, layer: int) -> torch.Tensor:
    with (
        torch.no_grad(),
        Trace(loaded.model, loaded.spec.mlp_out_name(layer), retain_input=True) as t,
    ):
        loaded.model(input_ids=token_ids(loaded, text))
    assert t.input is not None
    return t.input[0, -1].float()


def test_the_router_adds_a_subjects_shift_only_to_its_own_questions(loaded) -> None:  # type: ignore[no-untyped-def]
    layer = 1
    bank = ["{} plays the", "{} speaks", "{} lives in"]
    fillers = ["Alice", "Carol", "Dave"]
    bank_keys = torch.stack([_key(loaded, t.format(f), layer) for t in bank for f in fillers])
    own = torch.stack([_key(loaded, "Bob plays the", layer)])
    gate = build_gate(bank_keys, len(bank), [own], [[0]], margin=0.0, floor=-2.0)
    asks_it, asks_other = "Bob plays the", "Bob lives in"
    base_it, base_other = logits_of(loaded, asks_it), logits_of(loaded, asks_other)
    router = SubjectRouter(loaded, layer=layer)
    router.set(["Bob"], torch.randn(1, 32) * 5, gate)
    assert not torch.equal(logits_of(loaded, asks_it), base_it)
    # another question of the same subject: the base model, bit for bit
    assert torch.equal(logits_of(loaded, asks_other), base_other)
    # without the gate the shift goes wherever Bob is named
    router.set(["Bob"], router.shifts)
    assert not torch.equal(logits_of(loaded, asks_other), base_other)


def test_a_gate_for_another_number_of_subjects_is_refused(loaded) -> None:  # type: ignore[no-untyped-def]
    gate = build_gate(torch.randn(2, 64), 1, [], [], margin=0.0, floor=0.5)
    router = SubjectRouter(loaded, layer=1)
    with pytest.raises(ValueError, match="gate"):
        router.set(["Bob"], torch.randn(1, 32), gate)


def test_one_row_per_fact_the_prompt_gets_the_fact_it_asks(loaded) -> None:  # type: ignore[no-untyped-def]
    layer = 1
    bank = ["{} plays the", "{} speaks", "{} lives in"]
    fillers = ["Alice", "Carol", "Dave"]
    bank_keys = torch.stack([_key(loaded, t.format(f), layer) for t in bank for f in fillers])
    own = [
        torch.stack([_key(loaded, "Bob plays the", layer)]),
        torch.stack([_key(loaded, "Bob lives in", layer)]),
    ]
    gate = build_gate(bank_keys, len(bank), own, [[0], [2]], margin=0.0, floor=-2.0)
    shifts = torch.randn(2, 32) * 5
    router = SubjectRouter(loaded, layer=layer)
    router.set(["Bob", "Bob"], shifts, gate)
    two_rows = {p: logits_of(loaded, p) for p in ("Bob plays the", "Bob lives in")}
    # each fact's prompt gets that fact's shift alone, as a one-row table gives it
    for row, prompt in ((0, "Bob plays the"), (1, "Bob lives in")):
        router.set(["Bob"], shifts[row : row + 1])
        assert torch.equal(two_rows[prompt], logits_of(loaded, prompt))


def test_without_a_gate_rows_of_one_name_add_up(loaded) -> None:  # type: ignore[no-untyped-def]
    shifts = torch.randn(2, 32) * 5
    router = SubjectRouter(loaded, layer=1)
    router.set(["Bob", "Bob"], shifts)
    both = logits_of(loaded, "Bob plays the")
    router.set(["Bob"], shifts.sum(0, keepdim=True))
    assert torch.allclose(both, logits_of(loaded, "Bob plays the"), atol=1e-5)
