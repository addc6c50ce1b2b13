"""Questions about descriptions answered by walking the graph, with the chain of facts used and
the hop the graph lacks; "what do you know about X?"; the model's answers beside the graph's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kg import Schema
from knowsync import KnowSync
from tests.service.conftest import FakeModel

SONGS = Schema.from_relations(
    [
        {"name": "performer", "cardinality": "many2one", "cloze": ["{subject} was performed by"]},
        {
            "name": "manager",
            "aliases": ["director"],
            "cardinality": "many2one",
            "cloze": ["The manager of {subject} is"],
        },
        {
            "name": "citizen_of",
            "aliases": ["country of citizenship", "citizenship"],
            "cardinality": "many2one",
            "cloze": ["{subject} is a citizen of"],
        },
        {
            "name": "official_language",
            "cardinality": "many2one",
            "cloze": ["The official language of {subject} is"],
        },
        {"name": "capital", "cardinality": "one2one", "cloze": ["The capital of {subject} is"]},
        {"name": "born_in", "cardinality": "many2one", "cloze": ["{subject} was born in"]},
        {"name": "located_in", "cardinality": "many2one", "cloze": ["{subject} is located in"]},
    ]
)
FACTS = [
    ("Hey_Jude", "performer", "The_Beatles"),
    ("The_Beatles", "manager", "Brian_Epstein"),
    ("Brian_Epstein", "citizen_of", "United_Kingdom"),
    ("United_Kingdom", "official_language", "English"),
    ("United_Kingdom", "capital", "London"),
    ("Brian_Epstein", "born_in", "Liverpool"),
    ("Liverpool", "located_in", "United_Kingdom"),
]


@pytest.fixture
def songs() -> Iterator[KnowSync]:
    ks = KnowSync("memory://", schema=SONGS)
    ks.edit(FACTS, user="curator")
    yield ks
    ks.close()


def _walked(answer_chain: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(c["hop"], c["subject"], c["relation"], c["object"]) for c in answer_chain]


def test_a_nested_description_is_walked_with_its_chain(songs: KnowSync) -> None:
    answer = songs.ask(
        "What is the official language of the country of citizenship of the manager of the "
        "performer of Hey Jude?"
    )
    assert answer.subject == "Hey_Jude" and answer.relation == "official_language"
    assert answer.path == ["performer", "manager", "citizen_of", "official_language"]
    assert answer.graph == ["English"] and answer.missing is None
    assert _walked(answer.chain) == [
        (1, "Hey_Jude", "performer", "The_Beatles"),
        (2, "The_Beatles", "manager", "Brian_Epstein"),
        (3, "Brian_Epstein", "citizen_of", "United_Kingdom"),
        (4, "United_Kingdom", "official_language", "English"),
    ]
    assert [f.triple.as_list() for f in answer.facts] == [
        ["Hey_Jude", "performer", "The_Beatles"],
        ["The_Beatles", "manager", "Brian_Epstein"],
        ["Brian_Epstein", "citizen_of", "United_Kingdom"],
        ["United_Kingdom", "official_language", "English"],
    ]


@pytest.mark.parametrize(
    "question",
    [
        "Who is Hey Jude's performer's manager?",
        "Who is the manager of Hey Jude's performer?",
        'Who is the director of "Hey Jude"\'s performer?',
        "Who is the manager of the band who performed Hey Jude?",
    ],
)
def test_possessives_verbs_and_aliases_read_the_same_walk(songs: KnowSync, question: str) -> None:
    answer = songs.ask(question)
    assert answer.path == ["performer", "manager"], answer.to_dict()
    assert answer.graph == ["Brian_Epstein"]


def test_a_relative_clause_is_ordered_by_what_the_graph_can_walk(songs: KnowSync) -> None:
    """The words name the relations out of order ("where ... holds citizenship" is walked
    after "the manager of ..."); the country heading the clause is a type word."""
    answer = songs.ask(
        "What is the capital of the country where the manager of the performer of Hey Jude "
        "holds citizenship?"
    )
    assert answer.path == ["performer", "manager", "citizen_of", "capital"], answer.to_dict()
    assert answer.graph == ["London"]
    born = songs.ask(
        "Where is the city where the manager of the band who performed Hey Jude was born located?"
    )
    assert born.path == ["performer", "manager", "born_in", "located_in"]
    assert born.graph == ["United_Kingdom"]


def test_a_missing_hop_is_named(songs: KnowSync) -> None:
    songs.edit(retract=[("The_Beatles", "manager", "Brian_Epstein")], user="curator")
    answer = songs.ask("Who is the manager of the performer of Hey Jude?")
    assert answer.graph == [] and answer.path == ["performer", "manager"]
    assert _walked(answer.chain) == [(1, "Hey_Jude", "performer", "The_Beatles")]
    assert answer.missing is not None and answer.missing["hop"] == 2
    assert answer.missing["message"] == "the graph has no `manager` for The_Beatles"
    assert answer.to_dict()["missing"]["relation"] == "manager"


def test_the_walk_follows_the_facts_in_force_after_an_edit(songs: KnowSync) -> None:
    sub = songs.submit("Hey Jude was performed by Madonna", user="curator", new_names=True)
    assert sub.decision == "accepted"
    songs.submit('The manager of Madonna is "Guy Oseary"', user="curator")  # quoted: confirmed
    answer = songs.ask("Who is the manager of the performer of Hey Jude?")
    assert answer.graph == ["Guy_Oseary"]
    assert _walked(answer.chain)[0] == (1, "Hey_Jude", "performer", "Madonna")


def test_an_unknown_entity_in_a_description_says_so(songs: KnowSync) -> None:
    answer = songs.ask("Who is the manager of the performer of Yellow Submarine?")
    assert answer.subject == "Yellow_Submarine" and answer.graph == []
    assert answer.missing is not None and answer.missing["hop"] == 1
    assert "performer" in answer.missing["message"]
    assert songs.stats()["edits"] == 1  # asking never writes


def test_what_do_you_know_lists_the_facts_in_force(songs: KnowSync) -> None:
    for question in (
        "What do you know about Brian Epstein?",
        "Tell me about Brian Epstein",
        "What does the graph say about Brian Epstein?",
    ):
        answer = songs.ask(question)
        assert answer.subject == "Brian_Epstein" and answer.unclear is None, question
        assert sorted(f.triple.as_list() for f in answer.facts) == [
            ["Brian_Epstein", "born_in", "Liverpool"],
            ["Brian_Epstein", "citizen_of", "United_Kingdom"],
            ["The_Beatles", "manager", "Brian_Epstein"],
        ], question
    nothing = songs.ask("Tell me about London")
    assert [f.triple.as_list() for f in nothing.facts] == [["United_Kingdom", "capital", "London"]]


def test_the_models_answers_are_shown_beside_the_graphs(songs: KnowSync) -> None:
    model = FakeModel(
        {
            "The performer of Hey Jude is": "The Beatles",
            "The manager of The Beatles is": "Brian Epstein",
            "The performer of Hey Jude is The Beatles. The manager of The Beatles is": "Epstein",
        }
    )
    songs.model = model  # type: ignore[assignment]
    answer = songs.ask("Who is the manager of the performer of Hey Jude?")
    assert answer.graph == ["Brian_Epstein"]
    assert answer.model == "Brian Epstein" and answer.agree is True
    assert answer.model_in_context == "Epstein"
    assert model.asked == [
        "The performer of Hey Jude is",
        "The manager of The Beatles is",
        "The performer of Hey Jude is The Beatles. The manager of The Beatles is",
    ]
