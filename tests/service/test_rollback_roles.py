"""A rollback an account asks for undoes only edits that account may undo: with a cascade,
every edit it reaches, however deep, is checked in the rollback's own transaction (the web app
and the HTTP API ask for it with ``check_roles``); one it may not undo refuses the whole
rollback, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowsync import KnowSync
from knowsync._outcomes import PermissionDenied
from ui.api import API_PREFIX, create_app


def chain(ks: KnowSync) -> tuple[int, int, int]:
    """Three edits, each composing a grandfather fact from the one before: the editor's
    first two, then editor2's (which depends on the second only)."""
    ids = []
    for user, sentence in (
        ("editor", "The father of Zed_Alpha is Yan_Beta"),
        ("editor", "The father of Yan_Beta is Xav_Gamma"),
        ("editor2", "The father of Xav_Gamma is Wil_Delta"),
    ):
        sub = ks.submit(sentence, user=user, new_names=True)  # the names are made up
        assert sub.decision == "accepted" and sub.edit_id is not None, sub
        ids.append(sub.edit_id)
    return ids[0], ids[1], ids[2]


def in_force(ks: KnowSync, *ids: int) -> bool:
    return all(ks.get_edit(i).rolled_back_by is None for i in ids)


def test_a_cascade_that_reaches_another_users_edit_is_refused(demo: KnowSync) -> None:
    first, second, theirs = chain(demo)
    with pytest.raises(PermissionDenied, match=rf"edit {theirs} is editor2's"):
        demo.rollback(first, user="editor", cascade=True, check_roles=True)
    assert in_force(demo, first, second, theirs)
    # a curator may undo anyone's edits: the same cascade goes through
    results = demo.rollback(first, user="curator", cascade=True, check_roles=True)
    assert [r.report["rollback_of"] for r in results] == [theirs, second, first]


def test_an_import_batch_rollback_checks_what_it_cascades_into(
    demo: KnowSync, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("head,relation,tail\nZed_Alpha,father,Yan_Beta\n", encoding="utf-8")
    report = demo.import_file(rows, user="editor")
    # editor2's edit composes a grandfather fact from the imported one
    sub = demo.submit("The father of Yan_Beta is Xav_Gamma", user="editor2", new_names=True)
    assert sub.decision == "accepted" and sub.edit_id is not None, sub
    with pytest.raises(PermissionDenied, match=rf"edit {sub.edit_id} is editor2's"):
        demo.rollback_batch(report.batch, user="editor", check_roles=True)
    assert in_force(demo, *report.edits, sub.edit_id)


def test_the_http_api_refuses_a_cascade_into_another_users_edit(demo: KnowSync) -> None:
    first, second, theirs = chain(demo)
    token = demo.new_token("editor")
    with TestClient(create_app(demo, web=False)) as http:
        answer = http.post(
            f"{API_PREFIX}/edits/{first}/rollback",
            json={"cascade": True},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 403, answer.text
    assert f"edit {theirs}" in answer.text
    assert in_force(demo, first, second, theirs)
