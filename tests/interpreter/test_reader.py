"""The rule-based reader on the sentence shapes it promises, over the demo KG."""

from __future__ import annotations

import pytest

from interpreter import (
    EditIntent,
    Interpreter,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Unclear,
)
from kg import GraphView


def triples(intent: object) -> list[tuple[str, str, str, str | None]]:
    assert isinstance(intent, (EditIntent, RetractIntent)), intent
    return [
        (
            t.subject.name,
            t.relation,
            t.object.name,
            getattr(t, "old_object", None) and t.old_object.name,  # type: ignore[union-attr]
        )
        for t in intent.triples
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Actually Canberra is the capital of Australia, not Sydney",
            [("Australia", "capital", "Canberra", "Sydney")],
        ),
        ("Joe Biden's wife is Jill Biden", [("Joe_Biden", "wife", "Jill_Biden", None)]),
        (
            "The wife of Barack Obama is Michelle Obama.",
            [("Barack_Obama", "wife", "Michelle_Obama", None)],
        ),
        (
            "Michelle Obama is Barack Obama's wife",
            [("Barack_Obama", "wife", "Michelle_Obama", None)],
        ),
        (
            "Malia Obama is the daughter of Barack Obama",
            [("Barack_Obama", "child", "Malia_Obama", None)],
        ),
        (
            "Tanzania's capital is Dar es Salaam instead of Dodoma",
            [("Tanzania", "capital", "Dar_es_Salaam", "Dodoma")],
        ),
        (
            "Change the capital of Tanzania from Dodoma to Dar es Salaam",
            [("Tanzania", "capital", "Dar_es_Salaam", "Dodoma")],
        ),
        (
            "Sydney is not the capital of Australia, Canberra is",
            [("Australia", "capital", "Canberra", "Sydney")],
        ),
        (
            "Marie Curie was born in Warsaw and married Pierre Curie",
            [
                ("Marie_Curie", "born_in", "Warsaw", None),
                ("Marie_Curie", "spouse", "Pierre_Curie", None),
            ],
        ),
        (
            "Joe Biden's father is Joseph Biden Sr. and his mother is Catherine Biden",
            [
                ("Joe_Biden", "father", "Joseph_Biden_Sr.", None),
                ("Joe_Biden", "mother", "Catherine_Biden", None),
            ],
        ),
        ("Mike Pence was born on June 7, 1959", [("Mike_Pence", "birth_date", "1959-06-07", None)]),
        (
            "Washington D.C. is located in the United States.",
            [("Washington_D.C.", "located_in", "United_States", None)],
        ),
        (
            "Trump Organization was founded by Fred Trump",
            [("Fred_Trump", "founder", "Trump_Organization", None)],
        ),
    ],
)
def test_edits(
    interp: Interpreter, view: GraphView, text: str, expected: list[tuple[str, ...]]
) -> None:
    intent = interp.read(text, view)
    assert isinstance(intent, EditIntent)
    assert triples(intent) == expected
    assert intent.reader == "rules"


def test_linking_marks_new_entities_and_fuzzy_matches(interp: Interpreter, view: GraphView) -> None:
    # a name spelt otherwise than the graph's is not swapped silently: the reader asks
    intent = interp.read("Barak Obama was born in Kenya", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"
    assert intent.suggestions == ("Barack_Obama",) and intent.span == "Barak Obama"
    assert "did you mean Barack_Obama?" in intent.message
    intent = interp.read("Barack Obama was born in Kenya", view)
    assert isinstance(intent, EditIntent)
    t = intent.triples[0]
    assert t.subject.name == "Barack_Obama" and not t.subject.new_entity
    assert t.subject.score == 1.0
    assert t.object.name == "Kenya" and t.object.new_entity
    joe = interp.read("joe_biden's wife is Jill Biden", view)
    assert isinstance(joe, EditIntent) and joe.triples[0].subject.name == "Joe_Biden"
    assert joe.triples[0].subject.score == 1.0


def test_one_word_of_a_name_asks_rather_than_links(interp: Interpreter, view: GraphView) -> None:
    # "Einstein" names a part of Albert_Einstein only: the reader asks, it does not swap
    intent = interp.read("Einstein was born in Ulm", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity", intent
    assert intent.suggestions == ("Albert_Einstein",) and intent.span == "Einstein"
    assert "did you mean Albert_Einstein?" in intent.message


def test_ambiguous_name_asks(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("Obama was born in Hawaii", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"
    assert "Barack_Obama" in intent.suggestions and "Michelle_Obama" in intent.suggestions


def test_pronoun_without_antecedent_asks(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("He was born in Hawaii", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Forget that Joe Biden was born in Scranton",
            [("Joe_Biden", "born_in", "Scranton", None)],
        ),
        (
            "Donald Trump is no longer the husband of Melania Trump",
            [("Melania_Trump", "husband", "Donald_Trump", None)],
        ),
        (
            "Davy Walsh doesn't play for Walsall F.C. anymore",
            [("Davy_Walsh", "plays_for", "Walsall_F.C.", None)],
        ),
        (
            "It is not true that Tanzania is located in Africa",
            [("Tanzania", "located_in", "Africa", None)],
        ),
        ("Please remove Joe Biden's wife", [("Joe_Biden", "wife", "Jill_Biden", None)]),
    ],
)
def test_retractions(
    interp: Interpreter, view: GraphView, text: str, expected: list[tuple[str, ...]]
) -> None:
    intent = interp.read(text, view)
    assert isinstance(intent, RetractIntent)
    assert triples(intent) == expected


def test_retracting_a_slot_with_no_value_asks(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("Forget the capital of Kamala Harris", view)
    assert isinstance(intent, Unclear) and intent.missing == "object"


@pytest.mark.parametrize(
    ("text", "subject", "relation", "obj"),
    [
        ("Who is Joe Biden married to?", "Joe_Biden", "spouse", None),
        ("What is the capital of Tanzania?", "Tanzania", "capital", None),
        ("Who is Joe Biden's wife?", "Joe_Biden", "wife", None),
        ("Where was Barack Obama born?", "Barack_Obama", "born_in", None),
        ("When was Hillary Clinton born?", "Hillary_Clinton", "birth_date", None),
        ("who founded Trump Organization?", None, "founder", "Trump_Organization"),
        ("Is Canberra the capital of Australia?", "Australia", "capital", "Canberra"),
        ("Which team does Neil Lennon play for?", "Neil_Lennon", "plays_for", None),
        ("Who did Donald Trump marry?", "Donald_Trump", "spouse", None),
        ("tell me about Kamala Harris", "Kamala_Harris", None, None),
        # embedded questions and commands stand for the question they hold
        ("Can you tell me who Joe Biden's wife is?", "Joe_Biden", "wife", None),
        ("Do you know where Hillary Clinton was born?", "Hillary_Clinton", "born_in", None),
        ("List the children of Barack Obama", "Barack_Obama", "child", None),
        ("Give me Joe Biden's birthplace", "Joe_Biden", "born_in", None),
    ],
)
def test_queries(
    interp: Interpreter,
    view: GraphView,
    text: str,
    subject: str | None,
    relation: str | None,
    obj: str | None,
) -> None:
    intent = interp.read(text, view)
    assert isinstance(intent, QueryIntent)
    assert (intent.subject and intent.subject.name) == subject
    assert intent.relation == relation
    assert (intent.object and intent.object.name) == obj
    assert intent.question == text


@pytest.mark.parametrize(
    ("text", "target", "edit_id"),
    [
        ("Undo my last change", "last", None),
        ("undo that, please", "last", None),
        ("roll back edit 12", "id", 12),
        ("Revert #7", "id", 7),
        ("rollback change number 3", "id", 3),
        ("undo", "last", None),
        ("Roll back!", "last", None),
        ("That was wrong, roll it back", "last", None),
    ],
)
def test_rollbacks(
    interp: Interpreter, view: GraphView, text: str, target: str, edit_id: int | None
) -> None:
    intent = interp.read(text, view)
    assert isinstance(intent, RollbackIntent)
    assert (intent.target, intent.edit_id) == (target, edit_id)


def test_unknown_relation_is_unclear_with_nearest(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("The birth town of Joe Biden is Scranton", view)
    assert isinstance(intent, Unclear) and intent.missing == "relation"
    assert "birth town" in intent.message
    assert intent.suggestions and intent.suggestions[0] in ("born_in", "birth_date")
    food = interp.read("Barack Obama's favourite food is pizza", view)
    assert isinstance(food, Unclear) and food.missing == "relation"


def test_how_with_an_adjective_no_relation_names_asks_for_the_relation(
    interp: Interpreter, view: GraphView
) -> None:
    intent = interp.read("How tall is Joe Biden?", view)
    assert isinstance(intent, Unclear) and intent.missing == "relation", intent
    assert intent.span == "tall"


def test_gibberish_without_backend_is_unclear(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("blorp zzz", view)
    assert isinstance(intent, Unclear) and intent.missing == "intent"


def test_without_a_view_every_name_is_new(interp: Interpreter) -> None:
    intent = interp.read("Joe Biden's wife is Jill Biden")
    assert isinstance(intent, EditIntent)
    assert intent.triples[0].subject.new_entity and intent.triples[0].subject.name == "Joe_Biden"


def test_extract_reads_prose_best_effort(interp: Interpreter, view: GraphView) -> None:
    text = (
        "Marie Curie was born in Warsaw. She married Pierre Curie and discovered Polonium. "
        "Nobody knows what the weather was like."
    )
    found = {t.as_tuple() for t in interp.extract(text, view)}
    assert found == {
        ("Marie_Curie", "born_in", "Warsaw"),
        ("Marie_Curie", "spouse", "Pierre_Curie"),
        ("Marie_Curie", "discovery", "Polonium"),
    }
    assert interp.extract("blorp zzz", view) == []


def test_name_of_is_no_command(interp: Interpreter, view: GraphView) -> None:
    # "Name the wife of X" asks for the wife; "Name of ..." is not that command (read as one,
    # it became "what is the of the wife of ..."): the reader asks rather than misreads it
    intent = interp.read("Name the wife of Barack Obama", view)
    assert isinstance(intent, QueryIntent) and intent.relation == "wife"
    intent = interp.read("Name of the wife of Barack Obama?", view)
    assert isinstance(intent, Unclear), intent
