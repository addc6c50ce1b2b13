"""The Model tab's charts: the data over time typed even when there is nothing to show yet
(a chart first drawn from untyped columns read the shares as categories, and kept doing so
once checks arrived); the bars per relation, least agreement first."""

from __future__ import annotations

from ui._web_render import relation_bars_html
from ui.web import agreement_over_time


def test_the_frames_are_typed_when_empty_and_when_full() -> None:
    record = {
        "at": "2026-12-04T21:49:57.000001+00:00",
        "partial": False,
        "cloze": 1.0,
        "paraphrase": 0.9,
        "locality": None,
        "same_subject": 0.5,
        "relations": {"capital": {"pairs": 2, "cloze": 1.0, "paraphrase": 0.5}},
    }
    for records in ([], [record]):
        over_time = agreement_over_time(records)
        assert over_time["agreement (%)"].dtype == float
    assert list(agreement_over_time([record])["measure"]) == [
        "cloze",
        "paraphrase",
        "same-subject locality",
    ]
    partial = {**record, "partial": True}
    assert agreement_over_time([partial]).empty  # partial checks measure a part: not charted


def test_the_bars_put_the_least_agreement_first_and_read_any_name() -> None:
    long_name = "member_of_the_political_party_of_record"
    record = {
        "at": "2026-12-04T21:49:57+00:00",
        "relations": {
            "capital": {"pairs": 12, "cloze": 1.0, "paraphrase": 0.75},
            long_name: {"pairs": 1, "cloze": 0.5, "paraphrase": None},
            "spouse": {"pairs": 3, "cloze": 0.5, "paraphrase": 0.25},
            "unasked": {"pairs": 0, "cloze": None, "paraphrase": None},
        },
    }
    html = relation_bars_html([record])
    order = [html.index(f'data-relation="{name}"') for name in (long_name, "spouse", "capital")]
    assert order == sorted(order)  # 50% (by name), 50%, then 100%
    assert 'data-relation="unasked"' not in html  # nothing was asked of it
    assert f'title="{long_name}: cloze 50.0%, paraphrases —"' in html  # the full name on hover
    assert 'style="width:75.0%"' in html and "12 pairs" in html and "1 pair<" in html
    assert relation_bars_html([]) == "" and relation_bars_html([{"relations": {}}]) == ""
