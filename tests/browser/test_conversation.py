"""The chat as a person comes back to it: their conversation is kept with the knowledge base
and shown again at the next sign-in (after a reload, in another browser), never to another
account; and the notice area tells an author what the curators decided on their held edits,
by whom and why, with a button that opens the edit. A screenshot of each page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, expect

from knowsync._session import Session
from tests.browser.conftest import App, shot
from tests.browser.test_web import say, sign_in


@contextmanager
def fresh_page(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own: no state shared with another page."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_conversation_comes_back_and_is_the_accounts_own(
    page: Page, app: App, browser: Browser
) -> None:
    sign_in(page, app, "alice")
    chat = page.locator("#ks-chat")
    say(page, 'The nickname of Barack_Obama is "Barry"')  # quoted: a name new to the graph
    expect(chat.get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible()
    say(page, "Who is the wife of Barack Obama?")
    expect(chat.get_by_text("Michelle_Obama").last).to_be_visible()
    kept = Session(app.ks, "alice").conversation()
    assert [m.role for m in kept] == ["user", "assistant", "user", "assistant"]
    assert "Barack_Obama is" in kept[0].content and "Barry" in kept[0].content
    shown = chat.locator(".message").count()

    page.reload()  # the tab's session goes with the page: sign in again, the chat is back
    sign_in(page, app, "alice")
    expect(chat.get_by_text('The nickname of Barack_Obama is "Barry"')).to_be_visible()
    expect(chat.get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible()
    expect(chat.get_by_text("Who is the wife of Barack Obama?")).to_be_visible()
    expect(chat.locator(".message")).to_have_count(shown)
    shot(page, "10-chat-restored-after-reload")

    with fresh_page(browser) as other_browser:  # another browser, the same account
        sign_in(other_browser, app, "alice")
        expect(other_browser.locator("#ks-chat").locator(".message")).to_have_count(shown)

    with fresh_page(browser) as bob:  # another account sees none of it
        sign_in(bob, app, "bob")
        bob_chat = bob.locator("#ks-chat")
        expect(bob_chat.get_by_text("State a fact, ask, or undo.")).to_be_visible()
        expect(bob_chat.get_by_text("Barry")).to_have_count(0)
        say(bob, "Who is the father of Barack Obama?")
        expect(bob_chat.get_by_text("Hussein_Onyango_Obama").last).to_be_visible()
        shot(bob, "11-chat-another-account")
    assert len(Session(app.ks, "bob").conversation()) == 2
    assert len(Session(app.ks, "alice").conversation()) == 4  # untouched by bob's

    page.locator("#ks-chat").get_by_role("button", name="Clear").click()
    expect(chat.locator(".message")).to_have_count(0)
    for _ in range(50):  # the clear event reaches the server after the page empties
        if not Session(app.ks, "alice").conversation():
            break
        page.wait_for_timeout(100)
    assert Session(app.ks, "alice").conversation() == []


def test_the_author_is_told_what_the_curators_decided(
    page: Page, app: App, browser: Browser
) -> None:
    sign_in(page, app, "alice")
    say(page, "The wife of Mike_Pence is Hillary_Clinton")
    chat = page.locator("#ks-chat")
    expect(chat.get_by_text(re.compile("Waiting for review"))).to_be_visible()
    notices = page.locator("#ks-notices")
    expect(notices.get_by_text("None yet.")).to_be_visible()
    alice = Session(app.ks, "alice")
    rejected = app.ks.history(user="alice", limit=1)[0].id
    other = alice.submit_triples([("America", "capital", "New_York")])
    assert other.decision == "needs_review" and other.edit_id is not None
    approved = other.edit_id

    carol = Session(app.ks, "carol")
    carol.reject(rejected, reason="Karen Pence, says the record")
    carol.approve(approved, reason="checked for the test")

    with fresh_page(browser) as again:  # the author's next visit
        sign_in(again, app, "alice")
        panel = again.locator("#ks-notices")
        expect(panel.get_by_text("2 new")).to_be_visible()
        expect(panel).to_contain_text(
            f"Edit #{rejected} rejected by carol: Karen Pence, says the record"
        )
        expect(panel).to_contain_text(f"Edit #{approved} approved by carol: checked for the test")
        expect(panel).to_contain_text("+ Mike_Pence wife Hillary_Clinton")
        shot(again, "12-notices")

        panel.get_by_role("button", name=f"Edit #{rejected}").click()
        expect(again.get_by_role("tab", name="History", selected=True)).to_be_visible()
        expect(again.locator("#ks-history-id input")).to_have_value(str(rejected))
        expect(
            again.get_by_text("rejected by carol: Karen Pence, says the record").last
        ).to_be_visible()
        shot(again, "13-notice-opens-the-edit")

        again.get_by_role("tab", name="Chat").click()
        again.locator("#ks-notices-seen").click()
        expect(panel.get_by_text("2 new")).to_have_count(0)
        expect(again.locator("#ks-notices-seen")).to_be_hidden()
        expect(panel).to_contain_text(f"Edit #{rejected} rejected by carol")  # still listed
        shot(again, "14-notices-read")
    assert alice.notices() == []
    assert [n.edit_id for n in alice.notices(include_seen=True)] == [approved, rejected]

    # the first page, signed in all along, learns it at its next exchange
    say(page, "Who is the wife of Mike Pence?")
    expect(notices).to_contain_text(f"Edit #{rejected} rejected by carol")


def test_two_tabs_of_one_account_both_keep_what_they_said(
    page: Page, app: App, browser: Browser
) -> None:
    """Each tab adds its own exchanges to the account's conversation: a tab that was opened
    before the other one spoke does not overwrite it when it speaks in turn."""
    _, app.tokens["dora"] = app.ks.add_user("dora", "editor")
    sign_in(page, app, "dora")
    with fresh_page(browser) as second:
        sign_in(second, app, "dora")  # both tabs open, both chats empty
        say(page, "Who is the wife of Barack Obama?")
        expect(page.locator("#ks-chat").get_by_text("Michelle_Obama").last).to_be_visible()
        say(second, "Who is the father of Barack Obama?")  # its chat never showed the first
        expect(second.locator("#ks-chat").get_by_text("Hussein_Onyango_Obama").last).to_be_visible()
        expect(second.locator("#ks-chat").get_by_text("Who is the wife")).to_have_count(0)
        one_exchange = second.locator("#ks-chat .message").count()
    kept = Session(app.ks, "dora").conversation()
    assert [m.role for m in kept] == ["user", "assistant", "user", "assistant"]
    assert "wife" in kept[0].content and "father" in kept[2].content  # in the order said

    page.reload()
    sign_in(page, app, "dora")
    chat = page.locator("#ks-chat")
    expect(chat.locator(".message")).to_have_count(2 * one_exchange)
    expect(chat.get_by_text("Who is the wife of Barack Obama?")).to_be_visible()
    expect(chat.get_by_text("Who is the father of Barack Obama?")).to_be_visible()
