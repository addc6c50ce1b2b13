"""The one door's own rules: each :class:`Session` method authorizes its account for what it
does (reads, review, locks, accounts), as the HTTP API and the web app rely on."""

from __future__ import annotations

import pytest

from knowsync import AuthError, KnowSync, PermissionDenied, Role
from knowsync._session import Session


def test_a_session_signs_in_with_a_token(demo: KnowSync) -> None:
    _, token = demo.add_user("dora", "editor")
    assert Session.signed_in(demo, token).user == "dora"
    with pytest.raises(AuthError):
        Session.signed_in(demo, "not-a-token")
    assert not Session.open_mode(demo)
    assert Session.open_mode(KnowSync("memory://"))


def test_the_review_queue_and_its_decisions_are_for_curators(demo: KnowSync) -> None:
    Session(demo, "editor").submit_triples([("France", "capital", "Paris")])
    held = Session(demo, "editor2").submit_triples([("France", "capital", "Lyon")])
    assert held.decision == "needs_review" and held.edit_id is not None
    editor = Session(demo, "editor2")
    for denied in (
        editor.review_queue,
        lambda: editor.approve(held.edit_id or 0),
        lambda: editor.reject(held.edit_id or 0, reason="no"),
    ):
        with pytest.raises(PermissionDenied):
            denied()
    curator = Session(demo, "curator")
    assert [r.id for r in curator.review_queue()] == [held.edit_id]
    rejected = curator.reject(held.edit_id, reason="not so")
    assert rejected.decision == "rejected"
    assert rejected.report["review"]["by"] == "curator"
    assert curator.review_queue() == []


def test_accounts_are_for_admins_and_tokens_for_their_owners(demo: KnowSync) -> None:
    editor, admin = Session(demo, "editor"), Session(demo, "admin")
    for denied in (
        editor.users,
        lambda: editor.get_user("viewer"),
        lambda: editor.add_user("eve", "admin"),
        lambda: editor.set_role("viewer", "admin"),
        lambda: editor.disable_user("viewer"),
        lambda: editor.new_token("viewer"),
    ):
        with pytest.raises(PermissionDenied):
            denied()
    assert "viewer" in editor.account_names()  # the journal names them anyway
    account, token = admin.add_user("eve")
    assert account.role is Role.VIEWER and account.created_by == "admin"
    assert Session.signed_in(demo, token).user == "eve"
    assert admin.set_role("eve", "editor").role is Role.EDITOR
    assert Session(demo, "eve").new_token("eve")  # one's own token needs no admin
    assert Session(demo, "eve").revoke_tokens("eve") == 2
    assert admin.disable_user("eve").disabled
    with pytest.raises(PermissionDenied):
        Session(demo, "eve").facts("Barack_Obama")  # a disabled account may do nothing
    assert not admin.enable_user("eve").disabled


def test_reads_need_an_account_once_accounts_exist(demo: KnowSync) -> None:
    stranger = Session(demo, "stranger")
    for denied in (
        stranger.stats,
        lambda: stranger.search_entities("Obama"),
        lambda: stranger.entity_name("barack obama"),
        lambda: list(stranger.export_lines()),
        stranger.whoami,
    ):
        with pytest.raises(PermissionDenied):
            denied()
    viewer = Session(demo, "viewer")
    assert viewer.entity_name("barack obama") == "Barack_Obama"
    assert "Barack_Obama" in viewer.search_entities("Obama")
    assert next(viewer.export_lines()).startswith("subject,relation,object")


def test_waiting_for_the_model_returns_the_entry_once_nothing_is_pending(demo: KnowSync) -> None:
    """Without a model nothing is pending: the entry comes back at once; a pending one is
    returned as it stands when the wait times out."""
    session = Session(demo, "alice")
    demo.add_user("alice", "editor")
    res = demo.edit([("France", "capital", "Lyon")], user="alice")
    assert res.edit_id is not None
    record = session.wait_for_model(res.edit_id, timeout=5)
    assert record.id == res.edit_id and record.report.get("model_state") is None
    with demo.store.write() as tx:  # as a queued knowledge base leaves it
        tx.update_edit(res.edit_id, report={**record.report, "model_state": "pending"})
    assert session.wait_for_model(res.edit_id, timeout=0.2).report["model_state"] == "pending"
