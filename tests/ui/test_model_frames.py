"""The Model tab's chart data: typed even when there is nothing to show yet (a chart first
drawn from untyped columns read the shares as categories, and kept doing so once checks
arrived)."""

from __future__ import annotations

from ui.web import agreement_by_relation, agreement_over_time


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
        by_relation = agreement_by_relation(records)
        assert over_time["agreement (%)"].dtype == float
        assert by_relation["cloze (%)"].dtype == float
        assert by_relation["paraphrase (%)"].dtype == float
    assert list(agreement_over_time([record])["measure"]) == [
        "cloze",
        "paraphrase",
        "same-subject locality",
    ]
    partial = {**record, "partial": True}
    assert agreement_over_time([partial]).empty  # partial checks measure a part: not charted
