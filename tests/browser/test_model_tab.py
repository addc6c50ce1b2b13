"""The Model tab: the model-versus-graph agreement as recorded checks, over time and per
relation; what a reader sees without a model loaded (the check itself, with the real model,
is in test_real_model.py)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from knowsync._agreement import AgreementReport, record_check
from tests.browser.conftest import App, shot
from tests.browser.test_web import open_tab, sign_in


def _report(cloze: float) -> AgreementReport:
    relations = {"capital": cloze, "spouse": cloze / 2, "born_in": 1.0}
    return AgreementReport(
        relations={
            name: {"pairs": 3, "cloze": share, "paraphrase": share, "paraphrase_asked": 6}
            for name, share in relations.items()
        },
        cloze=cloze,
        paraphrase=cloze - 0.1,
        locality=1.0,
        same_subject=0.5,
        counts={"cloze": 9, "paraphrase": 18, "locality": 49, "same_subject": 6},
        edits_in_force=[1],
    )


def test_the_model_tab_charts_the_recorded_checks(page: Page, app: App) -> None:
    record_check(app.ks, _report(0.4), user="carol")
    sign_in(page, app, "vera")
    open_tab(page, "Model")
    # one check: no line to draw yet, so its figures are drawn as points
    first = page.locator("#ks-agreement-first")
    expect(first.locator("canvas, svg").first).to_be_visible()
    expect(page.locator("#ks-agreement-time")).to_be_hidden()
    shot(page, "24-model-first-check")
    for share in (0.7, 0.9):
        record_check(app.ks, _report(share), user="carol")
    page.get_by_role("button", name="Refresh").click()
    summary = page.locator("#ks-agreement-summary")
    expect(summary.get_by_text("No model is loaded")).to_be_visible()
    expect(summary.get_by_text("Latest check")).to_be_visible()
    expect(summary.locator(".ks-tile").first).to_contain_text("90.0%")
    expect(summary.locator(".ks-tile").nth(3)).to_contain_text("same-subject locality")
    # the line over time is drawn (Vega renders it as canvas or SVG), the points are gone
    expect(page.locator("#ks-agreement-time").locator("canvas, svg").first).to_be_visible()
    expect(first).to_be_hidden()
    # one bar per relation, the least agreement first, with its share
    bars = page.locator("#ks-agreement-relations .ks-bar-row")
    expect(bars).to_have_count(3)
    expect(bars.first).to_have_attribute("data-relation", "spouse")
    expect(bars.first).to_contain_text("45.0%")
    expect(bars.last).to_have_attribute("data-relation", "born_in")
    expect(bars.last).to_contain_text("100.0%")
    # no model here, and a viewer may not start a check either
    expect(page.locator("#ks-model-check")).to_have_count(0)
    expect(page.locator("#ks-model-sync")).to_have_count(0)
    shot(page, "24-model-agreement")


def test_the_entity_pickers_ask_the_server_as_you_type(page: Page, app: App) -> None:
    """The Graph tab's picker no longer loads every name at sign-in: it offers a few and asks
    the server for the names matching what is typed (any spelling)."""
    first = set(app.ks.search_entities("", limit=50))
    longest = max((f.subject for f in app.ks.state()), key=len)
    assert longest not in first  # only the server's type-ahead can offer it
    sign_in(page, app, "vera")
    open_tab(page, "Graph")
    field = page.locator("#ks-entity input")
    field.click()
    field.press_sequentially(longest.replace("_", " ").lower()[:12], delay=40)
    expect(page.get_by_role("option", name=longest)).to_be_visible()
    page.get_by_role("option", name=longest).click()
    page.get_by_role("button", name="Draw").click()
    expect(page.locator(f'#ks-graph g[data-entity="{longest}"]')).to_be_visible()
    shot(page, "26-graph-type-ahead")
