"""The controller's rules, through the Python API: coverage, reverse, composition, duplicate,
protection, retraction, rollback with dependants."""

from __future__ import annotations

import pytest

from knowsync import (
    EditRefused,
    FactKind,
    InputError,
    KnowSync,
    NotFoundError,
    RollbackRefused,
    Triple,
    UnknownRelationError,
)

T = Triple


def state(ks: KnowSync) -> set[tuple[str, str, str, str]]:
    return {(f.subject, f.relation, f.object, f.kind.value) for f in ks.state()}


def test_assert_creates_entities_and_fact(ks: KnowSync) -> None:
    res = ks.edit([("Barack Obama", "likes", "Chicago")], user="alice")
    assert res.accepted and res.edit_id == 1
    assert state(ks) == {("Barack Obama", "likes", "Chicago", "asserted")}
    fact = ks.facts("barack_obama")[0]
    assert fact.user == "alice" and fact.edit_id == res.edit_id
    assert res.report["new_entities"] == ["Barack Obama", "Chicago"]


def test_spellings_of_one_entity_are_one_entity(ks: KnowSync) -> None:
    ks.edit([("Barack_Obama", "likes", "Chicago")])
    res = ks.edit([("barack obama", "likes", "chicago")])
    assert res.report["duplicates"] == [["Barack_Obama", "likes", "Chicago"]]
    assert len(ks.state()) == 1


def test_two_new_spellings_in_one_request_are_one_entity(ks: KnowSync) -> None:
    ks.edit([("New_Person", "likes", "X"), ("new person", "likes", "Y")])
    assert {f.subject for f in ks.state()} == {"New_Person"}


def test_duplicate_is_a_reported_noop(ks: KnowSync) -> None:
    ks.edit([("A", "likes", "B")])
    res = ks.edit([("A", "likes", "B")])
    assert res.accepted and res.report["added"] == [] and res.report["duplicates"]
    assert len(ks.state()) == 1


def test_coverage_supersedes_and_keeps_old_in_journal(ks: KnowSync) -> None:
    first = ks.edit([("France", "capital", "Lyon")], user="alice")
    res = ks.edit([("France", "capital", "Paris")], user="bob")
    assert state(ks) == {("France", "capital", "Paris", "asserted")}
    (sup,) = res.report["superseded"]
    assert sup["old"]["object"] == "Lyon" and sup["old"]["user"] == "alice"
    assert sup["by"] == ["France", "capital", "Paris"]
    assert {f.object for f in ks.facts("France", as_of=first.edit_id)} == {"Lyon"}


def test_one2one_also_supersedes_on_the_object_side(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Paris")])
    ks.edit([("Texas", "capital", "Paris")])
    assert state(ks) == {("Texas", "capital", "Paris", "asserted")}


def test_many2many_keeps_both(ks: KnowSync) -> None:
    ks.edit([("A", "likes", "B")])
    ks.edit([("A", "likes", "C")])
    assert len(ks.state()) == 2


def test_reverse_relation_is_kept_consistent_both_ways(ks: KnowSync) -> None:
    ks.edit([("Barack", "wife", "Michelle")])
    assert state(ks) == {
        ("Barack", "wife", "Michelle", "asserted"),
        ("Michelle", "husband", "Barack", "inverse"),
    }
    # Michelle's husband changes: Barack loses his wife in the same edit.
    res = ks.edit([("Michelle", "husband", "Joe")])
    assert state(ks) == {
        ("Michelle", "husband", "Joe", "asserted"),
        ("Joe", "wife", "Michelle", "inverse"),
    }
    assert {s["old"]["subject"] for s in res.report["superseded"]} <= {"Barack", "Michelle"}


def test_inverse_direction_is_a_duplicate(ks: KnowSync) -> None:
    ks.edit([("Barack", "wife", "Michelle")])
    res = ks.edit([("Michelle", "husband", "Barack")])
    assert res.report["duplicates"] and len(ks.state()) == 2


def test_symmetric_relation(ks: KnowSync) -> None:
    ks.edit([("A", "spouse", "B")])
    assert state(ks) == {("A", "spouse", "B", "asserted"), ("B", "spouse", "A", "inverse")}
    ks.edit([("B", "spouse", "C")])
    assert state(ks) == {("B", "spouse", "C", "asserted"), ("C", "spouse", "B", "inverse")}


def test_alias_surface_form_resolves_relation(ks: KnowSync) -> None:
    ks.edit([("Barack", "Married To", "Michelle")])
    assert ("Barack", "wife", "Michelle", "asserted") in state(ks)


def test_composition_derives_and_recomputes_when_a_premise_changes(ks: KnowSync) -> None:
    ks.edit([("Joe", "wife", "Jill"), ("Donald", "wife", "Melania")])
    res = ks.edit([("USA", "president", "Joe")])
    (derived,) = [d for d in res.report["derived"] if d["kind"] == "composed"]
    assert derived["object"] == "Jill"
    assert derived["premises"] == [["USA", "president", "Joe"], ["Joe", "wife", "Jill"]]
    ks.edit([("USA", "president", "Donald")])
    assert ("USA", "first_lady", "Melania", "composed") in state(ks)
    assert ("USA", "first_lady", "Jill", "composed") not in state(ks)
    # the second premise changes: the derived fact follows
    ks.edit([("Donald", "wife", "Marla")])
    assert ("USA", "first_lady", "Marla", "composed") in state(ks)


def test_chain_composition_through_upstream_change(ks: KnowSync) -> None:
    ks.edit([("C", "father", "B")])
    ks.edit([("B", "father", "A")])
    assert ("C", "grandfather", "A", "composed") in state(ks)
    ks.edit([("B", "father", "Z")])
    s = state(ks)
    assert ("C", "grandfather", "Z", "composed") in s and (
        "C",
        "grandfather",
        "A",
        "composed",
    ) not in s


def test_derived_fact_cannot_be_retracted_but_a_premise_can(ks: KnowSync) -> None:
    ks.edit([("C", "father", "B"), ("B", "father", "A")])
    res = ks.edit(retract=[("C", "grandfather", "A")])
    assert not res.accepted and "derived" in res.reasons[0] and "premise" in res.reasons[0]
    ks.edit(retract=[("B", "father", "A")])
    assert state(ks) == {("C", "father", "B", "asserted")}


def test_asserted_fact_outranks_a_derived_one(ks: KnowSync) -> None:
    ks.edit([("USA", "first_lady", "Eleanor")])
    res = ks.edit([("USA", "president", "Joe"), ("Joe", "wife", "Jill")])
    assert ("USA", "first_lady", "Eleanor", "asserted") in state(ks)
    assert not any(f.relation == "first_lady" and f.kind is FactKind.COMPOSED for f in ks.state())
    assert any("Eleanor" in c for c in res.report["conflicts"])
    # once the asserted fact goes, the derivation appears
    ks.edit(retract=[("USA", "first_lady", "Eleanor")])
    assert ("USA", "first_lady", "Jill", "composed") in state(ks)


def test_asserting_a_derived_fact_makes_it_asserted(ks: KnowSync) -> None:
    ks.edit([("C", "father", "B"), ("B", "father", "A")])
    ks.edit([("C", "grandfather", "A")])
    assert ("C", "grandfather", "A", "asserted") in state(ks)
    ks.edit(retract=[("B", "father", "A")])
    assert ("C", "grandfather", "A", "asserted") in state(ks)


def test_ambiguous_functional_derivation_is_not_made(ks: KnowSync) -> None:
    # two presidents cannot happen (one2one); use two rules' worth via many wives instead:
    ks.edit([("C", "father", "B"), ("B", "father", "A")])
    assert ("C", "grandfather", "A", "composed") in state(ks)


def test_contradiction_within_one_request_is_refused(ks: KnowSync) -> None:
    res = ks.edit([("France", "capital", "Paris"), ("France", "capital", "Lyon")])
    assert not res.accepted and "same request" in res.reasons[0]
    assert ks.state() == []
    assert ks.get_edit(res.edit_id).state.value == "refused"


def test_retracting_an_unknown_fact_is_refused(ks: KnowSync) -> None:
    res = ks.edit(retract=[("A", "likes", "B")])
    assert not res.accepted and "not a known fact" in res.reasons[0]


def test_retract_by_inverse_direction(ks: KnowSync) -> None:
    ks.edit([("Barack", "wife", "Michelle")])
    res = ks.edit(retract=[("Michelle", "husband", "Barack")])
    assert res.accepted and ks.state() == []


def test_unknown_relation_gives_suggestions_or_is_added_when_allowed(ks: KnowSync) -> None:
    with pytest.raises(UnknownRelationError) as info:
        ks.edit([("France", "capitol", "Paris")])
    assert info.value.suggestions[0] == "capital"
    assert ks.state() == [] and ks.history() == []
    res = ks.edit([("France", "anthem", "La Marseillaise")], allow_new_relations=True)
    assert res.accepted and res.report["new_relations"] == ["anthem"]
    assert ks.schema.get("anthem").cardinality.value == "many2many"


@pytest.mark.parametrize(
    "triple",
    [
        ("", "likes", "B"),
        ("A", "likes", "   "),
        ("A" * 201, "likes", "B"),
        ("A\x00", "likes", "B"),
        ("A", "li|kes", "B"),
        ("A", 'li"kes', "B"),
        ("A", "", "B"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    ks: KnowSync, triple: tuple[str, str, str]
) -> None:
    with pytest.raises(InputError):
        ks.edit([triple])
    assert ks.history() == [] and ks.state() == []


def test_control_characters_are_refused(ks: KnowSync) -> None:
    with pytest.raises(InputError, match="control characters"):
        ks.edit([("A\x07", "likes", "B")])


def test_dry_run_writes_nothing(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Lyon")])
    res = ks.edit([("France", "capital", "Paris")], dry_run=True)
    assert res.dry_run and res.accepted and res.report["superseded"]
    assert state(ks) == {("France", "capital", "Lyon", "asserted")}
    assert len(ks.history()) == 1


def test_entity_lock_refuses_and_journals(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Paris")])
    lock = ks.lock("France", user="cur", reason="settled")
    res = ks.edit([("France", "capital", "Lyon")], user="mallory")
    assert not res.accepted and f"lock #{lock.id}" in res.reasons[0]
    assert "settled" in res.reasons[0]
    assert state(ks) == {("France", "capital", "Paris", "asserted")}
    ks.unlock(lock.id)
    assert ks.edit([("France", "capital", "Lyon")]).accepted


def test_fact_lock_protects_through_the_inverse_side(ks: KnowSync) -> None:
    ks.edit([("Barack", "wife", "Michelle")])
    ks.lock("Barack", "wife", "Michelle", user="cur")
    res = ks.edit([("Michelle", "husband", "Joe")])
    assert not res.accepted and "protected" in res.reasons[0]
    assert ks.edit([("Barack", "likes", "Golf")]).accepted


def test_lock_of_unknown_fact(ks: KnowSync) -> None:
    ks.edit([("A", "likes", "B")])
    with pytest.raises(NotFoundError):
        ks.lock("A", "likes", "C")
    with pytest.raises(NotFoundError):
        ks.lock("Nobody")
    with pytest.raises(InputError):
        ks.lock("A", "likes")


def test_rollback_restores_superseded_and_removes_derived(ks: KnowSync) -> None:
    ks.edit([("Joe", "wife", "Jill"), ("Donald", "wife", "Melania")])
    ks.edit([("USA", "president", "Joe")])
    before = state(ks)
    res = ks.edit([("USA", "president", "Donald")])
    (rb,) = ks.rollback(res.edit_id, user="cur")
    assert state(ks) == before
    assert ks.get_edit(res.edit_id).rolled_back_by == rb.edit_id
    assert ks.get_edit(rb.edit_id).rollback_of == res.edit_id
    restored = ks.facts("USA", derived=False)[0]
    assert restored.user == "anonymous" and restored.edit_id == 2  # provenance kept


def test_rollback_recomputes_derived_facts_whose_premises_changed_since(ks: KnowSync) -> None:
    ks.edit([("USA", "president", "Joe"), ("Joe", "wife", "Jill")])
    e = ks.edit([("USA", "president", "Donald")])
    ks.edit([("Joe", "wife", "Ann")])  # independent of e
    ks.rollback(e.edit_id)
    assert ("USA", "first_lady", "Ann", "composed") in state(ks)
    assert ("USA", "first_lady", "Jill", "composed") not in state(ks)


def test_rollback_with_dependants_is_refused_or_cascades(ks: KnowSync) -> None:
    a = ks.edit([("France", "capital", "Lyon")])
    b = ks.edit([("France", "capital", "Paris")])
    c = ks.edit([("Spain", "capital", "Madrid")])  # independent
    with pytest.raises(RollbackRefused) as info:
        ks.rollback(a.edit_id)
    assert info.value.dependants == [b.edit_id]
    assert state(ks) == {
        ("France", "capital", "Paris", "asserted"),
        ("Spain", "capital", "Madrid", "asserted"),
    }
    results = ks.rollback(a.edit_id, cascade=True)
    assert [r.report["rollback_of"] for r in results] == [b.edit_id, a.edit_id]
    assert state(ks) == {("Spain", "capital", "Madrid", "asserted")}
    assert ks.get_edit(c.edit_id).rolled_back_by is None


def test_slot_freed_by_an_edit_and_reused_makes_a_dependant(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Paris")])
    a = ks.edit([("France", "capital", "Lyon")])  # frees Paris
    b = ks.edit([("Texas", "capital", "Paris")])  # uses it
    with pytest.raises(RollbackRefused) as info:
        ks.rollback(a.edit_id)
    assert info.value.dependants == [b.edit_id]


def test_duplicate_reads_make_a_dependant(ks: KnowSync) -> None:
    a = ks.edit([("A", "likes", "B")])
    b = ks.edit([("A", "likes", "B")])  # a no-op that relied on a
    with pytest.raises(RollbackRefused) as info:
        ks.rollback(a.edit_id)
    assert info.value.dependants == [b.edit_id]


def test_rollback_of_rollback_redoes(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Lyon")])
    e = ks.edit([("France", "capital", "Paris")])
    after = state(ks)
    (r1,) = ks.rollback(e.edit_id)
    (r2,) = ks.rollback(r1.edit_id)
    assert state(ks) == after
    with pytest.raises(InputError, match="restored"):
        ks.rollback(e.edit_id)
    ks.rollback(r2.edit_id)
    assert state(ks) == {("France", "capital", "Lyon", "asserted")}


def test_rollback_errors(ks: KnowSync) -> None:
    with pytest.raises(NotFoundError):
        ks.rollback(42)
    e = ks.edit([("A", "likes", "B")])
    ks.rollback(e.edit_id)
    with pytest.raises(InputError, match="already rolled back"):
        ks.rollback(e.edit_id)
    refused = ks.edit(retract=[("X", "likes", "Y")])
    with pytest.raises(InputError, match="refused"):
        ks.rollback(refused.edit_id)


def test_rollback_of_locked_fact_is_refused(ks: KnowSync) -> None:
    e = ks.edit([("France", "capital", "Paris")])
    ks.lock("France", "capital", "Paris")
    with pytest.raises(EditRefused, match="protected"):
        ks.rollback(e.edit_id)
    assert state(ks) == {("France", "capital", "Paris", "asserted")}


def test_history_per_entity_and_user(ks: KnowSync) -> None:
    ks.edit([("A", "likes", "B")], user="alice")
    ks.edit([("C", "likes", "D")], user="bob")
    assert [e.user for e in ks.history("A")] == ["alice"]
    assert [e.user for e in ks.history(user="bob")] == ["bob"]
    assert len(ks.history()) == 2
    with pytest.raises(NotFoundError, match="no entity named 'Nobody'"):
        ks.history("Nobody")


def test_neighbourhood_is_deterministic_and_bounded(ks: KnowSync) -> None:
    ks.edit([("A", "likes", f"N{i:02d}") for i in range(12)])
    ks.edit([("N00", "likes", "Deep")])
    first = ks.neighbourhood("A", hops=2, fanout=5)
    assert first == ks.neighbourhood("A", hops=2, fanout=5)
    assert [f.object for f in first[:5]] == ["N00", "N01", "N02", "N03", "N04"]
    assert ("N00", "likes", "Deep") in {(f.subject, f.relation, f.object) for f in first}
    assert len(ks.neighbourhood("A", hops=1, fanout=3)) == 3


def test_edit_needs_something(ks: KnowSync) -> None:
    with pytest.raises(InputError, match="nothing to edit"):
        ks.edit()


def test_path_between_entities(ks: KnowSync) -> None:
    ks.edit([("A", "likes", "B"), ("C", "likes", "B"), ("C", "father", "D")])
    chain = ks.path("A", "D")
    assert [(f.subject, f.object) for f in chain] == [("A", "B"), ("C", "B"), ("C", "D")]
    ks.edit([("X", "likes", "Y")])
    with pytest.raises(NotFoundError, match="no chain"):
        ks.path("A", "X")
    assert ks.path("A", "A") == []
