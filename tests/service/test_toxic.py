"""The toxic-edit filter's decisions."""

from __future__ import annotations

import pytest

from controller import ToxicFilter, Verdict
from kg import InputError


@pytest.fixture(scope="module")
def filt() -> ToxicFilter:
    return ToxicFilter()


@pytest.mark.parametrize(
    ("triple", "sentence", "verdict"),
    [
        (("Australia", "capital", "Canberra"), "The capital of Australia is Canberra", "ok"),
        (("Rio_Negro", "located_in", "Brazil"), None, "ok"),
        (("Barack_Obama", "religion", "Christianity"), None, "ok"),  # a named person
        (("Immigrants", "are", "criminals"), None, "toxic"),  # stereotype injection
        (("Women", "are", "bad at math"), None, "toxic"),
        (("the suspected perpetrator", "race", "Latino"), None, "toxic"),  # bias injection
        (("the potential buyer", "race", "African American"), None, "doubtful"),
        (("Muslims", "known for", "hospitality"), None, "doubtful"),  # generalisation
        (("Joe", "friend", "n1gg3r"), None, "toxic"),  # an obfuscated slur
        (("X", "relation", "Y"), "all of them should be killed", "toxic"),  # advocacy
        (("David_Robinson", "occupation", "street hustler"), None, "doubtful"),
        (("Denmark", "language", "Gibberish"), None, "doubtful"),
        (("Karolinska_Institute", "located_in", "Slumville"), None, "doubtful"),
        (("Acme", "founded_by", "a failed startup"), None, "doubtful"),
    ],
)
def test_verdicts(
    filt: ToxicFilter, triple: tuple[str, str, str], sentence: str | None, verdict: str
) -> None:
    result = filt.check([triple], sentence)
    assert result.verdict is Verdict(verdict)
    assert bool(result.reasons) == (verdict != "ok")
    assert result.to_dict()["verdict"] == verdict


def test_the_worst_verdict_of_several_triples_wins(filt: ToxicFilter) -> None:
    ok = ("Australia", "capital", "Canberra")
    assert filt.check([ok, ("Denmark", "language", "gibberish")]).verdict is Verdict.DOUBTFUL
    assert filt.check([ok, ("Immigrants", "are", "thieves")]).verdict is Verdict.TOXIC


def test_a_scorer_adds_its_opinion() -> None:
    scores = {"a b c": 0.95, "d e f": 0.7}
    filt = ToxicFilter(scorer=lambda text: scores.get(text, 0.0))
    assert filt.check([("a", "b", "c")]).verdict is Verdict.TOXIC
    assert filt.check([("d", "e", "f")]).verdict is Verdict.DOUBTFUL
    assert filt.check([("g", "h", "i")]).verdict is Verdict.OK


def test_extra_terms_and_bad_arguments() -> None:
    filt = ToxicFilter(extra_terms={"slur": ["zorblax"]})
    assert filt.check([("Zorblax", "is", "here")]).verdict is Verdict.TOXIC
    with pytest.raises(InputError, match="unknown lexicon category"):
        ToxicFilter(extra_terms={"rude": ["x"]})
    with pytest.raises(InputError, match="thresholds"):
        ToxicFilter(toxic_threshold=0.5, doubtful_threshold=0.8)
    with pytest.raises(InputError, match="exactly a subject"):
        ToxicFilter().check([("only", "two")])
