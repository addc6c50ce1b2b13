"""Review: the edits that wait for a curator, and the curator's decision on each.

An edit that needs a curator (:func:`hold_reasons`) is journaled with state ``held``
(``EditState.HELD``) and its request; it changes nothing until approved (held -> pending ->
applied, through the same path as any edit, re-planned against the graph as it is then) or
rejected (held -> refused). Who decided and why is kept in the entry's report (``"review":
{"by", "at", "decision", "reason"}``) and in a document of kind ``"review"``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from controller import Refusal, RefusalKind, ToxicVerdict, Verdict, refusal_report, refusals_of
from kg import EditRecord, EditState, GraphStore, GraphView, InputError, StoreError, now_iso
from knowsync._accounts import Accounts, check_text, includes
from knowsync._outcomes import Account, Decision, EditResult, HoldKind, Role, Submission

if TYPE_CHECKING:
    from controller import RawTriple

__all__ = ["Review", "hold_reasons"]


def _only_locks(refusals: list[Refusal]) -> bool:
    """Whether only locks refuse an edit (so a curator may release it once they go)."""
    return bool(refusals) and all(r.kind is RefusalKind.PROTECTED for r in refusals)


def _plan_summary(report: dict[str, Any]) -> tuple[Any, ...]:
    """What a plan changes, for telling whether a re-plan differs from the held one."""

    def triples(key: str) -> list[tuple[str, str, str]]:
        return sorted((f["subject"], f["relation"], f["object"]) for f in report.get(key, []) if f)

    old = sorted(
        tuple(s["old"][k] for k in ("subject", "relation", "object"))
        for s in report.get("superseded", [])
    )
    return (
        triples("added"),
        triples("retracted"),
        old,
        sorted(map(tuple, report.get("duplicates", []))),
    )


def hold_reasons(
    account: Account,
    report: dict[str, Any],
    verdict: ToxicVerdict | None,
) -> tuple[list[str], list[HoldKind]] | None:
    """Why an edit by ``account`` must wait for a curator (reasons, kinds), or None: the toxic
    filter is unsure, only locks refuse it, or (for a non-curator) it supersedes or removes
    what another user asserted. An edit refused for another reason is not held (None)."""
    reasons: list[str] = []
    kinds: list[HoldKind] = []
    if verdict is not None and verdict.verdict is Verdict.DOUBTFUL:
        reasons.append("the toxic-edit filter is unsure: " + "; ".join(verdict.reasons))
        kinds.append(HoldKind.DOUBTFUL)
    refusals = refusals_of(report)
    if refusals:
        if not _only_locks(refusals):
            return None  # refused anyway: apply() journals the controller's reasons
        reasons += [r.message for r in refusals]
        kinds.append(HoldKind.LOCKED)
    if not includes(account.role, Role.CURATOR):
        others: list[str] = []
        for s in report.get("superseded", []):
            old = s["old"]
            if old.get("kind") == "asserted" and old.get("user") != account.name:
                others.append(
                    f"it supersedes {old['subject']}|{old['relation']}|{old['object']}, "
                    f"asserted by {old.get('user') or 'someone else'}"
                )
        for old in report.get("retracted", []):
            if old.get("kind") == "asserted" and old.get("user") != account.name:
                others.append(
                    f"it removes {old['subject']}|{old['relation']}|{old['object']}, "
                    f"asserted by {old.get('user') or 'someone else'}"
                )
        if others:
            reasons += others
            kinds.append(HoldKind.SUPERSEDES)
    return (reasons, kinds) if reasons else None


class Review:
    """The review queue and its decisions (see the module docstring).

    Args:
        store: the journal.
        accounts: who may review.
        guard: the lock the service's writes hold (a decision is not interleaved with a
            submission's).
        dry_run: the decision an edit (assert, retract, author) would meet now, writing
            nothing (``KnowSync.edit`` with ``dry_run``).
        apply: decide and apply a pending journal entry (``KnowSync._apply_journaled``).
        retrying: run a write again after a transient store error (``KnowSync._retrying``).
    """

    def __init__(
        self,
        store: GraphStore,
        accounts: Accounts,
        guard: threading.RLock,
        *,
        dry_run: Callable[[Sequence[RawTriple], Sequence[RawTriple], str], EditResult],
        apply: Callable[[int], EditResult],
        retrying: Callable[[Callable[[], EditResult]], EditResult],
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._guard = guard
        self._dry_run = dry_run
        self._apply = apply
        self._retrying = retrying

    def queue(self) -> list[EditRecord]:
        """Edits waiting for a curator, oldest first."""
        with self._store.read() as view:
            return view.edits(states=[EditState.HELD], limit=None, newest_first=False)

    def _held(self, view: GraphView, edit_id: int) -> EditRecord:
        record = view.edit(edit_id)
        if record.state is not EditState.HELD:
            raise InputError(
                f"edit {edit_id} is {record.state.value}, not waiting for review",
                field="edit_id",
            )
        return record

    def approve(self, edit_id: int, *, user: str, reason: str = "") -> Submission:
        """Release a held edit: it is planned again against the graph as it is now and
        applied (graph, then model) or refused with the controller's reasons. While a lock
        still protects what it changes, it stays held and the result says so.

        Returns what was applied (``report``), with ``report["review"]`` saying who approved
        it, when, why, and whether the plan changed since the edit was held.

        Raises:
            PermissionDenied: the user is not a curator.
            NotFoundError: no edit has that id.
            InputError: the edit is not held (already decided), or a bad reason.
        """
        reason = check_text(reason, "reason", required=False)
        with self._guard:
            account = self._accounts.authorize(user, "review")
            with self._store.read() as view:
                record = self._held(view, edit_id)
            assert_ = [tuple(t) for t in record.request.get("assert", [])]
            retract = [tuple(t) for t in record.request.get("retract", [])]
            dry = self._dry_run(assert_, retract, record.user)
            refusals = refusals_of(dry.report)
            if _only_locks(refusals):
                return Submission(
                    Decision.NEEDS_REVIEW,
                    intent={"type": "review", "edit_id": edit_id},
                    edit_id=edit_id,
                    report=dry.report,
                    reason="still protected: "
                    + "; ".join(r.message for r in refusals)
                    + " (remove the lock, then approve again)",
                )
            held_plan = {k: v for k, v in record.report.items() if k not in ("held", "toxicity")}
            review = {
                "by": account.name,
                "at": now_iso(),
                "decision": "approved",
                "reason": reason,
                "replanned": _plan_summary(held_plan) != _plan_summary(dry.report),
            }

            def release() -> EditResult:
                with self._store.write() as tx:
                    current = self._held(tx, edit_id)
                    tx.update_edit(
                        edit_id,
                        state=EditState.PENDING,
                        report={**current.report, "review": review},
                    )
                    tx.put_doc("review", f"{edit_id:012d}", {**review, "edit_id": edit_id})
                try:
                    return self._apply(edit_id)
                except StoreError as exc:
                    if exc.transient:  # back in the queue, so that the retry finds it held
                        with self._store.write() as tx:
                            if tx.edit(edit_id).state is EditState.ABORTED:
                                tx.update_edit(edit_id, state=EditState.HELD, report=current.report)
                    raise

            result = self._retrying(release)
            final = {
                **result.report,
                "review": review,
                "held": record.report.get("held"),
                "toxicity": record.report.get("toxicity"),
            }
            with self._store.write() as tx:
                tx.update_edit(edit_id, report=final)
        return Submission(
            result.decision,
            intent={"type": "review", "edit_id": edit_id},
            edit_id=edit_id,
            report=final,
            reason="; ".join(result.reasons) or None,
            model=list(result.report.get("model", [])),
            toxicity=record.report.get("toxicity"),
        )

    def reject(self, edit_id: int, *, user: str, reason: str) -> Submission:
        """Refuse a held edit, with a reason the submitter can read.

        Raises:
            PermissionDenied: the user is not a curator.
            NotFoundError: no edit has that id.
            InputError: no reason, or the edit is not held.
        """
        reason = check_text(reason, "reason", required=True)
        with self._guard:
            account = self._accounts.authorize(user, "review")
            review = {"by": account.name, "at": now_iso(), "decision": "rejected", "reason": reason}
            with self._store.write() as tx:
                record = self._held(tx, edit_id)
                rejected = Refusal(RefusalKind.REJECTED, f"rejected by {account.name}: {reason}")
                report = {**record.report, "review": review, **refusal_report([rejected])}
                tx.update_edit(edit_id, state=EditState.REFUSED, report=report)
                tx.put_doc("review", f"{edit_id:012d}", {**review, "edit_id": edit_id})
        return Submission(
            Decision.REJECTED,
            intent={"type": "review", "edit_id": edit_id},
            edit_id=edit_id,
            report=report,
            reason=reason,
            toxicity=record.report.get("toxicity"),
        )
