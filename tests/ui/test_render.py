"""What the chat says happened: the graph's result as the headline, the model's as a line of its
own that is true of what the model now answers (it said 'the graph and the model were
updated' whatever the model did)."""

from __future__ import annotations

import re
from typing import Any

from ui._web_render import submission_html


def _applied(model: list[dict[str, Any]], **report: Any) -> dict[str, Any]:
    added = [{"subject": "America", "relation": "president", "object": "Joe_Biden"}]
    return {
        "decision": "accepted",
        "edit_id": 7,
        "intent": {},
        "report": {"added": added, **report},
        "model": model,
    }


def _row(follows: bool) -> dict[str, Any]:
    after = "Joe Biden" if follows else "Jill Biden, who is"
    return {"prompt": "The president of America is", "target": "Joe Biden", "before": "Donald",
            "after": after, "follows": follows}  # fmt: skip


def test_the_model_line_says_whether_the_model_follows() -> None:
    html = submission_html(_applied([_row(True)], model_state="applied"), model_loaded=True)
    assert "Applied · edit #7" in html and "the graph is updated" in html
    assert "Model: follows" in html and "now answers so" in html
    assert "the model were updated" not in html

    html = submission_html(
        _applied([_row(True), _row(False)], model_state="applied"), model_loaded=True
    )
    assert "Model: does not follow" in html and "on 1 of 2 facts" in html
    assert "Model: follows" not in html


def test_a_failed_model_write_and_a_retraction_that_stays_are_flagged() -> None:
    failed = _applied([], model_state="failed", model_error="out of memory")
    html = submission_html(failed, model_loaded=True)
    assert "Model: write failed" in html and "out of memory" in html

    # a retraction reaches the weights now: its row says whether the model still gives it
    row = {"prompt": "The r of A is", "retracted": "B", "before": "B", "after": "C"}
    retraction = {
        "decision": "accepted",
        "edit_id": 8,
        "intent": {},
        "report": {"added": [], "retracted": [{"subject": "A", "relation": "r", "object": "B"}]},
        "model": [{**row, "forgotten": True}],
    }
    html = submission_html(retraction, model_loaded=True)
    assert "Model: follows" in html and "forgotten" in html
    stuck = {**retraction, "model": [{**row, "after": "B", "forgotten": False}]}
    html = submission_html(stuck, model_loaded=True)
    assert "Model: does not follow" in html and "still says it" in html


def test_the_import_summary_accounts_for_every_row_in_file_order() -> None:
    """It said "Imported 997 rows" for 990 added, 6 bad and 3 skipped rows, had no skipped
    column and listed bad rows out of order."""
    from ui._web_render import import_report

    report = {
        "batch": "b1",
        "rows": 994,  # the rows that parsed
        "added": 990,
        "duplicates": 1,
        "skipped": [
            {"line": 9, "triple": ["A", "capital", "B"], "reason": "contradicts"},
            {"line": 4, "triple": ["C", "capital", "D"], "reason": "contradicts"},
            {"line": 7, "triple": ["E", "capital", "F"], "reason": "held back"},
        ],
        "bad_rows": [{"line": n, "reason": "bad"} for n in (30, 3, 12, 5, 80, 41)],
    }
    html = import_report(report, 2.0)
    assert "1,000 rows read" in html
    assert "<th>skipped</th>" in html and "<td>3</td>" in html and "<td>6</td>" in html
    lines = [int(x) for x in re.findall(r"line (\d+):", html)]
    assert lines == [3, 5, 12, 30, 41, 80, 4, 7, 9]


def _walk(missing: dict[str, Any] | None) -> dict[str, Any]:
    chain = [{"hop": 1, "subject": "America", "relation": "president", "object": "Joe_Biden"}]
    if missing is None:
        chain.append({"hop": 2, "subject": "Joe_Biden", "relation": "wife", "object": "Jill_Biden"})
    return {
        "question": "Who is the wife of the president of America?",
        "subject": "America",
        "relation": "wife",
        "graph": [] if missing else ["Jill_Biden"],
        "facts": [],
        "model": None,
        "agree": None,
        "unclear": None,
        "path": ["president", "wife"],
        "chain": chain,
        "missing": missing,
        "model_in_context": None,
    }


def test_a_walk_shows_each_hop_and_the_missing_one() -> None:
    done = re.sub(r"<[^>]+>", " ", submission_html({"answer": _walk(None)}, model_loaded=False))
    assert "Walked: president → wife" in done and "Jill_Biden" in done
    assert "1. America | president | Joe_Biden" in done
    assert "2. Joe_Biden | wife | Jill_Biden" in done
    missing = {"hop": 2, "subject": ["Joe_Biden"], "relation": "wife",
               "message": "the graph has no `wife` for Joe_Biden"}  # fmt: skip
    html = re.sub(r"<[^>]+>", " ", submission_html({"answer": _walk(missing)}, model_loaded=False))
    assert "the graph has no `wife` for Joe_Biden" in html
    assert "2. missing: the graph has no `wife` for Joe_Biden" in html


def test_notices_name_the_decision_who_and_why_escaped() -> None:
    from kg import EditState
    from knowsync._outcomes import Notice
    from ui._web_render import notices_html

    def notice(edit_id: int, decision: Any, state: EditState, seen: bool) -> Notice:
        return Notice(
            edit_id=edit_id,
            decision=decision,
            by="carol",
            at="2030-01-01T00:00:00.000000+00:00",
            reason="<b>no</b> source",
            state=state,
            summary="+ a b c",
            seen=seen,
        )

    html = notices_html(
        [
            notice(9, "approved", EditState.REFUSED, False),  # refused once planned again
            notice(4, "rejected", EditState.REFUSED, True),
        ]
    )
    assert "1 new" in html and html.count('class="ks-notice ks-new"') == 1
    assert '<button type="button" class="ks-link" data-edit="9">Edit #9</button>' in html
    assert "&lt;b&gt;no&lt;/b&gt; source" in html and "<b>no</b>" not in html
    assert html.count("(now refused)") == 1  # said only where the outcome differs
    assert "None yet." in notices_html([])
