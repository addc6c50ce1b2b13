"""Review: held edits are approved (re-planned, applied) or rejected (with a reason)."""

from __future__ import annotations

from typing import Any

import pytest

from kg import EditState, InputError, NotFoundError
from knowsync import KnowSync
from knowsync._outcomes import PermissionDenied


def _capital(ks: KnowSync, country: str) -> list[str]:
    return [f.object for f in ks.facts(country) if f.relation == "capital"]


def _held(ks: KnowSync, city: str = "Lyon") -> int:
    ks.submit_triples([("France", "capital", "Paris")], user="editor")
    sub = ks.submit_triples([("France", "capital", city)], user="editor2")
    assert sub.decision == "needs_review" and sub.edit_id is not None
    return sub.edit_id


def test_held_then_approved_is_applied(kb: KnowSync) -> None:
    edit_id = _held(kb)
    assert [r.id for r in kb.review_queue()] == [edit_id]
    sub = kb.approve(edit_id, user="curator", reason="Lyon is right")
    assert sub.decision == "accepted" and sub.edit_id == edit_id
    assert sub.report["superseded"][0]["old"]["object"] == "Paris"
    review = sub.report["review"]
    assert review["by"] == "curator" and review["reason"] == "Lyon is right"
    assert review["decision"] == "approved" and review["replanned"] is False
    record = kb.get_edit(edit_id)
    assert record.state is EditState.APPLIED and record.user == "editor2"  # the author stays
    assert record.report["review"]["by"] == "curator"
    assert _capital(kb, "France") == ["Lyon"]
    assert kb.review_queue() == []
    with kb.store.read() as view:
        assert view.doc("review", f"{edit_id:012d}") is not None


def test_held_then_rejected_is_refused_with_the_reason(kb: KnowSync) -> None:
    edit_id = _held(kb)
    with pytest.raises(InputError, match="give a reason"):
        kb.reject(edit_id, user="curator", reason="  ")
    sub = kb.reject(edit_id, user="curator", reason="Paris is the capital")
    assert sub.decision == "rejected" and sub.reason == "Paris is the capital"
    record = kb.get_edit(edit_id)
    assert record.state is EditState.REFUSED
    assert record.report["review"] == {
        "by": "curator",
        "at": record.report["review"]["at"],
        "decision": "rejected",
        "reason": "Paris is the capital",
    }
    assert record.report["refusals"] == ["rejected by curator: Paris is the capital"]
    assert _capital(kb, "France") == ["Paris"]
    with pytest.raises(InputError, match="not waiting for review"):
        kb.approve(edit_id, user="curator")


def test_approve_after_the_graph_changed_replans(kb: KnowSync) -> None:
    edit_id = _held(kb)
    kb.submit_triples([("France", "capital", "Marseille")], user="editor")  # own fact: applies
    sub = kb.approve(edit_id, user="curator")
    assert sub.decision == "accepted"
    assert sub.report["review"]["replanned"] is True
    assert sub.report["superseded"][0]["old"]["object"] == "Marseille"
    assert _capital(kb, "France") == ["Lyon"]


def test_approve_of_a_held_edit_that_became_a_duplicate(kb: KnowSync) -> None:
    edit_id = _held(kb)
    kb.submit_triples([("France", "capital", "Lyon")], user="curator")
    sub = kb.approve(edit_id, user="curator")
    assert sub.decision == "accepted" and sub.report["duplicates"] == [
        ["France", "capital", "Lyon"]
    ]
    assert sub.report["review"]["replanned"] is True


def test_a_locked_edit_stays_held_until_unlocked(kb: KnowSync) -> None:
    kb.submit_triples([("France", "capital", "Paris")], user="editor")
    lock = kb.lock("France", user="curator")
    edit_id = kb.submit_triples([("France", "capital", "Lyon")], user="editor").edit_id
    assert edit_id is not None
    still = kb.approve(edit_id, user="curator")
    assert still.decision == "needs_review" and "remove the lock" in (still.reason or "")
    assert kb.get_edit(edit_id).state is EditState.HELD
    kb.unlock(lock.id, user="curator")
    assert kb.approve(edit_id, user="curator").decision == "accepted"
    assert _capital(kb, "France") == ["Lyon"]


def test_only_curators_review(kb: KnowSync) -> None:
    edit_id = _held(kb)
    for user in ("viewer", "editor", "editor2"):
        with pytest.raises(PermissionDenied, match="'review' needs the role curator"):
            kb.approve(edit_id, user=user)
        with pytest.raises(PermissionDenied):
            kb.reject(edit_id, user=user, reason="no")
    assert kb.get_edit(edit_id).state is EditState.HELD
    assert kb.approve(edit_id, user="admin").decision == "accepted"


def test_review_of_what_is_not_held(kb: KnowSync) -> None:
    applied = kb.submit_triples([("France", "capital", "Paris")], user="editor").edit_id
    with pytest.raises(NotFoundError):
        kb.approve(9999, user="curator")
    with pytest.raises(InputError, match="applied, not waiting for review"):
        kb.reject(applied or 0, user="curator", reason="late")
    with pytest.raises(InputError):
        kb.approve(applied or 0, user="curator", reason="bad\x00reason")


def test_a_lock_holds_an_edit_by_its_kind_not_its_wording(
    kb: KnowSync, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hold rule and approve read the refusal's kind: a lock's sentence may change."""
    import dataclasses

    from controller import Controller

    protection = Controller.protection

    def reworded(self: Controller, view: Any, plan: Any) -> Any:
        return [
            dataclasses.replace(r, message="touches a curated fact")
            for r in protection(self, view, plan)
        ]

    kb.submit_triples([("France", "capital", "Paris")], user="editor")
    lock = kb.lock("France", user="curator")
    monkeypatch.setattr(Controller, "protection", reworded)
    sub = kb.submit_triples([("France", "capital", "Lyon")], user="editor")
    assert sub.decision == "needs_review" and sub.edit_id is not None
    assert kb.get_edit(sub.edit_id).report["held"]["kinds"] == ["locked"]
    assert kb.approve(sub.edit_id, user="curator").decision == "needs_review"
    kb.unlock(lock.id, user="curator")
    assert kb.approve(sub.edit_id, user="curator").decision == "accepted"


def test_the_hold_rules_are_one_function_of_the_account_and_the_plan() -> None:
    from controller import Refusal, RefusalKind, refusal_report
    from knowsync._outcomes import Account, HoldKind, Role
    from knowsync._review import hold_reasons

    editor = Account("ed", Role.EDITOR, "")
    curator = Account("cu", Role.CURATOR, "")
    old = {"subject": "France", "relation": "capital", "object": "Paris"}
    theirs = {"superseded": [{"old": {**old, "kind": "asserted", "user": "someone"}}]}
    assert hold_reasons(editor, theirs, None) == (
        ["it supersedes France|capital|Paris, asserted by someone"],
        [HoldKind.SUPERSEDES],
    )
    assert hold_reasons(curator, theirs, None) is None
    locked = refusal_report([Refusal(RefusalKind.PROTECTED, "locked", lock=1)])
    assert hold_reasons(curator, locked, None) == (["locked"], [HoldKind.LOCKED])
    refused = refusal_report([Refusal(RefusalKind.NOT_A_FACT, "no such fact")])
    assert hold_reasons(editor, refused, None) is None  # refused, not held
