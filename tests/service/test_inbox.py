"""Notices: the curators' decisions on an account's held edits, read from the journal, and
the account's mark of what it has seen."""

from __future__ import annotations

import pytest

from kg import EditState, InputError
from knowsync import KnowSync
from knowsync._outcomes import Notice, PermissionDenied
from knowsync._session import Session


def _held(ks: KnowSync, city: str) -> int:
    """An edit by editor2 that supersedes the editor's capital of France: held."""
    ks.submit_triples([("France", "capital", "Paris")], user="editor")
    sub = ks.submit_triples([("France", "capital", city)], user="editor2")
    assert sub.decision == "needs_review" and sub.edit_id is not None
    return sub.edit_id


def test_a_rejection_and_an_approval_reach_the_author(kb: KnowSync) -> None:
    author = Session(kb, "editor2")
    assert author.notices() == []
    rejected = _held(kb, "Lyon")
    assert author.notices() == []  # held, not decided yet
    kb.reject(rejected, user="curator", reason="Paris it is")
    approved = _held(kb, "Nice")
    kb.approve(approved, user="curator", reason="moved, says the source")
    notices = author.notices()
    assert [n.edit_id for n in notices] == [approved, rejected]  # newest first
    first, second = notices
    assert (first.decision, first.by, first.reason, first.state) == (
        "approved",
        "curator",
        "moved, says the source",
        EditState.APPLIED,
    )
    assert first.summary == "+ France capital Nice" and not first.seen
    assert first.at == kb.get_edit(approved).report["review"]["at"]
    assert second.describe() == f"Edit #{rejected} rejected by curator: Paris it is"
    assert second.state is EditState.REFUSED
    # only the author is told; the curator and the editor whose fact it was are not
    assert Session(kb, "editor").notices() == []
    assert Session(kb, "curator").notices() == []


def test_marking_seen_keeps_them_listed_and_a_later_decision_is_new(kb: KnowSync) -> None:
    author = Session(kb, "editor2")
    first = _held(kb, "Lyon")
    kb.reject(first, user="curator", reason="no")
    [shown] = author.notices()
    assert author.mark_notices_seen(shown.at) == shown.at
    assert author.notices() == []
    assert [(n.edit_id, n.seen) for n in author.notices(include_seen=True)] == [(first, True)]
    later = _held(kb, "Nice")
    kb.reject(later, user="curator", reason="still no")
    assert [n.edit_id for n in author.notices()] == [later]
    assert [(n.edit_id, n.seen) for n in author.notices(include_seen=True)] == [
        (later, False),
        (first, True),
    ]
    assert author.mark_notices_seen("2000-01-01T00:00:00") == shown.at  # never moves back
    author.mark_notices_seen()  # now: everything decided so far
    assert author.notices() == []
    with kb.store.read() as view:  # the one thing kept: the mark
        assert set(view.doc("notices_seen", "editor2") or {}) == {"up_to", "at"}


def test_the_mark_is_an_iso_time(kb: KnowSync) -> None:
    author = Session(kb, "editor2")
    with pytest.raises(InputError, match="not an ISO time"):
        author.mark_notices_seen("yesterday")
    assert author.mark_notices_seen("2030-01-02T03:04:05") == "2030-01-02T03:04:05.000000+00:00"
    assert author.mark_notices_seen("2031-01-01T02:00:00+02:00") == (
        "2031-01-01T00:00:00.000000+00:00"
    )


def test_a_decision_on_ones_own_edit_is_no_notice(kb: KnowSync) -> None:
    kb.submit_triples([("France", "capital", "Paris")], user="editor")
    lock = kb.lock("France", reason="official", user="curator")
    sub = kb.submit_triples([("France", "capital", "Lyon")], user="curator")
    assert sub.decision == "needs_review" and sub.edit_id is not None
    kb.unlock(lock.id, user="curator")
    kb.approve(sub.edit_id, user="curator", reason="fine")
    assert Session(kb, "curator").notices(include_seen=True) == []


def test_limits_and_accounts(kb: KnowSync) -> None:
    for bad in (0, 201, True):
        with pytest.raises(InputError, match="limit"):
            Session(kb, "editor2").notices(limit=bad)
    first = _held(kb, "Lyon")
    kb.reject(first, user="curator", reason="no")
    second = _held(kb, "Nice")
    kb.reject(second, user="curator", reason="no")
    assert [n.edit_id for n in Session(kb, "editor2").notices(limit=1)] == [second]
    with pytest.raises(PermissionDenied):
        Session(kb, "nobody").notices()


def test_a_notice_is_json_and_back() -> None:
    notice = Notice(
        edit_id=3,
        decision="rejected",
        by="carol",
        at="2030-01-01T00:00:00.000000+00:00",
        reason="no",
        state=EditState.REFUSED,
        summary="+ a b c",
    )
    from knowsync.client import notice_from_dict

    assert notice_from_dict(notice.to_dict()) == notice
