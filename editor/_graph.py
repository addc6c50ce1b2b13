"""Applying a plan to the graph: the editor's hands on the store."""

from __future__ import annotations

from typing import Any

from controller import Plan
from kg import EditState, GraphTxn

__all__ = ["GraphWriter"]


class GraphWriter:
    """Writes an accepted plan into the store inside the caller's transaction."""

    def apply(self, txn: GraphTxn, edit_id: int, plan: Plan, report: dict[str, Any]) -> None:
        """Create the plan's entities, retire and add its facts, record what it read, and
        mark the journal entry applied, all in ``txn``.

        Raises:
            StoreError: the store refused a write (the transaction is then rolled back).
        """
        txn.create_entities(n for t in plan.add for n in (t.subject, t.object))
        txn.retire_facts(plan.remove, edit_id)
        txn.add_facts(plan.add.values(), edit_id)
        txn.add_reads(edit_id, plan.reads)
        txn.update_edit(edit_id, state=EditState.APPLIED, report=report)
