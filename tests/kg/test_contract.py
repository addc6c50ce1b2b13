"""The GraphStore contract: every backend passes this suite unchanged."""

from __future__ import annotations

import threading

import pytest

from kg import (
    EditKind,
    EditState,
    Fact,
    FactKind,
    GraphStore,
    GraphTxn,
    GraphView,
    InputError,
    NotFoundError,
    Schema,
    StoreError,
    Triple,
)

T = Triple


def _edit(tx: GraphTxn, user: str = "u") -> int:
    return tx.new_edit(EditKind.EDIT, user, {"why": "test"})


def _seed(store: GraphStore) -> int:
    with store.write() as tx:
        e = _edit(tx)
        tx.create_entities(["Barack_Obama", "Michelle_Obama", "Honolulu"])
        tx.add_facts(
            [
                Fact(T("Barack_Obama", "wife", "Michelle_Obama")),
                Fact(T("Barack_Obama", "born_in", "Honolulu")),
            ],
            e,
        )
        tx.update_edit(e, state=EditState.APPLIED)
    return e


def test_store_satisfies_protocol(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    with store.read() as view:
        assert isinstance(view, GraphView)
    with store.write() as tx:
        assert isinstance(tx, GraphTxn)


def test_entity_spellings_resolve_to_one_entity(store: GraphStore) -> None:
    _seed(store)
    with store.read() as view:
        found = view.entities(
            ["Barack_Obama", "Barack Obama", "barack obama", "  BARACK   OBAMA ", "Nobody"]
        )
    assert {found[k].name for k in found} == {"Barack_Obama"}
    assert "Nobody" not in found
    assert len(found) == 4


def test_creating_a_second_spelling_does_not_duplicate(store: GraphStore) -> None:
    _seed(store)
    with store.write() as tx:
        tx.create_entities(["barack obama", "Barack Obama"])
    with store.read() as view:
        assert view.count_facts()["entities"] == 3


def test_aliases(store: GraphStore) -> None:
    _seed(store)
    with store.write() as tx:
        tx.add_alias("Barack_Obama", "Obama")
        with pytest.raises(InputError):
            tx.add_alias("Michelle_Obama", "obama")
        with pytest.raises(NotFoundError):
            tx.add_alias("Nobody", "x")
    with store.read() as view:
        e = view.entities(["OBAMA"])["OBAMA"]
        assert e.name == "Barack_Obama"
        assert "Obama" in e.aliases


def test_facts_and_provenance(store: GraphStore) -> None:
    e = _seed(store)
    with store.read() as view:
        facts = view.facts(subject="Barack_Obama")
        assert {f.triple for f in facts} == {
            T("Barack_Obama", "wife", "Michelle_Obama"),
            T("Barack_Obama", "born_in", "Honolulu"),
        }
        f = view.facts(subject="Barack_Obama", relation="wife")[0]
        assert f.kind is FactKind.ASSERTED and f.edit_id == e and f.user == "u"
        assert f.created_at and f.valid_from == e and f.valid_to is None
        assert view.facts(object="Honolulu")[0].subject == "Barack_Obama"
        assert view.facts(subject="Nobody") == []
        assert view.count_facts()["asserted"] == 2


def test_derived_facts_keep_rule_and_premises(store: GraphStore) -> None:
    with store.write() as tx:
        e = _edit(tx)
        tx.create_entities(["A", "B", "C"])
        premises = (T("A", "president", "B"), T("B", "wife", "C"))
        tx.add_facts(
            [Fact(T("A", "first_lady", "C"), FactKind.COMPOSED, rule="r", premises=premises)], e
        )
    with store.read() as view:
        f = view.facts(subject="A")[0]
    assert f.kind is FactKind.COMPOSED and f.rule == "r" and f.premises == premises


def test_retire_and_history_as_of(store: GraphStore) -> None:
    e1 = _seed(store)
    with store.write() as tx:
        e2 = _edit(tx)
        tx.create_entities(["Jill_Biden"])
        tx.retire_facts([T("Barack_Obama", "wife", "Michelle_Obama")], e2)
        tx.add_facts([Fact(T("Barack_Obama", "wife", "Jill_Biden"))], e2)
    with store.read() as view:
        now = {f.object for f in view.facts(subject="Barack_Obama", relation="wife")}
        then = {f.object for f in view.facts(subject="Barack_Obama", relation="wife", as_of=e1)}
        added, retired = view.edit_changes(e2)
    assert now == {"Jill_Biden"} and then == {"Michelle_Obama"}
    assert [f.object for f in added] == ["Jill_Biden"]
    assert [f.object for f in retired] == ["Michelle_Obama"] and retired[0].valid_to == e2


def test_iter_facts_pages_through_the_facts_in_force_and_as_of(store: GraphStore) -> None:
    n = 2500  # more than a page of every backend
    people = [f"p{i}" for i in range(n)]
    with store.write() as tx:
        e1 = _edit(tx)
        tx.create_entities([*people, "Lyon", "Nice"])
        tx.add_facts([Fact(T(p, "likes", "Lyon")) for p in people], e1)
    with store.write() as tx:
        e2 = _edit(tx)
        tx.retire_facts([T(p, "likes", "Lyon") for p in people[::3]], e2)
        tx.add_facts([Fact(T(p, "likes", "Nice"), edit_id=e2) for p in people[::3]], e2)
    with store.read() as view:
        for as_of in (None, e1, e2):
            streamed = list(view.iter_facts(as_of=as_of))
            assert streamed == view.facts(as_of=as_of)
        assert len(streamed) == n and streamed[-1].triple == T(people[::3][-1], "likes", "Nice")
        assert {f.object for f in view.iter_facts(as_of=e1)} == {"Lyon"}
        assert list(view.iter_facts(as_of=e1 - 1)) == []


def test_retiring_a_missing_fact_fails_and_rolls_back(store: GraphStore) -> None:
    _seed(store)
    with pytest.raises(StoreError), store.write() as tx:
        e = _edit(tx)
        tx.retire_facts([T("Barack_Obama", "wife", "Michelle_Obama")], e)
        tx.retire_facts([T("Barack_Obama", "wife", "Nobody_Else")], e)
    with store.read() as view:
        assert len(view.facts(subject="Barack_Obama", relation="wife")) == 1
        assert view.last_edit_id() == 1


def test_error_inside_write_rolls_back_everything(store: GraphStore) -> None:
    _seed(store)
    with pytest.raises(RuntimeError), store.write() as tx:
        e = _edit(tx)
        tx.create_entities(["Ghost"])
        tx.add_facts([Fact(T("Ghost", "likes", "Honolulu"))], e)
        raise RuntimeError("boom")
    with store.read() as view:
        assert view.entities(["Ghost"]) == {}
        assert view.facts(subject="Ghost") == []
        assert view.last_edit_id() == 1


def test_match_patterns(store: GraphStore) -> None:
    _seed(store)
    with store.read() as view:
        got = view.match(
            [
                ("Barack_Obama", "wife", None),
                (None, "born_in", "Honolulu"),
                ("Nobody", "wife", None),
                ("Barack_Obama", "wife", "Michelle_Obama"),
            ]
        )
    assert {f.triple for f in got} == {
        T("Barack_Obama", "wife", "Michelle_Obama"),
        T("Barack_Obama", "born_in", "Honolulu"),
    }
    assert len(got) == 2


def test_journal_entries(store: GraphStore) -> None:
    with store.write() as tx:
        a = tx.new_edit(EditKind.EDIT, "alice", {"assert": [["a", "b", "c"]]})
        b = tx.new_edit(EditKind.IMPORT, "bob", {}, batch="B1")
        tx.update_edit(a, state=EditState.APPLIED, report={"added": 1})
        tx.update_edit(b, state=EditState.REFUSED)
        with pytest.raises(NotFoundError):
            tx.update_edit(999, state=EditState.APPLIED)
    with store.read() as view:
        ea = view.edit(a)
        assert ea.user == "alice" and ea.state is EditState.APPLIED
        assert ea.request == {"assert": [["a", "b", "c"]]} and ea.report == {"added": 1}
        assert [e.id for e in view.edits()] == [b, a]
        assert [e.id for e in view.edits(newest_first=False)] == [a, b]
        assert [e.id for e in view.edits(user="bob")] == [b]
        assert [e.id for e in view.edits(batch="B1")] == [b]
        assert [e.id for e in view.edits(kinds=[EditKind.EDIT])] == [a]
        assert [e.id for e in view.edits(states=[EditState.REFUSED])] == [b]
        assert view.edits(since="2999-01-01") == []
        assert view.last_edit_id() == b
        with pytest.raises(NotFoundError):
            view.edit(12345)


def test_edits_about_an_entity(store: GraphStore) -> None:
    e1 = _seed(store)
    with store.write() as tx:
        e2 = _edit(tx)
        tx.create_entities(["X", "Y"])
        tx.add_facts([Fact(T("X", "likes", "Y"))], e2)
    with store.read() as view:
        assert [e.id for e in view.edits(entity="Honolulu")] == [e1]
        assert [e.id for e in view.edits(entity="Y")] == [e2]
        assert view.edits(entity="Nobody") == []


def test_touching(store: GraphStore) -> None:
    e1 = _seed(store)
    with store.write() as tx:
        e2 = _edit(tx)
        tx.create_entities(["Jill_Biden"])
        tx.retire_facts([T("Barack_Obama", "wife", "Michelle_Obama")], e2)
        tx.add_facts([Fact(T("Barack_Obama", "wife", "Jill_Biden"))], e2)
        e3 = _edit(tx)
        tx.add_reads(e3, [("Barack_Obama", "born_in", "Honolulu")])
        e4 = _edit(tx)
        tx.add_reads(e4, [("Honolulu", "capital", None)])
    with store.read() as view:
        assert view.touching([("Barack_Obama", "wife", "Michelle_Obama")], after=e1) == {e2}
        assert view.touching([("Barack_Obama", "wife", None)], after=e1) == {e2}
        assert view.touching([(None, "wife", "Jill_Biden")], after=e1) == {e2}
        assert view.touching([("Barack_Obama", "born_in", "Honolulu")], after=e1) == {e3}
        assert view.touching([("Barack_Obama", "born_in", "Michelle_Obama")], after=e1) == set()
        assert view.touching([("Barack_Obama", "wife", None)], after=e2) == set()


def test_slot_reads_are_touched_by_facts_filling_them(store: GraphStore) -> None:
    _seed(store)
    with store.write() as tx:
        e = _edit(tx)
        tx.add_reads(e, [("Honolulu", "capital", None)])
        tx.create_entities(["Hawaii"])
    with store.read() as view:
        assert view.touching([("Honolulu", "capital", "Hawaii")], after=0) == {e}


def test_locks(store: GraphStore) -> None:
    _seed(store)
    with store.write() as tx:
        a = tx.add_lock("Barack_Obama", None, None, "cur", "stable")
        b = tx.add_lock("Barack_Obama", "wife", "Michelle_Obama", "cur", "")
        with pytest.raises(NotFoundError):
            tx.add_lock("Nobody", None, None, "cur", "")
    with store.read() as view:
        locks = view.locks()
        assert [lk.id for lk in locks] == [a.id, b.id]
        assert locks[0].is_entity_lock and not locks[1].is_entity_lock
        assert locks[1].object == "Michelle_Obama" and locks[0].reason == "stable"
        assert [lk.id for lk in view.locks("Michelle_Obama")] == []
    with store.write() as tx:
        assert tx.remove_lock(a.id).id == a.id
        with pytest.raises(NotFoundError):
            tx.remove_lock(a.id)
    with store.read() as view:
        assert [lk.id for lk in view.locks()] == [b.id]


def test_schema_round_trip(store: GraphStore, small_schema: Schema) -> None:
    with store.read() as view:
        assert view.schema is None
    with store.write() as tx:
        tx.save_schema(small_schema)
    with store.read() as view:
        loaded = view.schema
    assert loaded is not None and loaded.to_dict() == small_schema.to_dict()


@pytest.mark.parametrize(
    "name",
    [
        "O'Brien",
        'Say "hi"',
        "{braces}",
        "a|pipe",
        "x'); DROP TABLE facts;--",
        "MATCH (n) DETACH DELETE n",
        "Zoë Ümlaut 東京",
        "100%_done\\",
    ],
)
def test_names_are_stored_verbatim(store: GraphStore, name: str) -> None:
    with store.write() as tx:
        e = _edit(tx)
        tx.create_entities([name, "Other"])
        tx.add_facts([Fact(T(name, "likes", "Other"))], e)
    with store.read() as view:
        assert view.facts(subject=name)[0].subject == name
        assert view.entities([name])[name].name == name
        assert view.count_facts()["asserted"] == 1
        assert [e.name for e in view.search_entities(name)][:1] == [name]


def test_search_entities(store: GraphStore) -> None:
    _seed(store)
    with store.read() as view:
        names = [e.name for e in view.search_entities("obama")]
    assert names[:2] == ["Barack_Obama", "Michelle_Obama"] or set(names) == {
        "Barack_Obama",
        "Michelle_Obama",
    }


def test_reads_do_not_wait_for_the_writer(persistent_store_factory) -> None:  # type: ignore[no-untyped-def]
    store = persistent_store_factory()  # an in-memory store has a single connection
    _seed(store)
    seen: list[int] = []
    with store.write() as tx:
        e = _edit(tx)
        tx.create_entities(["New"])
        tx.add_facts([Fact(T("New", "likes", "Honolulu"))], e)

        def reader() -> None:
            with store.read() as view:
                seen.append(view.count_facts()["asserted"])

        t = threading.Thread(target=reader)
        t.start()
        t.join(timeout=5)
        assert not t.is_alive()
    assert seen == [2]  # the snapshot before the commit
    with store.read() as view:
        assert view.count_facts()["asserted"] == 3
    store.close()


def test_reopen_keeps_everything(persistent_store_factory) -> None:  # type: ignore[no-untyped-def]
    store = persistent_store_factory()
    _seed(store)
    store.close()
    again = persistent_store_factory()
    with again.read() as view:
        assert view.count_facts()["asserted"] == 2 and view.last_edit_id() == 1
    again.close()


def test_documents(store: GraphStore) -> None:
    with store.write() as tx:
        tx.put_doc("account", "alice", {"role": "editor", "name": 'Alice "A" {x}'})
        tx.put_doc("account", "bob", {"role": "viewer"})
        tx.put_doc("token", "alice", {"hash": "h"})
        assert tx.doc("account", "alice") == {"role": "editor", "name": 'Alice "A" {x}'}
    with store.write() as tx:
        tx.put_doc("account", "bob", {"role": "curator"})  # replaces
    with store.read() as view:
        assert view.doc("account", "nobody") is None
        assert [k for k, _ in view.docs("account")] == ["alice", "bob"]
        assert view.docs("account", prefix="b") == [("bob", {"role": "curator"})]
        assert view.docs("token") == [("alice", {"hash": "h"})]
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.put_doc("account", "carol", {"role": "admin"})
        raise RuntimeError("boom")
    with store.write() as tx:
        assert tx.doc("account", "carol") is None
        assert tx.delete_doc("account", "bob") is True
        assert tx.delete_doc("account", "bob") is False
    with store.read() as view:
        assert [k for k, _ in view.docs("account")] == ["alice"]


def test_held_edits_change_nothing_until_released(store: GraphStore) -> None:
    with store.write() as tx:
        edit_id = tx.new_edit(EditKind.EDIT, "alice", {"assert": []}, state=EditState.HELD)
    with store.read() as view:
        assert view.edit(edit_id).state is EditState.HELD
        assert [e.id for e in view.edits(states=[EditState.HELD])] == [edit_id]
    with store.write() as tx:
        tx.update_edit(edit_id, state=EditState.PENDING)
    with store.read() as view:
        assert view.edit(edit_id).state is EditState.PENDING
