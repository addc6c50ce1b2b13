"""The pipeline: sentences and triples in, decisions out, over the demo KG and every backend."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kg import EditState, InputError, NotFoundError, UnknownRelationError
from knowsync import KnowSync
from knowsync._outcomes import PermissionDenied, Submission
from knowsync._session import Session
from knowsync._submissions import _key_doc
from tests.service.conftest import FakeModel


def _objects(ks: KnowSync, entity: str, relation: str) -> list[str]:
    return [f.object for f in ks.facts(entity) if f.relation == relation]


# ------------------------------------------------------------------ each intent, demo KG


def test_an_edit_sentence_applies(demo: KnowSync) -> None:
    sub = demo.submit("Joe Biden is the president of America", user="editor")
    assert sub.decision == "accepted" and sub.edit_id is not None
    assert sub.intent["kind"] == "edit"
    assert sub.toxicity is not None and sub.toxicity["verdict"] == "ok"
    assert [f["object"] for f in sub.report["added"]] == ["Joe_Biden"]
    record = demo.get_edit(sub.edit_id)
    assert record.user == "editor" and record.state is EditState.APPLIED
    assert _objects(demo, "America", "president") == ["Joe_Biden"]


def test_a_correction_of_anothers_fact_waits_for_review(demo: KnowSync) -> None:
    sub = demo.submit("The capital of America is New York", user="editor")
    assert sub.decision == "needs_review"
    assert "asserted by demo" in (sub.reason or "")
    record = demo.get_edit(sub.edit_id or 0)
    assert record.state is EditState.HELD and record.user == "editor"
    assert record.report["held"]["kinds"] == ["supersedes"]
    assert _objects(demo, "America", "capital") == ["Washington_D.C."]  # nothing changed
    assert [r.id for r in demo.review_queue()] == [sub.edit_id]


def test_a_curators_correction_applies(demo: KnowSync) -> None:
    sub = demo.submit("The capital of America is New York", user="curator")
    assert sub.decision == "accepted"
    assert sub.report["superseded"][0]["old"]["object"] == "Washington_D.C."
    assert _objects(demo, "America", "capital") == ["New_York"]


def test_a_removal_sentence(demo: KnowSync) -> None:
    held = demo.submit("Forget the capital of America", user="editor")
    assert held.decision == "needs_review" and held.intent["kind"] == "retract"
    done = demo.submit("Forget the capital of America", user="curator")
    assert done.decision == "accepted"
    assert _objects(demo, "America", "capital") == []


def test_a_question_is_answered_from_the_graph(demo: KnowSync) -> None:
    sub = demo.submit("What is the capital of America?", user="viewer")
    assert sub.decision == "accepted" and sub.edit_id is None
    assert sub.answer is not None
    assert sub.answer.graph == ["Washington_D.C."]
    assert [f.object for f in sub.answer.facts] == ["Washington_D.C."]
    assert sub.answer.model is None and sub.answer.agree is None
    assert sub.to_dict()["answer"]["graph"] == ["Washington_D.C."]


def test_undo_my_last_edit(demo: KnowSync) -> None:
    first = demo.submit("Joe Biden is the president of America", user="editor")
    undo = demo.submit("Undo my last edit", user="editor")
    assert undo.decision == "accepted" and undo.intent["kind"] == "rollback"
    assert undo.report["rollback_of"] == first.edit_id
    assert _objects(demo, "America", "president") == []
    again = demo.submit("Undo my last edit", user="editor")
    assert again.decision == "rejected" and "no edit in force" in (again.reason or "")


def test_undo_by_id_checks_whose_edit_it_is(demo: KnowSync) -> None:
    first = demo.submit("Joe Biden is the president of America", user="editor")
    with pytest.raises(PermissionDenied, match="only their own"):
        demo.submit(f"undo edit {first.edit_id}", user="editor2")
    undo = demo.submit(f"undo edit {first.edit_id}", user="curator")
    assert undo.decision == "accepted"
    twice = demo.submit(f"undo edit {first.edit_id}", user="curator")
    assert twice.decision == "rejected" and "already rolled back" in (twice.reason or "")
    with pytest.raises(NotFoundError):
        demo.submit("undo edit 9999", user="curator")


def test_an_unclear_sentence_asks_back(demo: KnowSync) -> None:
    sub = demo.submit("blorp", user="viewer")
    assert sub.decision == "needs_clarification" and sub.edit_id is None
    assert sub.question and "Try a sentence" in sub.question
    assert demo.review_queue() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Barack Obama frobnicates Michelle Obama", "Barack Obama's nickname is Michelle Obama"),
        ("Obma was born in Kenya", "Barack_Obama was born in Kenya"),
    ],
)
def test_clarifying_suggestions_are_requests_that_read(
    demo: KnowSync, text: str, expected: str
) -> None:
    sub = demo.submit(text, user="editor")
    assert sub.decision == "needs_clarification"
    assert expected in sub.suggestions
    for suggestion in sub.suggestions:  # a click on any of them is understood
        clicked = demo.submit(suggestion, user="editor")
        if clicked.decision == "needs_clarification":
            # understood, and it names a place the graph lacks (Kenya): confirming it is the
            # next click, and that one goes through
            assert clicked.report["new_entities"] == ["Kenya"], clicked.to_dict()
            clicked = demo.submit(clicked.suggestions[0], user="editor")
        assert clicked.decision != "needs_clarification", clicked.to_dict()


def test_pronouns_take_the_request_topic_or_ask(demo: KnowSync) -> None:
    sub = demo.submit(
        'Kamala Harris was born in Oakland. Her husband is "Doug Emhoff".', user="editor"
    )
    assert sub.decision == "accepted" and sub.edit_id is not None
    assert _objects(demo, "Kamala_Harris", "husband") == ["Doug_Emhoff"]
    before = demo.stats()
    text = (
        "Barack Obama was born in Honolulu. Joe Biden was born in Scranton. His wife is Jill Biden."
    )
    asked = demo.submit(text, user="editor")
    assert asked.decision == "needs_clarification" and asked.question
    assert "'His' could be Barack Obama or Joe Biden" in asked.question
    assert text.replace("His", "Joe Biden's") in asked.suggestions
    alone = demo.submit("His wife is Michelle Obama.", user="editor")
    assert alone.decision == "needs_clarification" and "names no one" in (alone.question or "")
    assert demo.stats() == before
    with demo.store.read() as view:
        assert not view.entities(["His", "His_wife"])


def test_viewers_may_ask_but_not_edit(demo: KnowSync) -> None:
    assert demo.submit("Who is the president of America?", user="viewer").decision == "accepted"
    with pytest.raises(PermissionDenied, match="needs the role editor"):
        demo.submit("Joe Biden is the president of America", user="viewer")
    with pytest.raises(PermissionDenied):
        demo.submit("Undo my last edit", user="viewer")


def test_a_statement_asked_is_answered_with_advice_the_role_can_follow(demo: KnowSync) -> None:
    """A viewer who states a fact where a question is expected was told to 'submit it as an
    edit', which a viewer cannot do."""
    statement = "Joe Biden is the president of America"
    viewer = demo.ask(statement, user="viewer").unclear
    editor = demo.ask(statement, user="editor").unclear
    assert viewer is not None and editor is not None
    assert "submit" not in viewer["message"] and "not change the graph" in viewer["message"]
    assert "submit it as an edit" in editor["message"]


@pytest.mark.parametrize("text", ["", "   ", "x" * 5000, "bad\x00text"])
def test_bad_text_is_refused_and_nothing_written(demo: KnowSync, text: str) -> None:
    before = demo.stats()
    with pytest.raises(InputError):
        demo.submit(text, user="editor")
    assert demo.stats() == before


# ------------------------------------------------------------------ ask, with and without a model


def test_ask_with_a_model_says_whether_the_two_agree(demo: KnowSync) -> None:
    model = FakeModel({"The capital of America is": " Washington, D.C. of course"})
    demo.model = model  # type: ignore[assignment]
    answer = demo.ask("What is the capital of America?", user="viewer")
    assert answer.subject == "America" and answer.relation == "capital"
    assert answer.model == "Washington, D.C. of course" and answer.agree is True
    model.answers["The capital of America is"] = "Paris"
    assert demo.ask("What is the capital of America?").agree is False
    assert model.asked == ["The capital of America is"] * 2


def test_ask_without_facts_or_with_a_statement(demo: KnowSync) -> None:
    answer = demo.ask("Who is the president of America?")
    assert answer.graph == [] and answer.agree is None and answer.unclear is None
    statement = demo.ask("Joe Biden is the president of America")
    assert statement.unclear is not None and statement.unclear["missing"] == "intent"
    assert demo.stats()["edits"] == 1  # asking never writes
    unclear = demo.ask("blorp")
    assert unclear.unclear is not None and unclear.to_dict()["unclear"]["missing"] == "intent"


# ------------------------------------------------------------------ triples, every backend


def test_submit_triples_applies_and_journals_the_user(kb: KnowSync) -> None:
    sub = kb.submit_triples([("France", "capital", "Paris")], user="editor")
    assert sub.decision == "accepted"
    assert kb.get_edit(sub.edit_id or 0).user == "editor"
    assert _objects(kb, "France", "capital") == ["Paris"]
    dup = kb.submit_triples([("France", "capital", "Paris")], user="editor2")
    assert dup.decision == "accepted" and dup.report["duplicates"] == [
        ["France", "capital", "Paris"]
    ]


def test_a_controller_refusal_is_rejected_with_its_reasons(kb: KnowSync) -> None:
    sub = kb.submit_triples(retract=[("France", "capital", "Lyon")], user="editor")
    assert sub.decision == "rejected"
    assert sub.reason and sub.reason == "; ".join(sub.report["refusals"])
    assert kb.get_edit(sub.edit_id or 0).state is EditState.REFUSED


@pytest.mark.parametrize(
    ("assert_", "error"),
    [
        ([], InputError),
        ([("France", "capital")], InputError),
        ("France|capital|Paris", InputError),
        ([("France", "", "Paris")], InputError),
        ([("France", "capital", 3)], InputError),
        ([("France", "no_such_relation", "Paris")], UnknownRelationError),
    ],
)
def test_bad_triples_are_refused_and_nothing_written(
    kb: KnowSync, assert_: object, error: type[Exception]
) -> None:
    before = kb.stats()
    with pytest.raises(error):
        kb.submit_triples(assert_, user="editor")  # type: ignore[arg-type]
    assert kb.stats() == before


def test_a_toxic_edit_is_refused_and_journaled_with_the_verdict(kb: KnowSync) -> None:
    sub = kb.submit_triples([("the suspected perpetrator", "likes", "Muslims")], user="editor")
    assert sub.decision == "rejected"
    assert sub.toxicity is not None and sub.toxicity["verdict"] == "toxic"
    assert sub.reason and sub.reason.startswith("refused by the toxic-edit filter")
    record = kb.get_edit(sub.edit_id or 0)
    assert record.state is EditState.REFUSED and record.user == "editor"
    assert record.report["toxicity"]["verdict"] == "toxic"
    assert kb.state() == []


def test_a_doubtful_edit_waits_for_review(kb: KnowSync) -> None:
    sub = kb.submit_triples([("Denmark", "likes", "gibberish")], user="editor")
    assert sub.decision == "needs_review"
    assert sub.toxicity is not None and sub.toxicity["verdict"] == "doubtful"
    assert kb.get_edit(sub.edit_id or 0).report["held"]["kinds"] == ["doubtful"]
    assert kb.state() == []


def test_an_edit_of_a_locked_fact_waits_for_review(kb: KnowSync) -> None:
    kb.submit_triples([("France", "capital", "Paris")], user="editor")
    lock = kb.lock("France", user="curator", reason="verified")
    sub = kb.submit_triples([("France", "capital", "Lyon")], user="editor")
    assert sub.decision == "needs_review"
    assert f"lock #{lock.id}" in (sub.reason or "")
    assert "locked" in kb.get_edit(sub.edit_id or 0).report["held"]["kinds"]
    assert _objects(kb, "France", "capital") == ["Paris"]


# ------------------------------------------------------------------ idempotency


def test_an_idempotency_key_applies_once(kb: KnowSync) -> None:
    first = kb.submit_triples([("France", "capital", "Paris")], user="editor", idempotency_key="k1")
    edits = kb.stats()["edits"]
    again = kb.submit_triples([("France", "capital", "Paris")], user="editor", idempotency_key="k1")
    assert again.to_dict() == first.to_dict()
    assert kb.stats()["edits"] == edits  # nothing journaled, nothing applied
    with pytest.raises(InputError, match="used for another request"):
        kb.submit_triples([("France", "capital", "Lyon")], user="editor", idempotency_key="k1")
    # another user's key is no business of this one: the same key is a request of its own
    theirs = kb.submit_triples(
        [("Spain", "capital", "Madrid")], user="editor2", idempotency_key="k1"
    )
    assert theirs.decision == "accepted" and theirs.edit_id != first.edit_id
    again = kb.submit_triples(
        [("Spain", "capital", "Madrid")], user="editor2", idempotency_key="k1"
    )
    assert again.to_dict() == theirs.to_dict()


def test_an_idempotency_key_of_a_held_edit(kb: KnowSync) -> None:
    first = kb.submit_triples(
        [("Denmark", "likes", "gibberish")], user="editor", idempotency_key="h"
    )
    again = kb.submit_triples(
        [("Denmark", "likes", "gibberish")], user="editor", idempotency_key="h"
    )
    assert again.decision == first.decision == "needs_review" and again.edit_id == first.edit_id
    assert len(kb.review_queue()) == 1


@pytest.mark.parametrize("stored_as", ["per user", "before keys were per user"])
def test_an_idempotency_key_whose_outcome_was_lost(kb: KnowSync, stored_as: str) -> None:
    """A process that died after the edit committed but before the outcome was stored: the
    retry finds the journal entry from the reservation and applies nothing again (also for a
    reservation stored under the bare key, as before keys were kept per user)."""
    first = kb.submit_triples([("France", "capital", "Paris")], user="editor", idempotency_key="x")
    with kb.store.write() as tx:  # what the dead process left: the reservation only
        doc = tx.doc("idempotency", _key_doc("editor", "x"))
        assert doc is not None
        if stored_as != "per user":
            tx.delete_doc("idempotency", _key_doc("editor", "x"))
        tx.put_doc(
            "idempotency",
            _key_doc("editor", "x") if stored_as == "per user" else "x",
            {k: doc[k] for k in ("user", "fingerprint")}
            | {"after": (first.edit_id or 1) - 1, "edit_ids": []},
        )
    edits = kb.stats()["edits"]
    again = kb.submit_triples([("France", "capital", "Paris")], user="editor", idempotency_key="x")
    assert again.decision == "accepted" and again.edit_id == first.edit_id
    assert kb.stats()["edits"] == edits


@pytest.mark.parametrize("key", ["", "  ", "k" * 201, "line\nbreak"])
def test_bad_idempotency_keys(kb: KnowSync, key: str) -> None:
    with pytest.raises(InputError):
        kb.submit_triples([("France", "capital", "Paris")], user="editor", idempotency_key=key)
    assert kb.state() == []


# ------------------------------------------------------------------ the race


def _race(kb: KnowSync, country: str, claims: dict[str, str]) -> dict[str, Submission]:
    """Users submit their capital for ``country`` at the same moment."""
    barrier = threading.Barrier(len(claims))
    results: dict[str, Submission] = {}

    def go(user: str, city: str) -> None:
        barrier.wait()
        results[user] = kb.submit_triples([(country, "capital", city)], user=user)

    threads = [threading.Thread(target=go, args=item) for item in claims.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_users_racing_for_one_fact(kb: KnowSync) -> None:
    """Both set the capital of a new country at once: one applies, the other supersedes the
    winner's fact and waits for review; nothing is lost."""
    rounds = 5
    for i in range(rounds):
        country = f"Country{i}"
        results = _race(kb, country, {"editor": f"EditorCity{i}", "editor2": f"OtherCity{i}"})
        assert sorted(r.decision for r in results.values()) == ["accepted", "needs_review"]
        winner = next(u for u, r in results.items() if r.decision == "accepted")
        loser = next(r for r in results.values() if r.decision == "needs_review")
        assert f"asserted by {winner}" in (loser.reason or "")
        assert loser.edit_id is not None
        assert kb.get_edit(loser.edit_id).state is EditState.HELD
        [fact] = [f for f in kb.facts(country) if f.relation == "capital"]
        assert fact.user == winner
    assert len(kb.review_queue()) == rounds


def test_a_name_spelt_close_to_a_known_one_is_asked_about_not_swapped() -> None:
    ks = KnowSync("memory://")
    try:
        ks.edit([("Barland", "nickname", "Zed_Nick")], user="curator")
        sub = ks.submit("The nickname of Fooland is Zed_Nickk", user="curator")
        assert sub.decision == "needs_clarification" and sub.edit_id is None
        assert sub.question and "did you mean Zed_Nick?" in sub.question
        assert sub.intent["suggestions"] == ["Zed_Nick"]  # the suggestion as data
        assert sub.suggestions == [
            "The nickname of Fooland is Zed_Nick",
            'The nickname of Fooland is "Zed_Nickk"',
        ]
        with ks.store.read() as view:  # nothing stored
            assert view.facts(subject="Fooland") == [] and view.entities(["Zed_Nickk"]) == {}
        # either click reads: the known entity, or the name as written (a new entity); the
        # subject is new to the graph too, so the click asks to confirm it, and the next one
        # (both names quoted) applies
        confirm = ks.submit(sub.suggestions[1], user="curator")
        assert confirm.decision == "needs_clarification" and confirm.edit_id is None
        assert confirm.report == {"new_entities": ["Fooland"]}
        assert confirm.suggestions == ['The nickname of "Fooland" is "Zed_Nickk"']
        assert ks.submit(confirm.suggestions[0], user="curator").decision == "accepted"
        assert _objects(ks, "Fooland", "nickname") == ["Zed_Nickk"]
        # a name differing only in punctuation and spacing is the same name
        same = ks.submit("The nickname of Quuxia is Zed Nick.", user="curator", new_names=True)
        assert same.decision == "accepted", same.to_dict()
        assert _objects(ks, "Quuxia", "nickname") == ["Zed_Nick"]
    finally:
        ks.close()


# ------------------------------------------------------------------ a new name is confirmed


def _journal(ks: KnowSync) -> tuple[dict[str, int], list[int]]:
    return ks.stats(), [e.id for e in ks.history(limit=None)]


def test_a_new_name_is_asked_about_and_nothing_changes(demo: KnowSync) -> None:
    before = _journal(demo)
    sub = demo.submit("The capital of America is Poseidonia", user="editor")
    assert sub.decision == "needs_clarification" and sub.edit_id is None
    assert sub.question and sub.question.startswith(
        "'Poseidonia' is not in the graph yet. Create it as a new entity?"
    )
    assert sub.report == {"new_entities": ["Poseidonia"]}  # America is known: not asked about
    assert sub.reason == "new names to confirm: Poseidonia"
    assert sub.suggestions == ['The capital of America is "Poseidonia"']  # the one click
    assert sub.intent["type"] == "edit"  # what was read, shown with the question
    assert _journal(demo) == before
    with demo.store.read() as view:
        assert view.entities(["Poseidonia"]) == {}


def test_every_new_name_is_named_at_once_and_the_quoted_sentence_applies(demo: KnowSync) -> None:
    text = "Joe Biden is married to Jill Biden and the capital of Narnia is Cair Paravel"
    sub = demo.submit(text, user="curator")
    assert sub.decision == "needs_clarification"
    assert sub.report == {"new_entities": ["Narnia", "Cair_Paravel"]}
    assert sub.question and "'Narnia' and 'Cair Paravel' are not in the graph yet" in sub.question
    assert sub.suggestions == [
        'Joe Biden is married to Jill Biden and the capital of "Narnia" is "Cair Paravel"'
    ]
    applied = demo.submit(sub.suggestions[0], user="curator")
    assert applied.decision == "accepted", applied.to_dict()
    assert _objects(demo, "Narnia", "capital") == ["Cair_Paravel"]
    assert _objects(demo, "Joe_Biden", "spouse") == ["Jill_Biden"]


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ('The capital of "Atlantis" is "Poseidonia"', False),  # quoted names are confirmed
        ("The capital of Atlantis is Poseidonia", True),
    ],
)
def test_a_new_name_quoted_or_confirmed_is_created(demo: KnowSync, text: str, flag: bool) -> None:
    sub = demo.submit(text, user="editor", new_names=flag)
    assert sub.decision == "accepted" and sub.edit_id is not None, sub.to_dict()
    assert sorted(sub.report["new_entities"]) == ["Atlantis", "Poseidonia"]
    assert _objects(demo, "Atlantis", "capital") == ["Poseidonia"]


def test_the_quoted_answer_creates_the_name_the_sentence_proposed(demo: KnowSync) -> None:
    """Quoting a name to confirm it does not change it: "The Big Apple" stays The_Big_Apple,
    and a name also standing inside a known one ("Joe" in "Joe Biden") is quoted where it is
    the new name."""
    for text, name in (
        ("The capital of Atlantis is The Big Apple", "The_Big_Apple"),
        ("The nickname of Joe Biden is Joe", "Joe"),
    ):
        sub = demo.submit(text, user="curator")
        assert name in sub.report["new_entities"], sub.to_dict()
        [click] = sub.suggestions
        applied = demo.submit(click, user="curator")
        assert applied.decision == "accepted", (click, applied.to_dict())
        assert name in applied.report["new_entities"]


def test_names_the_graph_has_and_values_are_not_asked_about(demo: KnowSync) -> None:
    # case and spacing folded: America, New_York
    sub = demo.submit("the capital of america is new york", user="curator")
    assert sub.decision == "accepted", sub.to_dict()
    assert _objects(demo, "America", "capital") == ["New_York"]
    # a date is a value, not a name
    born = demo.submit("Joe Biden was born on November 20, 1942", user="curator")
    assert born.decision == "accepted", born.to_dict()
    assert _objects(demo, "Joe_Biden", "birth_date") == ["1942-11-20"]


def test_confirming_new_names_does_not_swap_a_near_miss(demo: KnowSync) -> None:
    before = _journal(demo)
    sub = demo.submit("The wife of Joe Biden is Jill Bidenn", user="curator", new_names=True)
    assert sub.decision == "needs_clarification" and sub.edit_id is None
    assert sub.question and "did you mean Jill_Biden?" in sub.question
    assert 'The wife of Joe Biden is "Jill Bidenn"' in sub.suggestions  # the name as written
    assert _journal(demo) == before


def test_removals_and_questions_never_ask_about_names(demo: KnowSync) -> None:
    asked = demo.submit("What is the capital of Atlantis?", user="viewer")
    assert asked.decision == "accepted" and asked.answer is not None
    gone = demo.submit("Remove that the capital of Atlantis is Poseidonia", user="editor")
    # refused by the rules as a fact the graph does not hold, not asked about
    assert gone.decision == "rejected" and gone.question is None
    assert gone.reason and "not a known fact" in gone.reason and not gone.report["new_entities"]
    with demo.store.read() as view:
        assert view.entities(["Atlantis", "Poseidonia"]) == {}


def test_a_viewer_is_refused_rather_than_asked(demo: KnowSync) -> None:
    with pytest.raises(PermissionDenied, match="needs the role editor"):
        demo.submit("The capital of Atlantis is Poseidonia", user="viewer")


def test_triples_and_imports_are_data_and_need_no_confirmation(
    demo: KnowSync, tmp_path: Path
) -> None:
    sub = demo.submit_triples([("Atlantis", "capital", "Poseidonia")], user="editor")
    assert sub.decision == "accepted" and sub.report["new_entities"] == ["Atlantis", "Poseidonia"]
    rows = tmp_path / "rows.csv"
    rows.write_text("head,relation,tail\nLemuria,capital,Mu_City\n", encoding="utf-8")
    report = demo.import_as("editor", rows)
    assert report.added == 1 and _objects(demo, "Lemuria", "capital") == ["Mu_City"]


def test_the_session_carries_the_confirmation(demo: KnowSync) -> None:
    door = Session(demo, "editor")
    text = "The capital of Atlantis is Poseidonia"
    assert door.submit(text).decision == "needs_clarification"
    assert door.submit(text, new_names=True).decision == "accepted"
    assert _objects(demo, "Atlantis", "capital") == ["Poseidonia"]
