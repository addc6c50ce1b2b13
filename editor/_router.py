"""A side memory keyed by subject: each subject's shift, added where the input names it.

The fact memory's closed-form solve (:mod:`editor._memory`) writes every subject's shift into
one matrix; with more subjects the keys crowd one another and the solve trades the facts for
locality. The router keeps the same per-subject entries but never mixes them: at the MLP output
of the fact memory's layer, at the last token of every occurrence of a subject's name in the
input (its token sequence, said after a space or at a word boundary), it adds exactly that
subject's shift, the vector the value optimisation found. So

- a prompt that names no subject in the view runs the base model, bit for bit (nothing else in
  the model moves);
- a subject's facts are what its own optimisation made them, whatever other subjects are in the
  view (no crowding, however many);
- the view is a table (subjects and their shifts), rebuilt exactly from the entries in force.

Where names overlap ("Obama" and "Barack Obama"), the longest name ending at a token wins.
A table may hold several rows of one name (one per fact of the subject) and a gate
(:mod:`editor._gate`): then only the rows whose questions the prompt asks may add their shift,
and of those only the closest one, so that one subject's facts never add up at one token.
During generation the router remembers the tokens of the sequence so far (per thread), so a
name split across the prompt and generated tokens is found too.

The router is installed as two hooks on the live model (a pre-hook on the decoder that reads
the input ids, a hook on the MLP that adds the shifts); copies of the model (``deepcopy``)
carry the hooks but they do nothing there.

A table travels with an exported model (:meth:`SubjectRouter.save`: ``subject_memory.json``
and ``subject_memory.safetensors`` beside the Hugging Face files); :func:`load_exported` loads
such a folder with its router installed, so the exported model answers as the knowledge base's
does. Transformers alone loads the same folder as the weights without the memory.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from editor._arch import get_module
from editor._errors import ModelLoadError
from editor._gate import GateTable
from editor._hooks import primary_tensor, replace_primary
from editor._model import LoadedModel

__all__ = ["MEMORY_FILES", "ExportedModel", "SubjectRouter", "load_exported"]

#: what :meth:`SubjectRouter.save` writes beside a model: the table's description, its tensors
MEMORY_FILES = ("subject_memory.json", "subject_memory.safetensors")
_FORMAT = "knowsync-subject-memory/1"


class _Table(NamedTuple):
    """The routed subjects, their shifts, the names' token ids by their last token
    (``last token -> [(token ids, row in shifts, needs a word boundary before it)]``) and the
    gate that keeps each shift to its subject's own questions (None: always added)."""

    names: tuple[str, ...]
    shifts: torch.Tensor | None
    by_last: dict[int, list[tuple[tuple[int, ...], int, bool]]]
    gate: GateTable | None = None


class SubjectRouter:
    """Adds per-subject shifts at one layer's MLP output, at each subject's last token.

    Args:
        loaded: the model to install the router on (its live module).
        layer: the decoder block whose MLP output gets the shifts (the fact memory's layer).
    """

    def __init__(self, loaded: LoadedModel, layer: int) -> None:
        self.loaded = loaded
        self.layer = layer
        model: Any = loaded.model
        self._site = get_module(model, loaded.spec.mlp_out_name(layer))
        self._decoder: nn.Module = model.get_decoder() if hasattr(model, "get_decoder") else model
        # one immutable table, swapped whole (a forward on another thread reads it once)
        self._table = _Table((), None, {})
        self._boundary: dict[int, bool] = {}
        self._local = threading.local()  # per thread: the sequence so far, enabled or not
        # plain functions, not bound methods: a deepcopy of the model copies its hooks, and a
        # bound method would drag a copy of the router along (functions are copied as is)
        before, after = self._before, self._after

        def pre_hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            before(module, args, kwargs)

        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            return after(module, args, output)

        local = self._local
        decoder = self._decoder

        def post_hook(module: nn.Module, _args: tuple[Any, ...], output: Any) -> None:
            # the cache this run filled (made inside the forward when none was passed): the
            # next call continues the sequence if it passes this same cache
            if module is decoder:
                if hasattr(output, "cache"):
                    local.cache = output.cache
                else:  # older transformers
                    local.cache = getattr(output, "past_key_values", None)

        self._handles = [
            self._decoder.register_forward_pre_hook(pre_hook, with_kwargs=True),
            self._site.register_forward_hook(hook),
            self._decoder.register_forward_hook(post_hook),
        ]

    # ------------------------------------------------------------------ table

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects in the table, in the order of their shifts."""
        return self._table.names

    @property
    def shifts(self) -> torch.Tensor | None:
        """The shifts (subjects x hidden size, float32, CPU), None when empty."""
        return self._table.shifts

    @property
    def gate(self) -> GateTable | None:
        """The gate in force (None: every shift is added wherever its subject is named)."""
        return self._table.gate

    def set(
        self,
        subjects: Sequence[str],
        shifts: torch.Tensor | None,
        gate: GateTable | None = None,
    ) -> None:
        """Replace the table: ``shifts[i]`` is added wherever ``subjects[i]`` is named (and,
        with a ``gate``, the prompt asks one of that subject's questions; see
        :mod:`editor._gate`).

        Raises:
            ValueError: when ``shifts`` is not one row per subject, or the gate has another
                number of subjects.
        """
        if not subjects:
            self._table = _Table((), None, {})
            return
        if shifts is None or shifts.ndim != 2 or shifts.shape[0] != len(subjects):
            got = "none" if shifts is None else tuple(shifts.shape)
            raise ValueError(f"{len(subjects)} subjects need {len(subjects)} shifts, got {got}")
        if gate is not None and gate.held.shape[0] != len(subjects):
            raise ValueError(f"{len(subjects)} subjects, but a gate for {gate.held.shape[0]}")
        tok = self.loaded.tokenizer
        table: dict[int, list[tuple[tuple[int, ...], int, bool]]] = {}
        for row, name in enumerate(subjects):
            forms = {
                (tuple(tok(" " + name, add_special_tokens=False)["input_ids"]), False),
                (tuple(tok(name, add_special_tokens=False)["input_ids"]), True),
            }
            for ids, boundary in forms:
                if ids:
                    table.setdefault(ids[-1], []).append((ids, row, boundary))
        for entries in table.values():
            entries.sort(key=lambda e: (-len(e[0]), e[0], e[2], e[1]))  # the longest name first
        device = next(self.loaded.model.parameters()).device
        self._table = _Table(
            tuple(subjects), shifts.detach().to(device, torch.float32).contiguous(), table, gate
        )

    def clear(self) -> None:
        """Empty the table: the model answers as its base weights do."""
        self.set((), None)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the table beside a model in ``directory`` (:data:`MEMORY_FILES`: the layer,
        the subjects and the gate's thresholds as JSON; the shifts and the gate's tensors as
        safetensors); :func:`load_exported` installs it again. Returns the JSON file.

        Raises:
            ModelLoadError: the files cannot be written.
        """
        from safetensors.torch import save_file

        table = self._table
        folder = Path(directory)
        tensors: dict[str, torch.Tensor] = {}
        if table.shifts is not None:
            tensors["shifts"] = table.shifts.detach().cpu().contiguous()
        gate = table.gate
        if gate is not None:
            for name, value in gate.tensors().items():
                tensors[f"gate.{name}"] = value.detach().cpu().contiguous()
        meta = {
            "format": _FORMAT,
            "layer": self.layer,
            "hidden_size": None if table.shifts is None else int(table.shifts.shape[1]),
            "subjects": list(table.names),
            "gate": None if gate is None else {"margin": gate.margin, "floor": gate.floor},
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(folder / MEMORY_FILES[1]), metadata={"format": _FORMAT})
            path = folder / MEMORY_FILES[0]
            path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", "utf-8")
        except OSError as exc:
            raise ModelLoadError(f"cannot write the subject memory to {folder}: {exc}") from exc
        return path

    @classmethod
    def installed(cls, loaded: LoadedModel, directory: str | os.PathLike[str]) -> SubjectRouter:
        """A router on ``loaded`` with the table :meth:`save` wrote in ``directory``.

        Raises:
            ModelLoadError: the files are missing, unreadable, of another format, or do not
                fit the model (its layers, its hidden size).
        """
        from safetensors.torch import load_file

        folder = Path(directory)
        try:
            meta = json.loads((folder / MEMORY_FILES[0]).read_text("utf-8"))
            tensors = load_file(str(folder / MEMORY_FILES[1]))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read the subject memory in {folder}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ModelLoadError(f"{folder / MEMORY_FILES[0]} is not a {_FORMAT} file")
        layers = loaded.spec.num_layers(loaded.model)
        layer = meta.get("layer")
        if not isinstance(layer, int) or not 0 <= layer < layers:
            raise ModelLoadError(
                f"the subject memory is for layer {layer!r}; this model has {layers} layers"
            )
        subjects = [str(s) for s in meta.get("subjects") or []]
        shifts = tensors.get("shifts")
        width = loaded.spec.hidden_size(loaded.model)
        if subjects and (shifts is None or shifts.shape != (len(subjects), width)):
            got = None if shifts is None else tuple(shifts.shape)
            raise ModelLoadError(
                f"the subject memory holds shifts of shape {got} for {len(subjects)} subjects; "
                f"this model's hidden size is {width}"
            )
        gate = None
        if meta.get("gate") and subjects:
            device = next(loaded.model.parameters()).device
            parts = {n: tensors[f"gate.{n}"].to(device) for n in _GATE_TENSORS}
            gate = GateTable(
                **parts,
                margin=float(meta["gate"]["margin"]),
                floor=float(meta["gate"]["floor"]),
            )
        router = cls(loaded, layer)
        try:
            router.set(subjects, shifts if subjects else None, gate)
        except ValueError as exc:
            router.remove()
            raise ModelLoadError(f"the subject memory in {folder} does not fit: {exc}") from exc
        return router

    def remove(self) -> None:
        """Take the hooks off the model for good."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.clear()

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Run the block without the router (the base model's answers), in this thread."""
        state = self._local
        before = getattr(state, "enabled", True)
        state.enabled = False
        try:
            yield
        finally:
            state.enabled = before

    def matches(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        """Where ``ids`` names a subject: ``(index of its last token, subject)``."""
        table = self._table
        return [(col, table.names[row]) for col, row in self._find(table, list(ids), 0)]

    # ------------------------------------------------------------------ hooks

    def _before(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        state = self._local
        state.pending = None
        enabled = getattr(state, "enabled", True)
        table = self._table
        if module is not self._decoder or not enabled or table.shifts is None:
            return
        ids = kwargs.get("input_ids")
        if ids is None and args and isinstance(args[0], torch.Tensor):
            ids = args[0]
        if ids is None:
            return
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        past = int(cache.get_seq_length()) if cache is not None else 0
        rows = ids.tolist()
        offset = 0
        history = getattr(state, "history", None)
        # a continuation of the sequence this thread ran last (the same cache, grown by what
        # was run): match names across the boundary; anything else starts afresh
        if (
            past
            and history is not None
            and getattr(state, "cache", None) is cache
            and len(history) == len(rows)
            and all(len(h) == past for h in history)
        ):
            rows = [h + r for h, r in zip(history, rows, strict=True)]
            offset = past
        state.history = rows
        pending: list[tuple[int, int, int]] = []
        for b, row in enumerate(rows):
            pending += [(b, col - offset, idx) for col, idx in self._find(table, row, offset)]
        if not pending:
            state.pending = None
            return
        state.pending = (table, pending, _last_columns(kwargs.get("attention_mask"), ids))

    def _after(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        found = getattr(self._local, "pending", None)
        if module is not self._site or not found:
            return output
        table, pending, last = found
        shifts = table.shifts
        hidden = primary_tensor(output)
        b = torch.tensor([p[0] for p in pending], device=hidden.device)
        t = torch.tensor([p[1] for p in pending], device=hidden.device)
        rows = torch.tensor([p[2] for p in pending], device=hidden.device)
        if table.gate is not None and args and isinstance(args[0], torch.Tensor):
            # the key at each prompt's last token (this layer's input, before any shift)
            keys = args[0][b, torch.tensor([last[i] for i in b.tolist()], device=b.device)]
            allowed, score = table.gate.decide(keys, rows)
            keep = _best_per_place(b.tolist(), t.tolist(), allowed.tolist(), score.tolist())
            if not keep:
                return output
            index = torch.tensor(keep, device=b.device)
            b, t, rows = b[index], t[index], rows[index]
        hidden = hidden.clone()
        # several rows at one place (one subject's facts, without a gate to pick one) add up
        hidden.index_put_((b, t), shifts[rows].to(hidden.dtype), accumulate=True)
        return replace_primary(output, hidden)

    # ------------------------------------------------------------------ matching

    def _find(self, view: _Table, row: list[int], start: int) -> list[tuple[int, int]]:
        """``(column, table row)`` of each name ending at a column ``>= start`` (every row of
        the name, when the table holds one row per fact of a subject)."""
        out = []
        table = view.by_last
        for col in range(start, len(row)):
            entries = table.get(row[col])
            if not entries:
                continue
            for ids, _row, boundary in entries:
                first = col - len(ids) + 1
                if first < 0 or tuple(row[first : col + 1]) != ids:
                    continue
                if boundary and first > 0 and not self._is_boundary(row[first - 1]):
                    continue
                out += [(col, i) for same, i, b in entries if same == ids and b == boundary]
                break
        return out

    def _is_boundary(self, token: int) -> bool:
        """Whether a name may start right after ``token`` without a space (the token ends in
        neither a letter nor a digit: punctuation, a newline, a special token)."""
        known = self._boundary.get(token)
        if known is None:
            tok = self.loaded.tokenizer
            text = str(tok.decode([token]))
            special = token in set(getattr(tok, "all_special_ids", []) or [])
            known = special or not text or not text[-1].isalnum()
            self._boundary[token] = known
        return known


def _best_per_place(
    b: list[int], t: list[int], allowed: list[bool], score: list[float]
) -> list[int]:
    """Of the allowed rows at each place (batch row, column), the one the prompt asks most
    closely (the first on a tie): one subject's facts never add up at one token."""
    best: dict[tuple[int, int], int] = {}
    for i, ok in enumerate(allowed):
        if not ok:
            continue
        place = (b[i], t[i])
        j = best.get(place)
        if j is None or score[i] > score[j]:
            best[place] = i
    return sorted(best.values())


def _last_columns(mask: Any, ids: torch.Tensor) -> list[int]:
    """Each row's last real column in this forward's input (right padding skipped; without a
    two-dimensional mask, the last column)."""
    n = int(ids.shape[-1])
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
        return [n - 1] * int(ids.shape[0])
    cur = mask[:, -n:]
    cols = torch.arange(n, device=cur.device)
    last = torch.where(cur.bool(), cols, torch.full_like(cols, -1)).amax(dim=1)
    return [int(c) if c >= 0 else n - 1 for c in last.tolist()]


_GATE_TENSORS = ("mean", "bank", "own", "owner", "held")


class ExportedModel(NamedTuple):
    """A model folder loaded with its subject memory: the model (its ``model`` answers as
    the knowledge base's did when it was exported) and the router (None: the folder holds
    no memory, plain weights)."""

    loaded: LoadedModel
    router: SubjectRouter | None


def load_exported(
    directory: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> ExportedModel:
    """Load a folder ``knowsync model export`` wrote: the Hugging Face weights and, when the
    folder holds one (:data:`MEMORY_FILES`), the subject memory installed on them.

    Raises:
        ModelLoadError: the folder cannot be loaded, or its memory does not fit the model.
    """
    from editor._model import load_model

    folder = Path(directory)
    loaded = load_model(folder, device=device)
    if not (folder / MEMORY_FILES[0]).is_file():
        return ExportedModel(loaded, None)
    return ExportedModel(loaded, SubjectRouter.installed(loaded, folder))
