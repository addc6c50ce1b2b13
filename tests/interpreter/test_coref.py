"""Pronouns inside one request (the rule in ``interpreter._reader``'s docstring), over the demo
KG, by the rules alone: a pronoun takes the request's one topic, or the reading asks."""

from __future__ import annotations

import pytest

from interpreter import (
    EditIntent,
    Interpreter,
    RetractIntent,
    ScriptedChatBackend,
    Unclear,
    span_problem,
)
from interpreter._coref import find_pronoun
from kg import GraphView, Schema


def _read(interp: Interpreter, view: GraphView, text: str) -> list[tuple[str, str, str]]:
    intent = interp.read(text, view)
    assert isinstance(intent, (EditIntent, RetractIntent)), intent
    return intent.as_triples()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # a possessive and a relation noun, across sentences
            "Barack Obama was born in Honolulu. His wife is Michelle Obama.",
            [("Barack_Obama", "born_in", "Honolulu"), ("Barack_Obama", "wife", "Michelle_Obama")],
        ),
        (  # a subject pronoun and a verb relation, across sentences
            "Kamala Harris was born in Oakland. She studied at Howard University.",
            [
                ("Kamala_Harris", "born_in", "Oakland"),
                ("Kamala_Harris", "educated_at", "Howard_University"),
            ],
        ),
        (  # clauses joined by ";"
            "Joe Biden was born in Scranton; he married Jill Biden",
            [("Joe_Biden", "born_in", "Scranton"), ("Joe_Biden", "spouse", "Jill_Biden")],
        ),
        (  # "its capital"
            "France is located in Europe. Its capital is Paris.",
            [("France", "located_in", "Europe"), ("France", "capital", "Paris")],
        ),
        (  # the topic is the subject (France), not the object (Paris)
            "The capital of France is Paris. It is located in Europe.",
            [("France", "capital", "Paris"), ("France", "located_in", "Europe")],
        ),
        (  # ... and "Canberra is the capital of ..." is about Canberra
            "Canberra is the capital of Australia. It is located in Oceania.",
            [("Australia", "capital", "Canberra"), ("Canberra", "located_in", "Oceania")],
        ),
        (  # a plural possessive
            "The Netherlands is located in Europe. Their capital is Amsterdam.",
            [("Netherlands", "located_in", "Europe"), ("Netherlands", "capital", "Amsterdam")],
        ),
        (  # after a comma, in one sentence
            "Tanzania's capital is Dodoma, its president is John Magufuli.",
            [("Tanzania", "capital", "Dodoma"), ("Tanzania", "president", "John_Magufuli")],
        ),
        (  # a possessive inside the clause, not opening it
            "Barack Obama was born in Honolulu. Michelle Obama is his wife.",
            [("Barack_Obama", "born_in", "Honolulu"), ("Barack_Obama", "wife", "Michelle_Obama")],
        ),
        (  # a clause about a pronoun keeps the topic for the next one
            "Barack Obama was born in Honolulu. His wife is Michelle Obama. His daughter is "
            "Malia Obama.",
            [
                ("Barack_Obama", "born_in", "Honolulu"),
                ("Barack_Obama", "wife", "Michelle_Obama"),
                ("Barack_Obama", "child", "Malia_Obama"),
            ],
        ),
        (  # with the old value
            "Australia is located in Oceania. Its capital is Canberra, not Sydney.",
            [("Australia", "located_in", "Oceania"), ("Australia", "capital", "Canberra")],
        ),
        (  # removals
            "Forget that Barack Obama was born in Honolulu. Forget that his wife is Michelle "
            "Obama.",
            [("Barack_Obama", "born_in", "Honolulu"), ("Barack_Obama", "wife", "Michelle_Obama")],
        ),
        (  # an object pronoun after the verb
            "Jill Biden was born in Hammonton. Joe Biden married her.",
            [("Jill_Biden", "born_in", "Hammonton"), ("Joe_Biden", "spouse", "Jill_Biden")],
        ),
        (  # ... and before a function word
            "Joe Biden was born in Scranton; Jill Biden married him in 1977",
            [("Joe_Biden", "born_in", "Scranton"), ("Jill_Biden", "spouse", "Joe_Biden")],
        ),
        (  # a value opening the first clause is no topic: the entity it is said of is
            "4 August 1961 is the birth date of Barack Obama and his wife is Michelle Obama.",
            [
                ("Barack_Obama", "birth_date", "1961-08-04"),
                ("Barack_Obama", "wife", "Michelle_Obama"),
            ],
        ),
        (  # the same entity named twice is one topic
            "Joe Biden was born in Scranton. Joe Biden married Jill Biden. He studied at the "
            "University of Delaware.",
            [
                ("Joe_Biden", "born_in", "Scranton"),
                ("Joe_Biden", "spouse", "Jill_Biden"),
                ("Joe_Biden", "educated_at", "University_of_Delaware"),
            ],
        ),
    ],
)
def test_a_pronoun_takes_the_request_topic(
    interp: Interpreter, view: GraphView, text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert _read(interp, view, text) == expected


@pytest.mark.parametrize(
    ("text", "pronoun", "words"),
    [
        (  # two people named as subjects before "his": ask, with both
            "Barack Obama was born in Honolulu. Joe Biden was born in Scranton. His wife is "
            "Jill Biden.",
            "His",
            "'His' could be Barack Obama or Joe Biden; say the name",
        ),
        (
            "Joe Biden was born in Scranton. Barack Obama was born in Honolulu. She married "
            "Pierre Curie.",
            "She",
            "'She' could be Joe Biden or Barack Obama",
        ),
        ("His wife is Michelle Obama.", "His", "names no one before it"),
        ("She studied at Howard University.", "She", "names no one before it"),
        ("It is located in Europe.", "It", "names no one before it"),
        ("They were born in Oakland.", "They", "names no one before it"),
        ("Her husband was born in Oakland.", "Her", "names no one before it"),
        (  # the graph's facts say Barack Obama is a person; located_in is said of a place
            "Barack Obama was born in Honolulu. It is located in Hawaii.",
            "It",
            "'It' cannot be Barack Obama: the graph knows Barack Obama as a person",
        ),
        (  # "her" is not the husband himself
            "Joe Biden's wife is Jill Biden. Her husband is Joe Biden.",
            "Her",
            "would make Joe Biden Joe Biden's own husband",
        ),
        (  # an object pronoun with two topics before it
            "Barack Obama was born in Honolulu. Joe Biden was born in Scranton. Michelle Obama "
            "married him.",
            "him",
            "'him' could be Barack Obama or Joe Biden",
        ),
        (  # ... or only the clause's own subject
            "Joe Biden was born in Scranton. He married her.",
            "her",
            "would make Joe Biden Joe Biden's own spouse",
        ),
    ],
)
def test_a_pronoun_without_one_antecedent_asks(
    interp: Interpreter, view: GraphView, text: str, pronoun: str, words: str
) -> None:
    intent = interp.read(text, view)
    assert isinstance(intent, Unclear) and intent.missing == "entity", intent
    assert intent.span == pronoun
    assert words in intent.message and "say the name" in intent.message


def test_the_question_offers_each_antecedent_in_the_pronoun_place(
    interp: Interpreter, view: GraphView
) -> None:
    text = (
        "Barack Obama was born in Honolulu. Joe Biden was born in Scranton. His wife is Jill Biden."
    )
    intent = interp.read(text, view)
    assert isinstance(intent, Unclear) and intent.span is not None
    assert intent.suggestions == ("Barack Obama's", "Joe Biden's")
    rewritten = text.replace(intent.span, intent.suggestions[1], 1)
    assert ("Joe_Biden", "wife", "Jill_Biden") in _read(interp, view, rewritten)


@pytest.mark.parametrize(
    ("clause", "found"),
    [
        ("She studied at Howard University", ("She", False)),
        ("her husband is Doug Emhoff", ("her", True)),
        ("Michelle Obama is his wife", ("his", True)),
        ("Its capital city is Paris", ("Its", True)),
        ("It Takes Two was performed by Rob Base", None),  # a title, not a pronoun
        ("His Dark Materials was written by Philip Pullman", None),
        ("Joe Biden married her in 1977", ("her", False)),  # an object, not a possessive
        ("His was born in Paris", None),  # no noun after it: not a possessive
        ("Hey Jude was performed by the Beatles", None),
    ],
)
def test_which_words_are_pronouns(
    interp: Interpreter, view: GraphView, clause: str, found: tuple[str, bool] | None
) -> None:
    pronoun = find_pronoun(clause, interp.linker(view).relation)
    got = (pronoun.word, pronoun.possessive) if pronoun is not None else None
    assert got == found


@pytest.mark.parametrize("name", ["He", "she", "It", "they", "His", "her", "its", '"Their"'])
def test_a_pronoun_is_never_a_name(name: str) -> None:
    assert span_problem(name) == "it is a pronoun, not a name; say whom or what it stands for"


def test_a_model_cannot_name_an_entity_with_a_pronoun(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend(
        [
            {
                "kind": "edit",
                "triples": [
                    {"subject": {"name": "His"}, "relation": "wife", "object": {"name": "Sue"}}
                ],
            }
        ]
    )
    intent = Interpreter(schema, backend=backend).read("Sue frobnicates gracefully", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"
    assert intent.reader == "model" and "pronoun" in intent.message
