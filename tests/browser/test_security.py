"""The web app under attack: a client that speaks Gradio's queue protocol itself and names a
server file where an upload belongs, an editor who cascades a rollback into another user's
edits, oversized and cross-site uploads, a session whose token is revoked or whose account
is disabled while the page is open, markup typed into the chat, and the headers that keep the
page out of frames and sniffers. Each attack goes through the browser or through the HTTP
requests a page's own script could make."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from gradio.processing_utils import hash_file
from playwright.sync_api import Page, expect

from knowsync import KnowSync
from tests.browser.conftest import App, csp_violations, serving, shot
from tests.browser.test_web import draw, open_tab, say, sign_in

SECRET_TRIPLE = ("Secret_Subject", "father", "Secret_Object")


class QueueSession:
    """One Gradio session driven over HTTP, as a page's script could drive it: each call joins
    the queue (``/gradio_api/queue/join``) and reads its outcome from the session's event
    stream (``/gradio_api/queue/data``). The session's ``gr.State`` lives on the server, so
    signing in through it signs this session in."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.session_hash = secrets.token_hex(8)
        config = self.http.get("config").json()
        self.events = {d["api_name"]: d for d in config["dependencies"]}

    def call(self, api_name: str, *data: Any) -> dict[str, Any]:
        """The queue's ``process_completed`` message for one call of the event ``api_name``;
        when the server refuses the call at the door, a message of the same shape saying so
        (``msg`` "refused", the HTTP status and the server's words as the error)."""
        event = self.events[api_name]
        joined = self.http.post(
            "gradio_api/queue/join",
            json={
                "data": list(data),
                "fn_index": event["id"],
                "trigger_id": event["targets"][0][0],
                "session_hash": self.session_hash,
                "event_data": None,
            },
        )
        if joined.status_code in (403, 413):
            return {
                "msg": "refused",
                "status": joined.status_code,
                "success": False,
                "output": {"error": joined.text},
            }
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with self.http.stream(
            "GET", "gradio_api/queue/data", params={"session_hash": self.session_hash}
        ) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message: dict[str, Any] = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message["event_id"] == event_id:
                    return message
        raise AssertionError(f"no outcome for {api_name}")

    def upload(self, name: str, content: bytes) -> Path:
        """Upload a file the way the page does; the path the server keeps it at."""
        response = self.http.post("gradio_api/upload", files={"files": (name, content)})
        response.raise_for_status()
        return Path(response.json()[0])

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def queue(app: App) -> Iterator[QueueSession]:
    session = QueueSession(app.url)
    yield session
    session.close()


def new_account(app: App, name: str, role: str = "editor") -> str:
    """A fresh account for one test (so revoking or disabling it spares the others)."""
    _, token = app.ks.add_user(name, role)
    app.tokens[name] = token
    return name


def forged_file(path: Path | str) -> dict[str, Any]:
    """A FileData naming a server path, as if it had been uploaded."""
    return {"path": str(path), "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def imports_by(ks: KnowSync, user: str) -> list[int]:
    return [r.id for r in ks.history(user=user, limit=50) if r.kind.value == "import"]


def test_a_forged_server_path_is_neither_read_nor_imported_nor_served(
    app: App, queue: QueueSession, tmp_path: Path
) -> None:
    user = new_account(app, "mallory")
    signed_in = queue.call("do_signin", app.tokens[user])
    assert signed_in["success"], signed_in
    # where this server keeps uploads: ask it, with an upload of our own
    upload_dir = queue.upload("probe.csv", b"head,relation,tail\n").parent.parent
    secret = tmp_path / "secret.csv"
    secret.write_text("head,relation,tail\n" + ",".join(SECRET_TRIPLE) + "\n", encoding="utf-8")
    # a link inside the upload folder that leads out of it is no upload either
    hidden = upload_dir / secrets.token_hex(8)
    hidden.mkdir()
    link = hidden / "linked.csv"
    link.symlink_to(secret)

    for target in (secret, Path("/etc/passwd"), link):
        outcome = queue.call("do_import", forged_file(target), "skip", None)
        text = json.dumps(outcome)
        assert not outcome["success"], text
        assert "uploaded" in outcome["output"]["error"], text
        for leak in ("Secret_Subject", "root:", str(tmp_path), str(upload_dir)):
            assert leak not in text
        # nothing was copied where Gradio keeps files, and nothing is served
        copy = upload_dir / hash_file(target) / target.name
        assert not copy.exists(), copy
        for path in (copy, target):
            served = queue.http.get(f"gradio_api/file={quote(str(path))}")
            assert served.status_code in (403, 404), (path, served.status_code)
    assert imports_by(app.ks, user) == []
    assert app.ks.search_entities(SECRET_TRIPLE[0]) == []


def test_a_cascade_is_refused_when_it_would_undo_another_users_edit(page: Page, app: App) -> None:
    ks = app.ks
    sign_in(page, app, "alice")
    say(page, 'The father of "Zed_Alpha" is "Yan_Beta"')  # new names, confirmed by quotes
    expect(page.locator("#ks-chat").get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible()
    mine = ks.history(user="alice", limit=1)[0].id
    # bob's edit reads alice's fact: its grandfather fact is composed from it
    theirs = ks.submit("The father of Yan_Beta is Xav_Gamma", user="bob", new_names=True).edit_id
    assert theirs is not None

    open_tab(page, "History")
    page.locator("#ks-history-id input").fill(str(mine))
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_label("Also undo later edits that depend on it").check()
    page.locator("#ks-rollback").click()
    effect = page.locator("#ks-effect")
    expect(effect.get_by_text("Not rolled back")).to_be_visible()
    expect(effect.get_by_text(re.compile(rf"edit {theirs} is bob's"))).to_be_visible()
    shot(page, "21-cascade-refused")
    assert ks.get_edit(mine).rolled_back_by is None
    assert ks.get_edit(theirs).rolled_back_by is None
    assert [f.object for f in ks.facts("Zed_Alpha") if f.relation == "paternal_grandfather"] == [
        "Xav_Gamma"
    ]


def test_uploads_are_capped(app: App, queue: QueueSession) -> None:
    limit = queue.http.get("config").json()["max_file_size"]
    assert limit is not None and 0 < limit <= 64 * 1024 * 1024

    def body() -> Iterator[bytes]:
        boundary = b"--ks-boundary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="big.csv"'
        yield b"\r\nContent-Type: text/csv\r\n\r\n"
        left = limit + 1
        while left > 0:
            chunk = min(left, 1 << 20)
            yield b"x" * chunk
            left -= chunk
        yield b"\r\n" + boundary + b"--\r\n"

    response = queue.http.post(
        "gradio_api/upload",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=ks-boundary"},
    )
    assert response.status_code == 413, response.text


def test_an_upload_is_gone_once_imported(page: Page, app: App, tmp_path: Path) -> None:
    sign_in(page, app, "carol")
    path = tmp_path / "kept.csv"
    path.write_text("head,relation,tail\nGrace_Hopper,born_in,New_York\n", encoding="utf-8")
    open_tab(page, "Import")
    page.locator("input[type=file]").set_input_files(str(path))
    link = page.locator('a[href*="file="]').first
    expect(link).to_be_attached()
    url = link.get_attribute("href")
    assert url
    fetched = httpx.get(httpx.URL(app.url).join(url), timeout=10)
    assert fetched.status_code == 200  # the page may show its own upload before the import
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported", exact=True)).to_be_visible()
    assert [f.object for f in app.ks.facts("Grace_Hopper")] == ["New_York"]
    assert httpx.get(httpx.URL(app.url).join(url), timeout=10).status_code in (403, 404)


def test_uploads_do_not_outlive_the_server() -> None:
    from ui.web import mount

    ks = KnowSync("memory://")
    try:
        with serving(mount(FastAPI(), ks)) as url:
            session = QueueSession(url)
            kept = session.upload("left.csv", b"head,relation,tail\nA,father,B\n")
            session.close()
            assert kept.exists()
        assert not kept.exists()
        assert not kept.parent.parent.exists()  # the server's own upload folder
    finally:
        ks.close()


def test_uploads_and_actions_from_another_site_are_refused(app: App, queue: QueueSession) -> None:
    files = {"files": ("x.csv", b"head,relation,tail\n")}
    foreign = queue.http.post(
        "gradio_api/upload", files=files, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    own = queue.http.post("gradio_api/upload", files=files, headers={"Origin": app.url[:-1]})
    assert own.status_code == 200
    # nor may another site's page act in the app (join the queue)
    event = queue.events["do_signin"]
    joined = queue.http.post(
        "gradio_api/queue/join",
        json={"data": [app.tokens["alice"]], "fn_index": event["id"], "session_hash": "x1"},
        headers={"Origin": "https://evil.example"},
    )
    assert joined.status_code == 403


def test_open_mode_answers_only_this_machine() -> None:
    # a page of another site that reaches the loopback server through DNS rebinding sends
    # its own host name: it must not act as the local user
    from ui.api import create_app

    ks = KnowSync("memory://")
    try:
        with serving(create_app(ks, open_web=True)) as url:
            port = httpx.URL(url).port
            own = httpx.get(url, timeout=10)
            assert own.status_code == 200
            assert httpx.get(url, headers={"Host": f"localhost:{port}"}, timeout=10).is_success
            for path in ("", "config"):
                rebound = httpx.get(url + path, headers={"Host": f"evil.example:{port}"})
                assert rebound.status_code == 403, path
            session = QueueSession(url)
            session.http.headers["Host"] = f"evil.example:{port}"
            outcome = session.call("do_open_mode")
            session.close()
            assert outcome["msg"] == "refused"
    finally:
        ks.close()


@pytest.mark.parametrize("how", ["revoke", "disable"])
def test_a_session_ends_when_its_token_is_revoked_or_its_account_disabled(
    page: Page, app: App, how: str
) -> None:
    user = new_account(app, f"dora_{how}")
    sign_in(page, app, user)
    if how == "revoke":
        assert app.ks.revoke_tokens(user) == 1
        reason = "revoked"
    else:
        app.ks.disable_user(user, by=None)
        reason = "disabled"
    say(page, 'The nickname of Barack_Obama is "Barry"')
    expect(page.locator("#ks-signin")).to_be_visible()
    told = page.get_by_text(re.compile(f"signed out.*{reason}", re.IGNORECASE))
    expect(told.first).to_be_visible()
    expect(page.get_by_text(f"signed in as {user}")).to_have_count(0)
    shot(page, f"22-session-{how}d")
    assert app.ks.history(user=user, limit=5) == []
    assert "Barry" not in [f.object for f in app.ks.facts("Barack_Obama")]


def test_a_forged_call_from_a_revoked_session_changes_nothing(
    app: App, queue: QueueSession
) -> None:
    user = new_account(app, "eve")
    assert queue.call("do_signin", app.tokens[user])["success"]
    app.ks.revoke_tokens(user)
    outcome = queue.call("do_answer", 'The nickname of Barack_Obama is "Barry"', [], None)
    assert not outcome["success"]
    assert app.ks.history(user=user, limit=5) == []


def test_typed_markup_is_shown_as_text(page: Page, app: App) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, app, "bob")
    typed = "<b>bold</b> <img src=x onerror=alert(1)> *not emphasis*"
    say(page, typed)
    chat = page.locator("#ks-chat")
    said = chat.locator(".message.user").last
    expect(said).to_contain_text(typed)
    expect(chat.locator(".message").last).not_to_contain_text("Reading, checking")
    shot(page, "23-chat-markup-as-text")
    assert said.locator("b, img, em").count() == 0
    assert chat.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_security_headers(app: App) -> None:
    for path in ("", "config", "api/v1/health"):
        response = httpx.get(app.url + path, timeout=10)
        headers = response.headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "default-src 'self'" in policy, path


def test_the_page_works_under_its_content_security_policy(page: Page, app: App) -> None:
    sign_in(page, app, "vera")
    say(page, "Who is the wife of Barack Obama?")
    expect(page.locator("#ks-chat").get_by_text("Michelle_Obama").last).to_be_visible()
    draw(page, "Barack_Obama")
    # the graph's click handler is compiled in the page: a click re-centres the graph
    page.locator('#ks-graph g[data-entity="Michelle_Obama"]').click()
    expect(page.locator("#ks-entity input")).to_have_value("Michelle_Obama")
    expect(page.locator('#ks-graph g[data-entity="Marian_Shields_Robinson"]')).to_be_visible()
    assert csp_violations(app.console) == [], app.console
