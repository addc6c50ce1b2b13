"""The web app as a person uses it: sign in, edit through chat, see the graph change, roll the
edit back from the history, approve a held edit as a curator, probe, import; a screenshot of
each page; no request ever leaves the machine, and the Content-Security-Policy blocks nothing
the page needs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from knowsync._session import Session
from tests.browser.conftest import App, csp_violations, non_local, shot


def sign_in(page: Page, app: App, user: str) -> None:
    page.goto(app.url)
    page.locator("#ks-token input").fill(app.tokens[user])
    page.locator("#ks-signin").click()
    expect(page.get_by_text(f"signed in as {user}")).to_be_visible()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def say(page: Page, text: str) -> None:
    box = page.locator("#ks-chat-input textarea")
    box.fill(text)
    box.press("Enter")


def draw(page: Page, entity: str) -> None:
    open_tab(page, "Graph")
    field = page.locator("#ks-entity input")
    field.fill(entity)
    field.press("Enter")
    page.get_by_role("button", name="Draw").click()
    expect(page.locator(f'#ks-graph g[data-entity="{entity}"]')).to_be_visible()


def test_sign_in_and_roles(page: Page, app: App) -> None:
    page.goto(app.url)
    expect(page.get_by_text("Sign in").first).to_be_visible()
    page.locator("#ks-token input").fill("not-a-token")
    page.locator("#ks-signin").click()
    expect(page.get_by_text("Could not sign in")).to_be_visible()
    shot(page, "01-sign-in")
    page.locator("#ks-token input").fill(app.tokens["vera"])
    page.locator("#ks-signin").click()
    expect(page.get_by_text("signed in as vera")).to_be_visible()
    expect(page.get_by_role("tab", name="Chat")).to_be_visible()
    expect(page.get_by_role("tab", name="Review")).to_have_count(0)
    expect(page.get_by_role("tab", name="Import")).to_have_count(0)


def test_edit_in_chat_see_graph_roll_back(page: Page, app: App) -> None:
    sign_in(page, app, "alice")
    say(page, 'The nickname of Barack_Obama is "Barry"')  # quoted: a new name, confirmed
    chat = page.locator("#ks-chat")
    expect(chat.get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible()
    expect(chat.get_by_text("New entities")).to_be_visible()
    say(page, "Who is the wife of Barack Obama?")
    expect(chat.get_by_text("Michelle_Obama").last).to_be_visible()
    shot(page, "02-chat")
    edit_id = app.ks.history(user="alice", limit=1)[0].id

    draw(page, "Barack_Obama")
    graph = page.locator("#ks-graph")
    expect(graph.locator('g[data-entity="Barry"]')).to_be_visible()
    expect(graph.locator('path[stroke="#ea580c"]')).to_have_count(1)  # the recent edit
    shot(page, "03-graph-after-edit")

    open_tab(page, "History")
    row = page.locator("#ks-history").get_by_role("gridcell", name="Barack_Obama nickname Barry")
    row.first.click()
    expect(page.get_by_text(f"#{edit_id}", exact=True).first).to_be_visible()
    page.locator("#ks-rollback").click()
    expect(page.get_by_text(f"edit #{edit_id} is undone")).to_be_visible()
    expect(page.locator("#ks-effect").get_by_text("Removed")).to_be_visible()
    shot(page, "04-history-rolled-back")

    draw(page, "Barack_Obama")
    expect(graph.locator('g[data-entity="Malia_Obama"]')).to_be_visible()
    expect(graph.locator('g[data-entity="Barry"]')).to_have_count(0)


def test_a_question_about_a_description_shows_the_facts_walked(page: Page, app: App) -> None:
    sign_in(page, app, "vera")
    chat = page.locator("#ks-chat")
    say(page, "Who is the father of the wife of Barack Obama?")
    expect(chat.get_by_text("Walked: wife → father")).to_be_visible()
    expect(chat.get_by_text("1. Barack_Obama | wife | Michelle_Obama")).to_be_visible()
    expect(chat.get_by_text("2. Michelle_Obama | father | Fraser_Robinson")).to_be_visible()
    expect(chat.locator("b", has_text="Fraser_Robinson").last).to_be_visible()
    shot(page, "21-chat-walk")
    # a hop the graph lacks is named
    say(page, "Who is the father of the father of the wife of Barack Obama?")
    expect(chat.get_by_text("the graph has no `father` for Fraser_Robinson")).to_be_visible()
    # "what do you know about X?" lists X's facts
    say(page, "What do you know about Michelle Obama?")
    expect(chat.get_by_text("what the graph holds about Michelle_Obama")).to_be_visible()
    expect(chat.get_by_text(re.compile("Michelle_Obama —born_in→ Chicago")).last).to_be_visible()
    shot(page, "22-chat-about")


def test_clarifying_question_offers_suggestions(page: Page, app: App) -> None:
    sign_in(page, app, "bob")
    say(page, "Barack Obama frobnicates Paris")
    chat = page.locator("#ks-chat")
    expect(chat.get_by_text("Question", exact=True)).to_be_visible()
    options = chat.locator("button.option")
    expect(options.first).to_be_visible()
    shot(page, "05-chat-clarification")
    before = chat.locator(".message").count()
    options.first.click()
    expect(chat.locator(".message")).not_to_have_count(before)


def test_a_new_name_is_created_with_one_click(page: Page, app: App) -> None:
    sign_in(page, app, "bob")
    say(page, "The nickname of Michelle Obama is Zephyra")
    chat = page.locator("#ks-chat")
    expect(chat.get_by_text("'Zephyra' is not in the graph yet.")).to_be_visible()
    nicknames = [f.object for f in app.ks.facts("Michelle_Obama") if f.relation == "nickname"]
    assert "Zephyra" not in nicknames and app.ks.history(user="bob", limit=5) == []
    confirm = chat.locator("button.option")
    expect(confirm).to_have_count(1)
    expect(confirm).to_have_text('The nickname of Michelle Obama is "Zephyra"')
    shot(page, "06-chat-new-name-asked")
    asked = chat.get_by_text("New entities").count()  # bob's earlier conversation is restored
    confirm.click()
    expect(chat.get_by_text(re.compile(r"Applied · edit #\d+")).last).to_be_visible()
    expect(chat.get_by_text("New entities")).to_have_count(asked + 1)  # asked, then created
    shot(page, "07-chat-new-name-created")
    nicknames = [f.object for f in app.ks.facts("Michelle_Obama") if f.relation == "nickname"]
    assert "Zephyra" in nicknames


def test_curator_approves_a_held_edit(page: Page, app: App, browser: Browser) -> None:
    # a curator locks the fact; an editor's change to it then waits for review
    sign_in(page, app, "carol")
    open_tab(page, "Review")
    page.get_by_text("Locks: protect facts").click()
    page.get_by_label("Entity", exact=True).fill("Mike_Pence")
    page.get_by_label("Relation (optional)").fill("wife")
    page.get_by_label("Object (optional)").fill("Karen_Pence")
    page.get_by_label("Reason", exact=True).fill("verified against the source")
    page.get_by_role("button", name="Lock", exact=True).click()
    expect(page.get_by_text("Locked: Mike_Pence|wife|Karen_Pence")).to_be_visible()

    editor = browser.new_page(viewport={"width": 1360, "height": 900})
    editor.on("request", lambda request: app.requests.append(request.url))
    sign_in(editor, app, "alice")
    say(editor, "The wife of Mike_Pence is Hillary_Clinton")
    expect(editor.locator("#ks-chat").get_by_text(re.compile("Waiting for review"))).to_be_visible()
    editor.close()
    held = app.ks.review_queue()[-1].id

    page.get_by_role("button", name="Refresh").click()
    cell = page.locator("#ks-queue").get_by_role("gridcell", name="Mike_Pence wife Hillary_Clinton")
    cell.first.click()
    expect(page.locator("#ks-review-id input")).to_have_value(str(held))
    page.locator("#ks-review-reason textarea").fill("checked: the test says so")
    shot(page, "06-review-queue")
    result = page.locator("#ks-review-result")
    page.locator("#ks-approve").click()
    # the lock still protects the fact: the curator is told to lift it first
    expect(result.get_by_text("remove the lock")).to_be_visible()
    lock_id = app.ks.locks("Mike_Pence")[0].id
    page.get_by_label("Lock #").fill(str(lock_id))
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Unlocked: Mike_Pence|wife|Karen_Pence")).to_be_visible()
    page.locator("#ks-approve").click()
    expect(result.get_by_text(re.compile(r"^Applied"))).to_be_visible()
    shot(page, "07-review-approved")
    assert app.ks.get_edit(held).state.value == "applied"


def test_probe_and_import(page: Page, app: App, tmp_path: Path) -> None:
    sign_in(page, app, "carol")
    open_tab(page, "Probe")
    if getattr(app.ks, "model", None) is None:
        expect(page.get_by_text("No model is loaded")).to_be_visible()
    shot(page, "08-probe")

    path = tmp_path / "more.csv"
    path.write_text(
        "head,relation,tail\nAda_Lovelace,father,Lord_Byron\nAda_Lovelace,born_in,London\n"
        "bad row without commas\n",
        encoding="utf-8",
    )
    open_tab(page, "Import")
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Bad rows")).to_be_visible()
    shot(page, "09-import")
    assert [f.object for f in app.ks.facts("Ada_Lovelace") if f.relation == "father"] == [
        "Lord_Byron"
    ]


def test_the_message_shows_at_once_and_the_answer_follows(
    page: Page, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is said appears in the chat at once, while the graph's part runs (made slow here:
    three seconds); the box waits meanwhile and is usable again once the answer is in."""
    submit = app.ks.submit

    def slow_submit(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3.0)
        return submit(*args, **kwargs)

    monkeypatch.setattr(app.ks, "submit", slow_submit)
    sign_in(page, app, "bob")
    say(page, "Who is the mother of Michelle Obama?")
    chat = page.locator("#ks-chat")
    said = chat.locator(".message.user").last
    expect(said).to_contain_text("Who is the mother of Michelle Obama?", timeout=1_500)
    box = page.locator("#ks-chat-input textarea")
    expect(box).to_be_disabled(timeout=1_500)
    expect(chat.get_by_text("Marian_Shields_Robinson")).to_have_count(0)  # not answered yet
    shot(page, "02-chat-said-at-once", settled=False)
    expect(chat.get_by_text("Marian_Shields_Robinson").last).to_be_visible(timeout=20_000)
    expect(box).to_be_enabled()
    expect(box).to_have_value("")


def test_a_viewer_asks_in_the_chat(page: Page, app: App) -> None:
    """A viewer's box says what their role can do; a question is answered from the graph; a
    statement is not applied, and they are not told to submit what they cannot."""
    sign_in(page, app, "vera")
    box = page.locator("#ks-chat-input textarea")
    expect(box).to_have_attribute("placeholder", "Ask a question (your role can read, not edit)")
    say(page, "Who is the father of Barack Obama?")
    chat = page.locator("#ks-chat")
    expect(chat.get_by_text("Hussein_Onyango_Obama").last).to_be_visible()
    say(page, "The nickname of Barack_Obama is Barry")
    reply = chat.locator(".message").last
    expect(reply).to_contain_text("your role can ask and read, not change the graph")
    expect(reply).not_to_contain_text("submit it as an edit")
    shot(page, "15-viewer-asks")
    assert "Barry" not in [f.object for f in app.ks.facts("Barack_Obama")]
    assert app.ks.history(user="vera", limit=5) == []


def test_a_curator_rejects_a_held_edit_and_the_author_is_told(
    page: Page, app: App, browser: Browser
) -> None:
    held = Session(app.ks, "alice").submit_triples([("America", "capital", "Chicago")])
    assert held.decision == "needs_review" and held.edit_id is not None
    sign_in(page, app, "carol")
    open_tab(page, "Review")
    page.get_by_role("button", name="Refresh").click()
    cell = page.locator("#ks-queue").get_by_role("gridcell", name="America capital Chicago")
    cell.first.click()
    expect(page.locator("#ks-review-id input")).to_have_value(str(held.edit_id))
    result = page.locator("#ks-review-result")
    page.locator("#ks-reject").click()  # no reason yet: asked for one, nothing decided
    expect(result.get_by_text("Say why it is rejected.")).to_be_visible()
    assert app.ks.get_edit(held.edit_id).state.value == "held"
    page.locator("#ks-review-reason textarea").fill("Washington, D.C. is the capital")
    page.locator("#ks-reject").click()
    expect(result.get_by_text("Refused", exact=True)).to_be_visible()
    shot(page, "07-review-rejected")
    record = app.ks.get_edit(held.edit_id)
    assert record.state.value == "refused"
    assert "Chicago" not in [f.object for f in app.ks.facts("America")]

    author = browser.new_page(viewport={"width": 1360, "height": 900})
    sign_in(author, app, "alice")
    expect(author.locator("#ks-notices")).to_contain_text(
        f"Edit #{held.edit_id} rejected by carol: Washington, D.C. is the capital"
    )
    author.close()


def test_a_large_import_shows_its_progress(
    page: Page, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Import tab counts the rows as the chunks go in (slowed here, a second a chunk, so
    that the page can be seen mid-way)."""
    rows = ["head,relation,tail"] + [f"Town_{i},located_in,Region_{i % 7}" for i in range(3000)]
    path = tmp_path / "towns.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_as = app.ks.import_as

    def slowed(*args: Any, **kwargs: Any) -> Any:
        tick = kwargs.get("progress")

        def slow_tick(done: int) -> None:
            time.sleep(1.0)
            if tick is not None:
                tick(done)

        return import_as(*args, **{**kwargs, "progress": slow_tick})

    monkeypatch.setattr(app.ks, "import_as", slowed)
    sign_in(page, app, "carol")
    open_tab(page, "Import")
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    counting = page.get_by_text(re.compile(r"[1-9][\d,]* / 3,000 rows")).first
    expect(counting).to_be_visible(timeout=20_000)
    shot(page, "09-import-progress", settled=False)
    expect(page.get_by_text("Imported", exact=True)).to_be_visible(timeout=60_000)
    assert len(app.ks.facts("Town_2999")) == 1


def test_nothing_was_fetched_from_the_internet(app: App) -> None:
    assert app.requests, "no requests were logged"
    assert non_local(app.requests) == []


def test_nothing_was_blocked_by_the_content_security_policy(app: App) -> None:
    assert csp_violations(app.console) == [], app.console


def test_the_graph_tab_takes_any_spelling(page: Page, app: App) -> None:
    """Typing "barack obama" drew two giant overlapping nodes (the typed name and the graph's
    Barack_Obama); the name is now resolved as the chat resolves it."""
    sign_in(page, app, "vera")
    open_tab(page, "Graph")
    field = page.locator("#ks-entity input")
    field.fill("barack obama")
    field.press("Enter")
    page.get_by_role("button", name="Draw").click()
    graph = page.locator("#ks-graph")
    expect(graph.locator('g[data-entity="Barack_Obama"]')).to_have_count(1)
    expect(graph.locator('g[data-entity="barack obama"]')).to_have_count(0)
    expect(graph.locator('g[data-entity="Michelle_Obama"]')).to_be_visible()
    shot(page, "06-graph-any-spelling")
