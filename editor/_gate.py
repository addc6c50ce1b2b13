"""Which question a prompt asks: the gate that keeps a subject's memory to its own facts.

The subject memory adds one shift per subject at the subject's last token (:mod:`editor.
_router`). That shift carries all the subject's facts at once, so without more it also moves
what the model says about the subject on every other question ("Barack Obama's mother is"
when the graph holds only his birthplace). The gate decides, per prompt, whether the prompt
asks one of the questions the subject's facts answer:

- The **bank**: every cloze template the schema knows (each relation's phrasings), each
  said with a few made-up names; a template's prototype is the mean direction of the base
  model's key (the MLP output projection's input at the memory's layer) at the prompt's last
  token, centred on the mean over the bank.
- Each routed subject's **own** prompts: its facts' templates (and retracted ones') said with
  the subject itself, read the same way.
- A prompt naming the subject is compared, by its own last-token key, with both. The shift is
  added when the closest of the subject's own questions is within ``margin`` of the closest
  question of the bank, or when nothing in the bank is close (best similarity under
  ``floor``: a phrasing the library does not know, a chat turn, a question; the memory then
  answers as before the gate existed). A prompt recognisably asking another question of the
  subject gets the base model's answer, bit for bit.

The keys come from the base model (the router's layer reads them in the same forward pass,
before adding anything), so the gate is a deterministic function of the base model, the
bank's templates and the subjects' templates: a rollback rebuilds it exactly.

"The prompt's last token" is the last token of the input when the subject's shift is written:
in generation, the prompt's; in a teacher-forced pass over a prompt and its answer, the
answer's (the knowledge base's checks all generate).

Measured on the demo KG's subjects (prompts of their own relations in every template, of four
other schema relations each, and natural questions about their facts): own questions let
through 1.0, other schema questions held back 0.9, natural questions let through 1.0; but a
question on a relation the schema does not know at all ("The official language of France is")
is held back only about half the time: it is closer to the subject's own question than to
anything in the bank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["GATE_FILLERS", "GateTable", "build_gate"]

#: Made-up names the bank's templates are said with (no model knows them; people and places).
GATE_FILLERS = (
    "Zorvan Vantrosk",
    "Brisk Harrow",
    "Amrusa Oduvane",
    "Orvania",
    "Tobrek Parrowyn",
    "Kellith Helmquist",
)


@dataclass(frozen=True)
class GateTable:
    """The gate's tensors (float32, on the model's device).

    Attributes:
        mean: the centre every key is taken from (width).
        bank: the bank's prototypes, unit rows (templates x width).
        own: every routed subject's own prompts' keys, unit rows (prompts x width).
        owner: the routed subject (row of the router's table) of each row of ``own``.
        held: for each routed subject, which bank templates are its own (subjects x templates).
        margin, floor: see the module doc.
    """

    mean: torch.Tensor
    bank: torch.Tensor
    own: torch.Tensor
    owner: torch.Tensor
    held: torch.Tensor
    margin: float
    floor: float

    def tensors(self) -> dict[str, torch.Tensor]:
        """The tensors by name (for comparing two views bit for bit)."""
        return {
            "mean": self.mean,
            "bank": self.bank,
            "own": self.own,
            "owner": self.owner,
            "held": self.held,
        }

    def allows(self, query: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Whether each subject of ``rows`` may add its shift, for prompts whose last-token
        keys are ``query`` (one per entry of ``rows``, unnormalised).

        Returns:
            A bool tensor, one per entry of ``rows``.
        """
        return self.decide(query, rows)[0]

    def decide(self, query: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`allows`, and how closely each prompt asks the row's own questions (its
        best similarity; the router keeps the closest of a subject's rows at one token)."""
        q = torch.nn.functional.normalize(query.float() - self.mean, dim=-1)
        neg = torch.tensor(float("-inf"), device=q.device)
        # the closest of the subject's own questions, and of the others (-inf: none)
        sims = torch.cat([q @ self.bank.T, torch.full_like(q[:, :1], float("-inf"))], dim=1)
        held = torch.nn.functional.pad(self.held[rows], (0, 1))
        theirs = torch.where(held, sims, neg).amax(dim=1)
        others = torch.where(held, neg, sims).amax(dim=1)
        own_sims = torch.cat([q @ self.own.T, torch.full_like(q[:, :1], float("-inf"))], dim=1)
        owner = torch.nn.functional.pad(self.owner, (0, 1), value=-1)
        mine = torch.where(owner[None, :] == rows[:, None], own_sims, neg).amax(dim=1)
        theirs = torch.maximum(theirs, mine)
        best = torch.maximum(theirs, others)
        return (best < self.floor) | (theirs >= others - self.margin), theirs


def build_gate(
    bank_keys: torch.Tensor,
    bank_templates: int,
    own_keys: Sequence[torch.Tensor],
    held: Sequence[Sequence[int]],
    *,
    margin: float,
    floor: float,
    device: torch.device | None = None,
) -> GateTable:
    """The gate from raw keys.

    Args:
        bank_keys: the bank's keys, ``bank_templates * len(GATE_FILLERS)`` rows, template by
            template (each template's fillers together).
        bank_templates: how many templates the bank has.
        own_keys: per routed subject, its own prompts' keys (prompts x width).
        held: per routed subject, the indices of the bank templates that are its own.
    """
    width = bank_keys.shape[-1]
    keys = bank_keys.float()
    mean = keys.mean(0) if keys.shape[0] else torch.zeros(width)
    unit = torch.nn.functional.normalize(keys - mean, dim=-1)
    if bank_templates:
        proto = unit.view(bank_templates, -1, width).mean(1)
        bank = torch.nn.functional.normalize(proto, dim=-1)
    else:
        bank = torch.zeros(0, width)
    rows = [torch.nn.functional.normalize(k.float() - mean, dim=-1) for k in own_keys]
    own = torch.cat(rows) if rows else torch.zeros(0, width)
    owner = (
        torch.cat([torch.full((k.shape[0],), i, dtype=torch.long) for i, k in enumerate(own_keys)])
        if own_keys
        else torch.zeros(0, dtype=torch.long)
    )
    mask = torch.zeros(len(own_keys), bank_templates, dtype=torch.bool)
    for i, idx in enumerate(held):
        if idx:
            mask[i, list(idx)] = True
    dev = device or torch.device("cpu")
    return GateTable(
        mean=mean.to(dev),
        bank=bank.to(dev),
        own=own.to(dev),
        owner=owner.to(dev),
        held=mask.to(dev),
        margin=margin,
        floor=floor,
    )
