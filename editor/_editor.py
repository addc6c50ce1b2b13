"""``ModelEditor``: one model, its statistics, its ledger, and the methods that edit it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from editor._ledger import DeltaLedger
from editor._model import LoadedModel, cache_dir
from editor._protocol import EditContext, EditMethod
from editor._request import EditRequest
from editor._stats import Corpus, SecondMomentStore, load_corpus
from editor._update import WeightUpdate

__all__ = ["ModelEditor"]


class ModelEditor:
    """The editor's model half: compute an edit, then apply it through the ledger.

    Args:
        loaded: the model (its weights at construction are the base).
        ledger_dir: where the delta ledger persists, or None for an in-memory ledger.
        corpus: the corpus for second moments; None loads the shipped one.
        stats_root: cache root for second moments; None uses :func:`editor.cache_dir`.
        stats_tokens: number of corpus tokens for the second moments.
        progress: show progress bars.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        ledger_dir: Path | None = None,
        corpus: Corpus | None = None,
        stats_root: Path | None = None,
        stats_tokens: int = 65536,
        progress: bool = True,
    ) -> None:
        self.loaded = loaded
        self.stats = SecondMomentStore(
            loaded.model,
            loaded.tokenizer,
            loaded.spec,
            loaded.model_key,
            corpus if corpus is not None else load_corpus(),
            root=stats_root if stats_root is not None else cache_dir(),
            max_tokens=stats_tokens,
            progress=progress,
        )
        self.ledger = DeltaLedger(loaded.model, ledger_dir, model_key=loaded.model_key)

    def context(self) -> EditContext:
        """The context a method computes in (live model, history of updates in force)."""
        return EditContext(
            model=self.loaded.model,
            tokenizer=self.loaded.tokenizer,
            spec=self.loaded.spec,
            stats=self.stats,
            history=tuple(self.ledger.update(i) for i in self.ledger.in_force),
        )

    def compute(self, method: EditMethod, requests: Sequence[EditRequest]) -> WeightUpdate:
        """Compute an update; the model is left exactly as it was.

        Raises:
            EditComputationError: when the method cannot compute the edit.
        """
        return method.compute(self.context(), requests)

    def edit(
        self, edit_id: int, method: EditMethod, requests: Sequence[EditRequest]
    ) -> WeightUpdate:
        """Compute and apply an edit as ``edit_id``; the weights change only if both succeed.

        Raises:
            EditComputationError: when the method cannot compute the edit.
            LedgerError: when applying fails (weights untouched).
        """
        update = self.compute(method, requests)
        self.ledger.apply(edit_id, update)
        return update

    def rollback(self, edit_id: int) -> WeightUpdate:
        """Take an edit out of force (exact recomputation from base and the remaining deltas).

        Raises:
            LedgerError: when the edit is not in force.
        """
        return self.ledger.rollback(edit_id)

    def restore(self) -> tuple[int, ...]:
        """Re-apply the persisted ledger onto the freshly loaded base model.

        Raises:
            LedgerError: see :meth:`DeltaLedger.restore`.
        """
        return self.ledger.restore()
