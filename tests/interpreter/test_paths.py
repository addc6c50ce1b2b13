"""Questions about a description read as a walk from a named entity, and the surface forms a
schema's own cloze templates give (read whether or not the default library is loaded)."""

from __future__ import annotations

from collections.abc import Iterator

import pydantic
import pytest

from interpreter import EditIntent, EntityRef, Interpreter, QueryIntent, Unclear
from kg import GraphView, Schema
from knowsync import KnowSync

# --------------------------------------------------------------------- walks, demo library


@pytest.mark.parametrize(
    ("question", "path"),
    [
        ("Who is the wife of the president of America?", ("president", "wife")),
        ("Who is America's president's wife?", ("president", "wife")),
        ("Who is the wife of America's president?", ("president", "wife")),
        (
            "Who is the father of the wife of the president of America?",
            ("president", "wife", "father"),
        ),
        ("Where was the wife of the president of America born?", ("president", "wife", "born_in")),
    ],
)
def test_a_description_is_a_walk_from_the_entity_named(
    interp: Interpreter, view: GraphView, question: str, path: tuple[str, ...]
) -> None:
    intent = interp.read(question, view)
    assert isinstance(intent, QueryIntent), intent
    assert intent.subject is not None and intent.subject.name == "America"
    assert intent.path == path and intent.via == path[:-1] and intent.relation == path[-1]


def test_a_plain_question_has_no_walk(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("What is the capital of America?", view)
    assert isinstance(intent, QueryIntent)
    assert intent.via == () and intent.path == ("capital",)


def test_via_needs_a_subject_and_a_relation() -> None:
    with pytest.raises(pydantic.ValidationError):
        QueryIntent(question="?", relation="wife", via=("president",))
    with pytest.raises(pydantic.ValidationError):
        QueryIntent(question="?", subject=EntityRef(name="America"), via=("president",))
    ok = QueryIntent(
        question="?", subject=EntityRef(name="America"), relation="wife", via=("president",)
    )
    assert ok.path == ("president", "wife")


# ------------------------------------------------------------- any schema's own surface forms

GAMES = Schema.from_relations(
    [
        {"name": "developer", "cloze": ["{subject} was developed by"]},
        {"name": "manufacturer", "cloze": ["The company that produced {subject} is"]},
        {"name": "citizen_of", "cloze": ["{subject} is a citizen of"]},
        {
            "name": "chief_executive_officer",
            "aliases": ["CEO"],
            "cloze": ["The chief executive officer of {subject} is"],
        },
        {"name": "place_of_birth", "cloze": ["{subject} was born in the city of"]},
    ]
)


@pytest.fixture
def games() -> Iterator[KnowSync]:
    ks = KnowSync("memory://", schema=GAMES)
    ks.edit(
        [
            ("Windows_95", "developer", "Microsoft"),
            ("Microsoft", "chief_executive_officer", "Satya_Nadella"),
            ("Satya_Nadella", "place_of_birth", "Hyderabad"),
        ],
        user="curator",
    )
    yield ks
    ks.close()


@pytest.mark.parametrize(
    ("sentence", "triple"),
    [
        ("Windows 95 was developed by Apple", ("Windows_95", "developer", "Apple")),
        ("Apple developed Windows 95", ("Windows_95", "developer", "Apple")),
        ("Satya Nadella is a citizen of India", ("Satya_Nadella", "citizen_of", "India")),
        (
            "Satya Nadella was born in the city of Chennai",
            ("Satya_Nadella", "place_of_birth", "Chennai"),
        ),
        ("Sony produced Windows 95", ("Windows_95", "manufacturer", "Sony")),
        (
            "The chief executive officer of Microsoft is Bill Gates",
            ("Microsoft", "chief_executive_officer", "Bill_Gates"),
        ),
    ],
)
def test_cloze_templates_are_read_without_the_default_library(
    games: KnowSync, sentence: str, triple: tuple[str, str, str]
) -> None:
    assert games.schema.find("born_in") is None  # not the default library
    intent = games.parse(sentence)
    assert isinstance(intent, EditIntent), intent
    assert intent.as_triples() == [triple]


def test_a_verb_from_a_template_reads_a_question(games: KnowSync) -> None:
    intent = games.parse("Who developed Windows 95?")
    assert isinstance(intent, QueryIntent)
    assert intent.subject is not None and intent.subject.name == "Windows_95"
    assert intent.relation == "developer"


@pytest.mark.parametrize(
    "question",
    [
        "In which city was the CEO who developed Windows 95 born?",
        "Where was the CEO of the developer of Windows 95 born?",
        "What is the place of birth of the chief executive officer of the developer of Windows 95?",
    ],
)
def test_a_free_worded_walk_is_ordered_by_the_graph(games: KnowSync, question: str) -> None:
    answer = games.ask(question)
    assert answer.path == ["developer", "chief_executive_officer", "place_of_birth"], (
        answer.to_dict()
    )
    assert answer.graph == ["Hyderabad"]


def test_an_unknown_relation_in_a_description_is_not_guessed(games: KnowSync) -> None:
    intent = games.parse("Who is the dentist of the CEO of Microsoft?")
    assert not (isinstance(intent, QueryIntent) and len(intent.path) >= 2), intent
    assert isinstance(intent, (Unclear, QueryIntent))


def test_the_mquake_schema_reads_its_own_rewrite_prompts() -> None:
    from tests.conftest import DATASETS

    schema = Schema.load(DATASETS / "mquake" / "schema.json")
    assert not schema.warnings and schema.find("CEO") is not None
    ks = KnowSync("memory://", schema=schema)
    try:
        for sentence, triple in [
            ("The company that produced Ford GT is Toyota.", ("Ford_GT", "manufacturer", "Toyota")),
            ("Taxman was performed by Madonna.", ("Taxman", "performer", "Madonna")),
            # the schema's own template says which way round: not the default library's founder
            ("SpaceX was founded by Elon Musk.", ("SpaceX", "founded_by", "Elon_Musk")),
            ("Elon Musk founded SpaceX.", ("SpaceX", "founded_by", "Elon_Musk")),
            (
                "Madonna is a citizen of Australia.",
                ("Madonna", "country_of_citizenship", "Australia"),
            ),
        ]:
            intent = ks.parse(sentence)
            assert isinstance(intent, EditIntent), (sentence, intent)
            assert intent.as_triples() == [triple]
    finally:
        ks.close()


@pytest.mark.parametrize(
    ("sentence", "subject"),
    [
        # "Hey" opens a name the graph knows: no filler
        ("Hey Jude was performed by Madonna.", "Hey_Jude"),
        ("Hey Jude's performer is Madonna.", "Hey_Jude"),
        # a filler still is one where the name does not start with it, or a comma sets it off
        ("Hey, Taxman was performed by Madonna.", "Taxman"),
        ("Hey Taxman was performed by Madonna.", "Taxman"),
        ("Hey, Hey Jude was performed by Madonna.", "Hey_Jude"),
    ],
)
def test_a_leading_interjection_that_opens_a_known_name_is_kept(
    sentence: str, subject: str
) -> None:
    schema = Schema.from_dict(
        {
            "format": "knowsync-schema/1",
            "relations": [{"name": "performer", "cloze": ["{subject} was performed by"]}],
        }
    )
    ks = KnowSync("memory://", schema=schema)
    try:
        ks.edit(
            [("Hey_Jude", "performer", "The_Beatles"), ("Taxman", "performer", "The_Beatles")],
            user="curator",
        )
        intent = ks.parse(sentence)
        assert isinstance(intent, EditIntent), (sentence, intent)
        assert intent.as_triples() == [(subject, "performer", "Madonna")]
        answer = ks.ask("Who performed Hey Jude?")
        assert answer.subject == "Hey_Jude", answer.to_dict()
    finally:
        ks.close()


@pytest.fixture
def mquake() -> Iterator[KnowSync]:
    from tests.conftest import DATASETS

    ks = KnowSync("memory://", schema=DATASETS / "mquake" / "schema.json")
    ks.edit(
        [
            ("Yellow_Tune", "performer", "The_Quartet"),
            ("The_Quartet", "director_manager", "Ann_Manager"),
            ("Ann_Manager", "country_of_citizenship", "Freedonia"),
            ("Freedonia", "official_language", "Fredonian"),
            ("Freedonia", "capital", "Fredville"),
        ],
        user="curator",
    )
    yield ks
    ks.close()


@pytest.mark.parametrize(
    ("question", "path"),
    [
        # a word only one relation's forms use, inflected: "official(ly)", "sang" (singer)
        (
            "What language is official in the country of citizenship of the manager of the "
            "band that sang Yellow Tune?",
            ["performer", "director_manager", "country_of_citizenship", "official_language"],
        ),
        # two forms of one relation joined by "/" or "or" are one hop
        (
            "What is the capital of the country of citizenship of the director/manager of the "
            "performer of Yellow Tune?",
            ["performer", "director_manager", "country_of_citizenship", "capital"],
        ),
        (
            "What is the official language of the country of citizenship of the director or "
            "manager of the performers of Yellow Tune?",
            ["performer", "director_manager", "country_of_citizenship", "official_language"],
        ),
        # a verb named before the noun asked about is not what is asked
        (
            "In which city is located the capital of the country of citizenship of the manager "
            "of the performer of Yellow Tune?",
            ["performer", "director_manager", "country_of_citizenship", "capital"],
        ),
    ],
)
def test_relation_words_are_read_by_stem_and_joined_forms_once(
    mquake: KnowSync, question: str, path: list[str]
) -> None:
    answer = mquake.ask(question)
    assert answer.path == path, answer.to_dict()
    assert answer.graph == ["Fredonian" if path[-1] == "official_language" else "Fredville"]


def test_a_hop_left_implicit_is_walked_only_when_the_types_make_it_the_one(
    mquake: KnowSync,
) -> None:
    # a song has no manager (director_manager is typed person|organization): its performer has
    answer = mquake.ask(
        "What is the capital of the country of citizenship of the manager of Yellow Tune?"
    )
    assert answer.path == ["performer", "director_manager", "country_of_citizenship", "capital"]
    assert answer.graph == ["Fredville"]
    # a manager's citizenship fits a person: the graph lacks the fact, nothing is inserted
    mquake.edit([("The_Quartet", "director_manager", "Bo_Manager")], user="curator")
    answer = mquake.ask(
        "What is the capital of the country of citizenship of the manager of The Quartet?"
    )
    assert answer.graph == [] and answer.missing is not None
    # two relations of the song lead to a manager: which one is not guessed
    mquake.edit(
        [("Yellow_Tune", "record_label", "Big_Label"), ("Big_Label", "director_manager", "Cy")],
        user="curator",
    )
    answer = mquake.ask("Who is the manager of Yellow Tune?")
    assert answer.graph == [], answer.to_dict()


def test_a_hop_the_graph_lacks_is_walked_through_the_one_fact_that_leads_on() -> None:
    from tests.conftest import DATASETS

    ks = KnowSync("memory://", schema=DATASETS / "mquake" / "schema.json")
    try:
        ks.edit(
            [
                ("Pat_Keeper", "position_played_on_team_speciality", "goalkeeper"),
                ("goalkeeper", "sport", "football"),
                ("football", "country_of_origin", "England"),
                ("England", "capital", "London"),
                ("Pat_Keeper", "country_of_citizenship", "Spain"),
            ],
            user="curator",
        )
        # a player's sport fits a person, but the graph holds it only through the position
        answer = ks.ask("What is the capital of the country of origin of Pat Keeper's sport?")
        assert answer.path == [
            "position_played_on_team_speciality",
            "sport",
            "country_of_origin",
            "capital",
        ], answer.to_dict()
        assert answer.graph == ["London"]
        # no fact of Spain leads to a capital's capital: the missing hop is named
        answer = ks.ask("What is the capital of the capital of Pat Keeper's home country?")
        assert answer.graph == [] and answer.missing is not None
        # two facts that lead on: which one is not guessed
        ks.edit(
            [("Pat_Keeper", "employer", "FC_Town"), ("FC_Town", "sport", "cricket")],
            user="curator",
        )
        answer = ks.ask("What is the country of origin of Pat Keeper's sport?")
        assert answer.graph == [], answer.to_dict()
    finally:
        ks.close()


def test_a_name_ending_in_a_full_stop_anchors_a_walk() -> None:
    from tests.conftest import DATASETS

    ks = KnowSync("memory://", schema=DATASETS / "mquake" / "schema.json")
    try:
        ks.edit(
            [
                ("Union_F.C.", "head_coach", "Ann_Coach"),
                ("Ann_Coach", "country_of_citizenship", "Freedonia"),
                ("Freedonia", "capital", "Fredville"),
            ],
            user="curator",
        )
        for question in [
            "What is the capital of the country of citizenship of Union F.C.'s head coach?",
            "Which city is the capital of the country where the head coach of Union F.C. is a "
            "citizen?",
        ]:
            answer = ks.ask(question)
            assert answer.subject == "Union_F.C.", answer.to_dict()
            assert answer.path == ["head_coach", "country_of_citizenship", "capital"]
            assert answer.graph == ["Fredville"]
    finally:
        ks.close()


def test_a_preposition_alone_names_no_relation() -> None:
    from interpreter import Linker
    from interpreter._surface import verb_cores
    from tests.conftest import DATASETS

    assert verb_cores("is from") == []
    assert verb_cores("comes from") == ["comes from", "comes"]
    linker = Linker(Schema.load(DATASETS / "mquake" / "schema.json"))
    named = [m.relation for m in linker.mentions("From which continent is the sport?")]
    assert named == ["continent", "sport"]


@pytest.mark.parametrize(
    "question",
    [
        # two relations of the asked type word one answer: one of them is walked
        "Which language is officially spoken in the country of citizenship of the manager of "
        "the performer of Yellow Tune?",
        "In which language are official documents written in the country where the manager of "
        "the performer of Yellow Tune is a citizen?",
    ],
)
def test_relations_of_the_type_a_question_asks_for_word_one_answer(
    mquake: KnowSync, question: str
) -> None:
    answer = mquake.ask(question)
    assert answer.path == [
        "performer",
        "director_manager",
        "country_of_citizenship",
        "official_language",
    ], answer.to_dict()
    assert answer.graph == ["Fredonian"]


def test_the_type_a_question_asks_for_is_no_hop(mquake: KnowSync) -> None:
    answer = mquake.ask(
        "In which country does the manager of the performer of Yellow Tune hold citizenship?"
    )
    assert answer.path == ["performer", "director_manager", "country_of_citizenship"]
    assert answer.graph == ["Freedonia"]


def test_a_walk_ends_at_the_type_the_question_asks_for(mquake: KnowSync) -> None:
    from interpreter import Linker
    from interpreter._paths import RelationTypes

    # "city" names what the objects of the templates "... in the city of" share
    types = RelationTypes.of(Linker(mquake.schema))
    assert types.words["city"] == frozenset({"place"})
    assert types.words["language"] == frozenset({"language"})
    # a citizenship is a country: the one fact of it that is a city is walked
    answer = mquake.ask(
        "In which city does the manager of the performer of Yellow Tune hold citizenship?"
    )
    assert answer.path == [
        "performer",
        "director_manager",
        "country_of_citizenship",
        "capital",
    ], answer.to_dict()
    assert answer.graph == ["Fredville"]
    # two facts of the country that are places: which one is not guessed
    mquake.edit([("Freedonia", "twinned_administrative_body", "Sylvania")], user="curator")
    answer = mquake.ask(
        "In which city does the manager of the performer of Yellow Tune hold citizenship?"
    )
    assert answer.path == ["performer", "director_manager", "country_of_citizenship"]


# ---------------------------------------------------------------- a schema's question templates


@pytest.mark.parametrize(
    ("question", "path", "answer"),
    [
        # the template's question about a name: one hop, whatever its other words name
        # elsewhere ("play" is also a word of the position's forms)
        ("What position does Ann Manager play?", ["position_played_on_team_speciality"], "Wing"),
        ("Who performed Yellow Tune?", ["performer"], "The_Quartet"),
        ("What language does Ann Manager speak?", ["languages_spoken_written_or_signed"], "Esk"),
        # the subject's place holds a description: a walk ending with the template's relation
        (
            "What language does the manager of The Quartet speak?",
            ["director_manager", "languages_spoken_written_or_signed"],
            "Esk",
        ),
    ],
)
def test_a_schemas_question_templates_are_read(
    mquake: KnowSync, question: str, path: list[str], answer: str
) -> None:
    mquake.edit(
        [
            ("Ann_Manager", "position_played_on_team_speciality", "Wing"),
            ("Ann_Manager", "languages_spoken_written_or_signed", "Esk"),
        ],
        user="curator",
    )
    got = mquake.ask(question)
    assert got.path == path, got.to_dict()
    assert got.graph == [answer]


def test_a_question_template_needs_one_subject_gap() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly once"):
        Schema.from_relations([{"name": "owner", "questions": ["Who owns it?"]}])
    schema = Schema.from_relations([{"name": "owner", "questions": ["Who owns {subject}?"]}])
    assert schema.find("owner") is not None
    assert schema.find("owner").questions == ("Who owns {subject}?",)  # type: ignore[union-attr]


def test_the_head_noun_of_a_question_names_the_type_asked(mquake: KnowSync) -> None:
    # "national language" names no relation, but "language" names the type asked: the walk
    # to the country takes the one hop more that reaches a language
    answer = mquake.ask(
        "What is the national language of the country of citizenship of the manager of The Quartet?"
    )
    assert answer.path == ["director_manager", "country_of_citizenship", "official_language"]
    assert answer.graph == ["Fredonian"]


def test_a_relation_said_of_what_it_cannot_apply_to_means_its_one_fitting_sibling(
    mquake: KnowSync,
) -> None:
    # `country` is said of places, organisations and works; the manager is a person, whose
    # one relation named "country ..." with countries as objects is the citizenship
    question = "What is the capital of the country where the manager of The Quartet is from?"
    answer = mquake.ask(question)
    assert answer.path == ["director_manager", "country_of_citizenship", "capital"]
    assert answer.graph == ["Fredville"]


def test_of_two_fitting_siblings_neither_is_guessed() -> None:
    schema = Schema.from_relations(
        [
            {"name": "country", "domain": "place", "range": "country"},
            {"name": "country_of_citizenship", "domain": "person", "range": "country"},
            {"name": "country_of_residence", "domain": "person", "range": "country"},
            {"name": "place_of_birth", "domain": "person", "range": "place"},
            {"name": "capital", "domain": "country", "range": "place"},
            {"name": "manager", "domain": "group", "range": "person"},
        ]
    )
    ks = KnowSync("memory://", schema=schema)
    try:
        ks.edit(
            [
                ("The_Quartet", "manager", "Ann_Manager"),
                ("Ann_Manager", "place_of_birth", "Fredville"),
                ("Ann_Manager", "country_of_citizenship", "Freedonia"),
                ("Freedonia", "capital", "Fredville"),
            ],
            user="curator",
        )
        question = "What is the country of the manager of The Quartet?"
        assert ks.ask(question).graph == ["Freedonia"]
        ks.edit([("Ann_Manager", "country_of_residence", "Sylvania")], user="curator")
        answer = ks.ask(question)
        assert answer.graph == [] and answer.missing is not None, answer.to_dict()
        assert answer.missing["relation"] == "country"
    finally:
        ks.close()


def test_a_noun_template_that_goes_on_after_its_verb_states_the_fact(mquake: KnowSync) -> None:
    # "The headquarters of {subject} is located in the city of": the noun and the whole
    # template both read; the words after "is" are no part of the object
    intent = mquake.parse("The headquarters of Yellow Tune Records is located in the city of Oslo.")
    assert isinstance(intent, EditIntent), intent
    assert intent.as_triples() == [("Yellow_Tune_Records", "headquarters_location", "Oslo")]


def test_a_name_with_a_bracketed_part_anchors_a_walk(mquake: KnowSync) -> None:
    mquake.edit(
        [
            ("Ford_Falcon_(North_America)", "manufacturer", "Ford_Motor_Company"),
            ("Ford_Motor_Company", "founded_by", "Henry_Ford"),
            ("Henry_Ford", "country_of_citizenship", "Freedonia"),
        ],
        user="curator",
    )
    answer = mquake.ask(
        "Which city is the capital of the country where the founder of the manufacturer of "
        "Ford Falcon (North America) is a citizen?"
    )
    assert answer.subject == "Ford_Falcon_(North_America)", answer.to_dict()
    assert answer.path == ["manufacturer", "founded_by", "country_of_citizenship", "capital"]
    assert answer.graph == ["Fredville"]
