from __future__ import annotations

import pytest

from kg import InputError, check_entity_name, check_relation_name, entity_key, relation_key


@pytest.mark.parametrize(
    "name", ["Barack_Obama", "Barack Obama", "barack obama", "  BARACK \t OBAMA  ", "Barack__Obama"]
)
def test_entity_key_folds_spellings(name: str) -> None:
    assert entity_key(name) == "barack obama"


def test_exact_keys() -> None:
    assert entity_key(" Barack_Obama ", folded=False) == "Barack_Obama"


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 201, "limit is 200"),
        ("a\x00b", "control"),
        ("a\u200bb", "control"),
        (42, "text"),
    ],
)
def test_bad_entity_names(name: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_entity_name(name)


def test_unicode_and_punctuation_are_fine_in_entity_names() -> None:
    for name in ["Zoë", "東京", "O'Brien", 'Say "hi"', "x'); DROP TABLE facts;--", "a|b"]:
        assert check_entity_name(name) == name


@pytest.mark.parametrize("name", ["li|kes", 'a"b', "a'b", "{x}", "1st", "a;b", "x" * 65, ""])
def test_bad_relation_names(name: str) -> None:
    with pytest.raises(InputError):
        check_relation_name(name)


@pytest.mark.parametrize("form", ["married to", "Married_To", "married-to", "marriedTo"])
def test_relation_key(form: str) -> None:
    assert relation_key(form) == "married_to"
