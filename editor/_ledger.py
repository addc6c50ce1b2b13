"""The delta ledger: exact, persistent, reversible record of every weight edit.

Invariant: for every parameter the ledger has touched,

    live = base + Δ_{e1} + Δ_{e2} + ... + Δ_{en}

summed left to right in the order the edits in force were applied, each ``Δ`` materialised by
:meth:`LowRankDelta.dense` (a fixed-order sum of exact outer products), all in float32 on CPU.
Because every path to a set of edits performs the same float operations in the same order,
rolling back an edit (recompute from base and the remaining deltas) gives bit-for-bit the
tensors that applying the remaining edits fresh gives.

Layout on disk (``directory``)::

    ledger.json            {"model_key", "in_force": [ids in order], "base_sha256": {param: hex}}
    edits/<id>.safetensors low-rank factors "<param>::left", "<param>::right", extra tensors
                           "extra::<name>"; metadata: method, info (JSON)

Rolled-back edits keep their file (the journal may show or re-apply them) but leave ``in_force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from editor._errors import EditorError, LedgerError
from editor._update import LowRankDelta, WeightUpdate

__all__ = ["DeltaLedger"]


def _tensor_sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(
        t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
    ).hexdigest()


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DeltaLedger:
    """Applies weight updates to a model and takes them back exactly.

    Args:
        model: the model whose parameters are edited; its current weights are the base for
            every parameter the ledger has not touched yet.
        directory: where to persist deltas and the manifest, or None for an in-memory ledger.
        model_key: identifier of the base weights, recorded and checked on :meth:`restore`.
        checkpoint_every: keep an in-memory snapshot of a parameter after every this many edits
            touching it, so that a rollback replays at most that many deltas (snapshots are the
            same bits a replay from base would give, so they never change a result).
    """

    def __init__(
        self,
        model: nn.Module,
        directory: Path | None = None,
        *,
        model_key: str = "",
        checkpoint_every: int = 8,
    ) -> None:
        self.model = model
        self.directory = directory
        self.model_key = model_key
        self.checkpoint_every = max(1, checkpoint_every)
        self._params = dict(model.named_parameters())
        self._base: dict[str, torch.Tensor] = {}
        self._base_sha: dict[str, str] = {}
        self._order: list[int] = []
        self._updates: dict[int, WeightUpdate] = {}
        # param -> {number of that param's in-force edits included: snapshot}
        self._checkpoints: dict[str, dict[int, torch.Tensor]] = {}
        if directory is not None:
            (directory / "edits").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ queries
    @property
    def in_force(self) -> tuple[int, ...]:
        """Ids of the edits in force, in the order they were applied."""
        return tuple(self._order)

    def update(self, edit_id: int) -> WeightUpdate:
        """The update of an edit in force.

        Raises:
            LedgerError: when the edit is not in force.
        """
        if edit_id not in self._updates:
            raise LedgerError(f"edit {edit_id} is not in force")
        return self._updates[edit_id]

    def touched(self) -> tuple[str, ...]:
        """Names of the parameters the ledger has a base copy of."""
        return tuple(self._base)

    def base(self, name: str) -> torch.Tensor:
        """The base value of a touched parameter (CPU, float32)."""
        return self._base[name]

    # ------------------------------------------------------------------ apply
    def apply(self, edit_id: int, update: WeightUpdate) -> None:
        """Put ``update`` in force as edit ``edit_id``; all or nothing.

        Raises:
            LedgerError: when ``edit_id`` is already in force, or writing fails (the weights
                and the files are then as before).
            EditComputationError: when the update does not fit the model or is not finite.
        """
        if edit_id in self._updates:
            raise LedgerError(f"edit {edit_id} is already in force")
        params = update.check_against(self.model)
        # 1. compute every new tensor before writing anything
        new_values: dict[str, torch.Tensor] = {}
        for name, delta in update.deltas.items():
            live = params[name].detach().to("cpu", torch.float32).clone()
            new_values[name] = live.add_(delta.dense())
        # 2. persist the delta (atomic), 3. swap the weights, 4. update the manifest
        path = self._write_update(edit_id, update)
        old_values = {name: params[name].detach().clone() for name in new_values}
        new_bases = [name for name in new_values if name not in self._base]
        try:
            for name in new_bases:
                self._base[name] = old_values[name].to("cpu", torch.float32).clone()
                self._base_sha[name] = _tensor_sha256(self._base[name])
                self._checkpoints[name] = {}
            self._write_tensors(params, new_values)
            self._order.append(edit_id)
            self._updates[edit_id] = update
            self._save_manifest()
        except BaseException as exc:
            self._write_tensors(params, old_values)
            if self._order and self._order[-1] == edit_id:
                self._order.pop()
            self._updates.pop(edit_id, None)
            for name in new_bases:
                self._base.pop(name, None)
                self._base_sha.pop(name, None)
                self._checkpoints.pop(name, None)
            if path is not None:
                path.unlink(missing_ok=True)
            if isinstance(exc, EditorError):
                raise
            raise LedgerError(f"applying edit {edit_id} failed: {exc}") from exc
        for name, value in new_values.items():
            position = len(self._history(name))
            if position % self.checkpoint_every == 0:
                self._checkpoints[name][position] = value.clone()

    # ------------------------------------------------------------------ rollback
    def rollback(self, edit_id: int) -> WeightUpdate:
        """Take edit ``edit_id`` out of force: every parameter it touched is recomputed as base
        plus the remaining deltas in order. All or nothing.

        Returns:
            The update that was rolled back.

        Raises:
            LedgerError: when the edit is not in force, or writing fails.
        """
        if edit_id not in self._updates:
            raise LedgerError(f"edit {edit_id} is not in force")
        update = self._updates[edit_id]
        position = self._order.index(edit_id)
        remaining = self._order[:position] + self._order[position + 1 :]
        names = list(update.deltas)
        new_values = {name: self._recompute(name, remaining) for name in names}
        params = {name: self._params[name] for name in names}
        old_values = {name: p.detach().clone() for name, p in params.items()}
        old_order = list(self._order)
        try:
            self._write_tensors(params, new_values)
            self._order = remaining
            self._save_manifest()
        except BaseException as exc:
            self._write_tensors(params, old_values)
            self._order = old_order
            raise LedgerError(f"rolling back edit {edit_id} failed: {exc}") from exc
        del self._updates[edit_id]
        for name in names:
            # snapshots taken after the removed edit no longer describe any prefix
            kept = sum(1 for e in old_order[:position] if name in self._updates[e].deltas)
            self._checkpoints[name] = {
                k: v for k, v in self._checkpoints[name].items() if k <= kept
            }
        return update

    def rollback_to(self, edit_ids: Iterable[int]) -> None:
        """Roll back every edit in ``edit_ids`` (latest first)."""
        for edit_id in sorted(edit_ids, key=self._order.index, reverse=True):
            self.rollback(edit_id)

    def forget(self, edit_id: int) -> None:
        """Delete the persisted delta of an edit that is not in force (a superseded view).

        Raises:
            LedgerError: when the edit is in force.
        """
        if edit_id in self._updates:
            raise LedgerError(f"edit {edit_id} is in force; roll it back first")
        if self.directory is not None:
            self._update_path(edit_id).unlink(missing_ok=True)

    # ------------------------------------------------------------------ restore
    @staticmethod
    def methods_in_force(directory: Path) -> list[tuple[int, str]]:
        """The edits in force of the ledger persisted in ``directory`` and their methods, in
        order, read from its files alone (no model, nothing changed).

        Raises:
            LedgerError: a delta file of an edit in force is missing or unreadable.
        """
        from safetensors import safe_open

        manifest_path = Path(directory) / "ledger.json"
        if not manifest_path.is_file():
            return []
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        out = []
        for edit_id in (int(i) for i in manifest.get("in_force", [])):
            path = Path(directory) / "edits" / f"{edit_id:012d}.safetensors"
            try:
                with safe_open(str(path), framework="pt") as fh:
                    method = (fh.metadata() or {}).get("method", "")
            except (OSError, ValueError) as exc:
                raise LedgerError(f"cannot read the delta file of edit {edit_id}: {exc}") from exc
            out.append((edit_id, str(method)))
        return out

    def restore(self) -> tuple[int, ...]:
        """Re-apply the persisted edits in force onto the model's (base) weights.

        Call on a freshly loaded base model with an empty in-memory ledger.

        Returns:
            The ids re-applied, in order.

        Raises:
            LedgerError: when there is no directory, the manifest names another model, a delta
                file is missing, or the model's weights are not the recorded base.
        """
        if self.directory is None:
            raise LedgerError("an in-memory ledger has nothing to restore")
        if self._order:
            raise LedgerError("restore needs an empty ledger on a freshly loaded base model")
        manifest_path = self.directory / "ledger.json"
        if not manifest_path.is_file():
            return ()
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if self.model_key and manifest.get("model_key") and manifest["model_key"] != self.model_key:
            raise LedgerError(
                f"ledger at {self.directory} belongs to model {manifest['model_key'][:20]}, "
                f"not {self.model_key[:20]}"
            )
        for name, sha in manifest.get("base_sha256", {}).items():
            if name not in self._params:
                raise LedgerError(f"ledger names parameter {name!r} that the model lacks")
            if _tensor_sha256(self._params[name].detach().float()) != sha:
                raise LedgerError(f"parameter {name!r} is not the base the ledger was built on")
        ids = [int(i) for i in manifest.get("in_force", [])]
        updates = [self.load_update(i) for i in ids]
        directory, self.directory = self.directory, None  # do not rewrite files while replaying
        try:
            for edit_id, update in zip(ids, updates, strict=True):
                self.apply(edit_id, update)
        finally:
            self.directory = directory
        self._save_manifest()
        return tuple(ids)

    def load_update(self, edit_id: int) -> WeightUpdate:
        """Read a persisted update (in force or not).

        Raises:
            LedgerError: when there is no directory or no file for this id.
        """
        from safetensors import safe_open

        if self.directory is None:
            raise LedgerError("an in-memory ledger keeps no files")
        path = self._update_path(edit_id)
        if not path.is_file():
            raise LedgerError(f"no delta file for edit {edit_id} in {self.directory}")
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
        deltas = {}
        extras = {}
        for key, tensor in tensors.items():
            if key.startswith("extra::"):
                extras[key[len("extra::") :]] = tensor
            elif key.endswith("::left"):
                name = key[: -len("::left")]
                deltas[name] = LowRankDelta(tensor, tensors[name + "::right"])
        return WeightUpdate(
            deltas=deltas,
            method=meta.get("method", ""),
            info=json.loads(meta.get("info", "{}")),
            tensors=extras,
        )

    # ------------------------------------------------------------------ internals
    def _history(self, name: str) -> list[int]:
        return [e for e in self._order if name in self._updates[e].deltas]

    def _recompute(self, name: str, order: list[int]) -> torch.Tensor:
        history = [e for e in order if name in self._updates[e].deltas]
        start = 0
        value = self._base[name]
        for k, snapshot in self._checkpoints.get(name, {}).items():
            # a snapshot at k is valid when the first k edits of both histories agree
            if start < k <= len(history) and history[:k] == self._history(name)[:k]:
                start, value = k, snapshot
        value = value.clone()
        for e in history[start:]:
            value.add_(self._updates[e].deltas[name].dense())
        return value

    @staticmethod
    def _write_tensors(params: dict[str, nn.Parameter], values: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, value in values.items():
                params[name].copy_(value.to(params[name].device, params[name].dtype))

    def _update_path(self, edit_id: int) -> Path:
        assert self.directory is not None
        return self.directory / "edits" / f"{edit_id:012d}.safetensors"

    def _write_update(self, edit_id: int, update: WeightUpdate) -> Path | None:
        from safetensors.torch import save_file

        if self.directory is None:
            return None
        tensors: dict[str, torch.Tensor] = {}
        for name, delta in update.deltas.items():
            tensors[f"{name}::left"] = delta.left.contiguous()
            tensors[f"{name}::right"] = delta.right.contiguous()
        for name, tensor in update.tensors.items():
            tensors[f"extra::{name}"] = tensor.detach().to("cpu").contiguous()
        meta = {"method": update.method, "info": json.dumps(dict(update.info), default=str)}
        path = self._update_path(edit_id)
        tmp = path.with_suffix(".tmp")
        try:
            save_file(tensors, str(tmp), metadata=meta)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LedgerError(f"cannot write delta for edit {edit_id}: {exc}") from exc
        return path

    def _save_manifest(self) -> None:
        if self.directory is None:
            return
        manifest: dict[str, Any] = {
            "format": 1,
            "model_key": self.model_key,
            "in_force": list(self._order),
            "base_sha256": dict(self._base_sha),
        }
        _atomic_write_text(self.directory / "ledger.json", json.dumps(manifest, indent=1))
