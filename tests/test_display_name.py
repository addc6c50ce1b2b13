"""How entities are said in the prompts the model is taught and checked with."""

from __future__ import annotations

import pytest

from knowsync._model_side import display_name


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
