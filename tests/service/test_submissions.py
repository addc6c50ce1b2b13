"""Submissions as a part of its own: what it reads and filters with comes from the composition
root (``KnowSync``'s arguments), never from attributes looked up on the knowledge base."""

from __future__ import annotations

from controller import ToxicFilter
from interpreter import RollbackIntent, ScriptedChatBackend
from knowsync import KnowSync
from knowsync._submissions import Readers
from tests.conftest import DATASETS

from .conftest import FakeModel


def test_the_toxic_filter_given_to_the_knowledge_base_is_the_one_edits_meet() -> None:
    strict = ToxicFilter(extra_terms={"slur": ["zorblax"]})
    edit = [("Zorblax", "capital", "Paris")]
    with KnowSync("memory://", toxic_filter=strict) as ks:
        sub = ks.submit_triples(edit, user="dana", dry_run=True)
        assert sub.decision == "rejected" and sub.toxicity is not None
        assert sub.toxicity["verdict"] == "toxic"
    with KnowSync("memory://") as ks:  # the default filter does not know the word
        assert ks.submit_triples(edit, user="dana", dry_run=True).decision == "accepted"


def test_the_chat_backend_given_to_the_knowledge_base_reads_what_the_rules_cannot() -> None:
    script = ScriptedChatBackend([RollbackIntent(target="last")])
    with KnowSync("memory://", chat_backend=script) as ks:
        ks.import_file(DATASETS / "oneedit" / "kg.csv", user="demo")
        intent = ks.parse("blorp the frobnicator")
        assert isinstance(intent, RollbackIntent) and intent.target == "last"
        assert [r.text for r in script.requests] == ["blorp the frobnicator"]


def test_readers_take_the_backend_given_and_rebuild_for_a_new_schema() -> None:
    script = ScriptedChatBackend([])
    with KnowSync("memory://") as ks:
        schema = ks.schema
        given = Readers(script, model=lambda: None)
        assert given.backend() is script and given(schema).backend is script
        assert given(schema) is given(schema)  # kept while nothing it depends on changes
        other = schema.merged(schema)
        assert given(other) is not given(schema)
        # no backend and no model side (graph only, or a stand-in): the rules alone
        assert Readers(None, model=lambda: None).backend() is None
        assert Readers(None, model=FakeModel).backend() is None


def test_readers_read_with_the_attached_model_sides_own_model() -> None:
    """A model side attached now (or later, by ``attach_model``) reads what the rules cannot
    with its own loaded model, handed over by the composition root: never the process's
    shared model (``LocalModelBackend()`` without ``loaded``). No model is loaded here."""
    from interpreter import LocalModelBackend
    from knowsync._model_side import ModelSide

    def side(loaded: object) -> ModelSide:
        stand_in = ModelSide.__new__(ModelSide)  # no weights: only what Readers reads
        stand_in.loaded = loaded  # type: ignore[assignment]
        return stand_in

    attached: list[ModelSide | None] = [None]
    readers = Readers(None, model=lambda: attached[0])
    assert readers.backend() is None  # graph only: the rules alone
    first = side(object())
    attached[0] = first
    backend = readers.backend()
    assert isinstance(backend, LocalModelBackend) and backend.loaded is first.loaded
    assert readers.backend() is backend  # one backend (its prefix cache) per model side
    attached[0] = side(object())
    assert readers.backend() is not backend
