"""How entities are said in the prompts the model is taught and checked with."""

from __future__ import annotations

import pytest

from knowsync._model_side import _clause_ended, _first_clause, display_name


@pytest.mark.parametrize(
    ("entity", "said"),
    [
        ("Barack_Obama", "Barack Obama"),
        ("New_York  City", "New York City"),
        ("1961-08-04", "August 4, 1961"),  # as a text says it, not as the graph stores it
        ("1961-08", "August 1961"),
        ("0044-03-15", "March 15, 44"),
        ("2020-13-01", "2020-13-01"),  # not a date: said as written
        ("2020-02-40", "2020-02-40"),
        ("Apollo_11", "Apollo 11"),
    ],
)
def test_display_name(entity: str, said: str) -> None:
    assert display_name(entity) == said


@pytest.mark.parametrize(
    "text",
    [
        " Paris. It is",
        "Rome.\nThe",
        "\n\nWashington, D.C. is the",
        "a man who has been",
        "1961, and she",
        '"Barry". He',
        "Honolulu.",
        "",
    ],
)
def test_generation_stops_only_where_the_answer_is_settled(text: str) -> None:
    """``ModelSide.answer`` stops generating once ``_clause_ended`` says so: from then on no
    continuation changes the answer ``_first_clause`` cuts."""
    for cut in range(len(text) + 1):
        head = text[:cut]
        if _clause_ended(head):
            for more in ("", " more words", ". And", "\nnext line", "x"):
                assert _first_clause(head + more) == _first_clause(head), (head, more)
