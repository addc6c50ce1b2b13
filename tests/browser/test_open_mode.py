"""The web app of a knowledge base without accounts, served for this machine only (what
`make run` starts): it opens straight into the chat as the local user, shows the model loading
in the header, and asks for sign-in once the first account exists."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from knowsync import KnowSync
from knowsync._outcomes import ModelStatus
from tests.browser.conftest import DEMO_KG, App, serving, shot


@pytest.fixture(scope="module")
def open_app() -> Iterator[App]:
    from ui.api import create_app

    ks = KnowSync("memory://")
    ks.import_file(DEMO_KG, user="demo")
    with serving(create_app(ks, open_web=True)) as url:
        yield App(url, ks, {})
    ks.close()


def test_the_header_follows_the_model_while_it_loads(tab: Page, open_app: App) -> None:
    ks = open_app.ks
    ks.model_status = ModelStatus("loading", started=time.time())
    try:
        tab.goto(open_app.url)
        header = tab.locator("#ks-header")
        expect(header.get_by_text(re.compile(r"model: loading… \d+ s"))).to_be_visible()
        ks.model_status = ModelStatus("ready", label="TinyModel · ROME", seconds=1.0)
        expect(header.get_by_text("model: TinyModel · ROME")).to_be_visible(timeout=10_000)
    finally:
        ks.model_status = ModelStatus()


def test_opens_into_the_chat_as_the_local_user_until_accounts_exist(
    tab: Page, open_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOWSYNC_USER", "dana")
    tab.goto(open_app.url)
    expect(tab.get_by_text("signed in as dana")).to_be_visible()
    expect(tab.locator("#ks-signin")).to_be_hidden()
    expect(tab.get_by_role("button", name="Sign out")).to_be_hidden()
    box = tab.locator("#ks-chat-input textarea")
    box.fill('The nickname of Barack_Obama is "Barry"')  # quoted: a new name, confirmed
    box.press("Enter")
    expect(tab.locator("#ks-chat").get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible()
    shot(tab, "10-open-mode-chat")
    assert open_app.ks.history(limit=1)[0].user == "dana"

    open_app.ks.add_user("root", "admin")  # the last test of this module: accounts now exist
    tab.reload()
    expect(tab.locator("#ks-signin")).to_be_visible()
    expect(tab.get_by_text("signed in as")).to_have_count(0)
