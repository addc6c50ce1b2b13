"""Notices: the curators' decisions on an account's held edits, and how far it has seen them.

A decision is recorded once, by review (:mod:`knowsync._review`): in the held edit's journal
entry (``report["review"]``: who, when, approved or rejected, why) and in the review document
written in the same transaction (kind ``"review"``, key = the edit's id), which serves here as
the index of decisions. A :class:`knowsync._outcomes.Notice` is read from the journal entry;
nothing of the decision is copied. The one thing kept per account is how far it has seen them:
kind ``"notices_seen"``, key = the account's name, ``{"up_to": ISO time, "at"}``; a decision
made after ``up_to`` is new.

A decision an account took on its own edit is no notice to it.
"""

from __future__ import annotations

import datetime as dt
import threading

from kg import EditRecord, EditState, GraphStore, InputError, NotFoundError, now_iso
from knowsync._accounts import Accounts
from knowsync._outcomes import Notice

__all__ = ["MAX_NOTICES", "Inbox"]

#: the most notices one call returns
MAX_NOTICES = 200

_SEEN = "notices_seen"
_DECISIONS = ("approved", "rejected")


def _summary(record: EditRecord) -> str:
    """What an edit asked, on one line: ``+ S R O; − S R O``."""
    bits = [f"+ {' '.join(map(str, t))}" for t in record.request.get("assert", [])]
    bits += [f"− {' '.join(map(str, t))}" for t in record.request.get("retract", [])]
    return "; ".join(bits) or record.kind.value


def _instant(value: object) -> str:
    """An ISO time as the journal writes times (UTC, microseconds), so that times compare as
    text; a time without a zone is UTC.

    Raises:
        InputError: not an ISO time.
    """
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise InputError(f"{value!r} is not an ISO time (2024-05-01T12:00:00+00:00)", field="up_to")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


class Inbox:
    """The accounts' notices (see the module docstring).

    Args:
        store: the journal and the documents.
        accounts: who is acting.
        guard: the lock the service's writes hold.
    """

    def __init__(self, store: GraphStore, accounts: Accounts, guard: threading.RLock) -> None:
        self._store = store
        self._accounts = accounts
        self._guard = guard

    def notices(self, user: str, *, include_seen: bool = False, limit: int = 50) -> list[Notice]:
        """The decisions on ``user``'s held edits, newest first: those made since the account
        last marked them seen, or with ``include_seen`` the latest ones, seen or not.

        Raises:
            InputError: ``limit`` is not between 1 and :data:`MAX_NOTICES`.
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_NOTICES:
            raise InputError(f"limit must be between 1 and {MAX_NOTICES}", field="limit")
        out: list[Notice] = []
        with self._store.read() as view:
            name = self._accounts.authorize_in(view, user, "ask").name
            seen_up_to = str((view.doc(_SEEN, name) or {}).get("up_to", ""))
            decided = sorted(
                ((str(doc.get("at", "")), int(doc["edit_id"])) for _, doc in view.docs("review")),
                reverse=True,
            )
            for at, edit_id in decided:
                if at <= seen_up_to and not include_seen:
                    break  # newest first: the rest were seen too
                try:
                    record = view.edit(edit_id)
                except NotFoundError:
                    continue
                review = record.report.get("review")
                if (
                    record.user != name
                    or record.state is EditState.HELD  # back in the queue: no decision stands
                    or not isinstance(review, dict)
                    or review.get("decision") not in _DECISIONS
                    or review.get("by") == name
                ):
                    continue
                when = str(review.get("at", at))
                out.append(
                    Notice(
                        edit_id=edit_id,
                        decision=review["decision"],
                        by=str(review.get("by", "")),
                        at=when,
                        reason=str(review.get("reason") or ""),
                        state=record.state,
                        summary=_summary(record),
                        seen=when <= seen_up_to,
                    )
                )
                if len(out) >= limit:
                    break
        return out

    def mark_seen(self, user: str, up_to: str | None = None) -> str:
        """Mark the decisions on ``user``'s edits made until ``up_to`` (an ISO time; None:
        now) as seen; the mark never moves back. Returns the mark now in force.

        To mark what was shown, pass the ``at`` of the newest notice shown: a decision made
        meanwhile stays new.

        Raises:
            InputError: ``up_to`` is not an ISO time.
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        mark = now_iso() if up_to is None else _instant(up_to)
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            before = str((tx.doc(_SEEN, name) or {}).get("up_to", ""))
            if mark > before:
                tx.put_doc(_SEEN, name, {"up_to": mark, "at": now_iso()})
            return max(mark, before)
