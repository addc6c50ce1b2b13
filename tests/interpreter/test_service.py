"""How the service uses an intent: its triples go to ``KnowSync.edit`` as they are."""

from __future__ import annotations

from interpreter import EditIntent, Interpreter, RetractIntent
from knowsync import KnowSync


def test_an_edit_intent_applies_through_knowsync() -> None:
    ks = KnowSync("memory://")
    try:
        ks.edit([("Australia", "capital", "Sydney")], user="demo")
        interp = Interpreter(ks.schema)
        with ks.store.read() as view:
            intent = interp.read("Actually Canberra is the capital of Australia, not Sydney", view)
        assert isinstance(intent, EditIntent)
        t = intent.triples[0]
        assert not t.subject.new_entity and t.object.new_entity
        assert t.old_object is not None and not t.old_object.new_entity
        assert intent.as_triples() == [("Australia", "capital", "Canberra")]
        result = ks.edit(intent.as_triples(), user="alice")
        assert result.accepted
        assert [f.object for f in ks.facts("Australia")] == ["Canberra"]
        with ks.store.read() as view:
            retract = interp.read("Forget the capital of Australia", view)
        assert isinstance(retract, RetractIntent)
        assert retract.as_triples() == [("Australia", "capital", "Canberra")]
        assert ks.edit(retract=retract.as_triples(), user="alice").accepted
        assert ks.facts("Australia") == []
    finally:
        ks.close()
