"""Failed sign-ins in the web app are counted per address with the HTTP API's token checks:
after five, the address is paused (even a good token waits), so a token cannot be guessed
through the page. Its own server: the pause would hold up other modules' sign-ins."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from knowsync import KnowSync
from tests.browser.conftest import DEMO_KG, App, serving


@pytest.fixture(scope="module")
def guarded() -> Iterator[App]:
    from ui.api import create_app

    ks = KnowSync("memory://")
    ks.import_file(DEMO_KG, user="demo")
    _, token = ks.add_user("alice", "editor")
    with serving(create_app(ks)) as url:
        yield App(url, ks, {"alice": token})
    ks.close()


def sign_in(page: Page, token: str) -> None:
    page.locator("#ks-token input").fill(token)
    page.locator("#ks-signin").click()


def test_failed_sign_ins_pause_the_address(tab: Page, guarded: App) -> None:
    tab.goto(guarded.url)
    for n in range(5):  # each answer waited for: a click while one is pending is dropped
        sign_in(tab, f"guess-{n}")
        said = f"{4 - n} more failed attempt(s)" if n < 4 else "now pauses for up to 60 s"
        expect(tab.get_by_text(said).last).to_be_visible()
    sign_in(tab, guarded.tokens["alice"])  # the right token, but the address is paused
    expect(tab.get_by_text("too many failed sign-ins").last).to_be_visible()
    expect(tab.get_by_text("signed in as alice")).to_have_count(0)
    # the same count guards the HTTP API
    api = httpx.get(
        f"{guarded.url}api/v1/whoami",
        headers={"Authorization": f"Bearer {guarded.tokens['alice']}"},
    )
    assert api.status_code == 429 and "Retry-After" in api.headers
