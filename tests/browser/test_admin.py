"""The admin's screens for accounts and tokens (the Users tab): change a role, issue a token
that then signs in, revoke tokens, disable and enable an account; the rule that one active
admin remains is the door's, and the page says it."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import App, shot
from tests.browser.test_web import open_tab, sign_in


def _pick(page: Page, name: str) -> None:
    field = page.locator("#ks-user-pick input")
    field.click()
    page.get_by_role("option", name=name, exact=True).click()


def test_an_admin_manages_accounts_and_tokens(page: Page, app: App, browser: Browser) -> None:
    sign_in(page, app, "root")
    open_tab(page, "Users")
    message = page.locator("#ks-users-msg")
    _pick(page, "bob")
    page.get_by_label("New role").click()
    page.get_by_role("option", name="curator", exact=True).click()
    page.get_by_role("button", name="Set role").click()
    expect(message.get_by_text("bob is now curator.")).to_be_visible()
    assert app.ks.get_user("bob").role.value == "curator"

    page.get_by_label("Label of a new token (optional)").fill("laptop")
    page.get_by_role("button", name="New token").click()
    expect(message.get_by_text("shown this once")).to_be_visible()
    token = message.locator("code").inner_text()
    shot(page, "27-users-new-token")
    other = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    other.goto(app.url)
    other.locator("#ks-token input").fill(token)
    other.locator("#ks-signin").click()
    expect(other.get_by_text("signed in as bob")).to_be_visible()
    other.context.close()

    page.get_by_role("button", name="Revoke its tokens").click()
    expect(message.get_by_text("Revoked 2 token(s) of bob")).to_be_visible()
    page.get_by_role("button", name="Disable").click()
    expect(message.get_by_text("bob is disabled")).to_be_visible()
    assert app.ks.get_user("bob").disabled
    page.get_by_role("button", name="Enable").click()
    expect(message.get_by_text("bob is enabled again")).to_be_visible()
    assert not app.ks.get_user("bob").disabled

    _pick(page, "root")  # the last active admin: the door refuses, the page says why
    page.get_by_role("button", name="Disable").click()
    expect(message.get_by_text("the last active admin")).to_be_visible()
    assert not app.ks.get_user("root").disabled
    shot(page, "28-users-last-admin")
