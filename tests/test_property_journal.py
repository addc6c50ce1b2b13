"""Property tests: random edits and rollbacks against the real store, compared after every
step with an independent from-scratch reference model (``tests/reference_model.py``)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from knowsync import (
    EditRefused,
    InputError,
    KnowSync,
    NotFoundError,
    Relation,
    RollbackRefused,
    Schema,
)


def _load_reference():  # type: ignore[no-untyped-def]
    """The reference model, loaded from its file (it must not see the project's packages)."""
    name = "knowsync_reference_model"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("reference_model.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_ref = _load_reference()
RefKB, RefRelation, RefSchema = _ref.RefKB, _ref.RefRelation, _ref.RefSchema
apply_edit = _ref.apply_edit
Triple = tuple[str, str, str]

ENTITIES = ["a", "b", "c", "d"]

# (name, cardinality, inverse, rules)
RELATIONS: list[tuple[str, str, str | None, tuple[tuple[str, ...], ...]]] = [
    ("likes", "many2many", None, ()),
    ("capital", "one2one", None, ()),
    ("father", "many2one", None, ()),
    ("president", "one2one", None, ()),
    ("wife", "one2one", "husband", ()),
    ("husband", "one2one", "wife", ()),
    ("parent", "many2many", "child", ()),
    ("child", "many2many", "parent", ()),
    ("grandfather", "many2one", None, (("father", "father"),)),
    ("greatgrandfather", "many2one", None, (("grandfather", "father"),)),
    ("first_lady", "one2one", None, (("president", "wife"),)),
    ("liked_capital", "many2one", None, (("likes", "capital"),)),
    ("mentor", "one2many", None, (("likes", "wife"),)),
    ("patron", "one2one", None, (("parent", "capital"),)),
]
BASE = [r[0] for r in RELATIONS if not r[3]]
COMPOSED_RELS = [r[0] for r in RELATIONS if r[3]]


def ks_schema() -> Schema:
    return Schema.from_relations(
        [Relation(name=n, cardinality=c, inverse=i, compose=rules) for n, c, i, rules in RELATIONS]
    )


def ref_schema() -> RefSchema:
    return RefSchema([RefRelation(n, c, i, rules) for n, c, i, rules in RELATIONS])


def open_kb(url: str = "memory://") -> KnowSync:
    ks = KnowSync(url, schema=ks_schema())
    ks.load_schema(ks_schema(), replace=True)
    return ks


def real_state(ks: KnowSync, as_of: int | None = None) -> set[tuple[str, str, str, str]]:
    out = set()
    for f in ks.state(as_of=as_of):
        t = f.triple
        out.add((t.subject, t.relation, t.object, f.kind.value))
    return out


def ref_rows(state: dict[Triple, str]) -> set[tuple[str, str, str, str]]:
    return {(s, r, o, k) for (s, r, o), k in state.items()}


def diff(real: set, ref: set) -> str:
    return f"\n  only in knowsync : {sorted(real - ref)}\n  only in reference: {sorted(ref - real)}"


entity = st.sampled_from(ENTITIES)
triple = st.tuples(
    entity,
    st.one_of(
        st.sampled_from(BASE),
        st.sampled_from(BASE),
        st.sampled_from(BASE),
        st.sampled_from(COMPOSED_RELS),
    ),
    entity,
)


class JournalMachine(RuleBasedStateMachine):
    """Edits and rollbacks (plain and cascading), checked against the reference."""

    def __init__(self) -> None:
        super().__init__()
        self.ks = open_kb()
        self.ref = RefKB(ref_schema())
        self.last_id = self.ks.stats()["edits"]

    def teardown(self) -> None:
        self.ks.close()

    def _check_ids(self, got: int | None) -> None:
        assert got == self.last_id + 1, f"journal id {got}, expected {self.last_id + 1}"
        self.last_id = got

    # ------------------------------------------------------------------ rules

    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        asserts = data.draw(st.lists(triple, max_size=3), label="assert")
        in_force = sorted(self.ref.state())
        retract_pool = st.one_of(triple, st.sampled_from(in_force)) if in_force else triple
        retracts = data.draw(
            st.lists(retract_pool, max_size=2 if asserts else 3, min_size=0 if asserts else 1),
            label="retract",
        )
        res = self.ks.edit(assert_=asserts, retract=retracts, user="prop")
        self._check_ids(res.edit_id)
        ok = self.ref.record_edit(res.edit_id, asserts, retracts)
        assert res.accepted == ok, (
            f"edit {res.edit_id} assert={asserts} retract={retracts}: knowsync "
            f"{'accepted' if res.accepted else 'refused'} {res.reasons}, reference "
            f"{'accepted' if ok else 'refused'}"
        )

    @precondition(lambda self: bool(self.ref.journal))
    @rule(data=st.data(), cascade=st.booleans())
    def rollback(self, data: st.DataObject, cascade: bool) -> None:
        ids = sorted(self.ref.journal)
        target = data.draw(st.sampled_from(ids), label="target")
        error = self.ref.rollback_error(target)
        before = self.ref.state()
        try:
            results = self.ks.rollback(target, cascade=cascade)
        except InputError as exc:
            assert error is not None, (
                f"rollback({target}) raised InputError {exc}, reference expected it to be allowed"
            )
            return
        except RollbackRefused as exc:
            assert error is None, f"rollback({target}): expected InputError ({error})"
            # a cascade may only stop where undoing a dependant means a redo whose replay is
            # refused (see EditRefused below); it then keeps nothing
            assert not cascade or exc.blocked, f"rollback({target}, cascade=True) refused: {exc}"
            deps = list(exc.dependants)
            assert deps, "refused without dependants"
            # later journal entries whose effect is in force; undoing a rollback replays the
            # edit at the root of its chain, so for a redo "later" means later than that edit
            since = self.ref.root(target)
            for d in deps:
                assert d > since and d in self.ref.journal, (target, deps)
                entry = self.ref.journal[d]
                assert entry.kind == "rollback" or self.ref.in_force(d), (target, deps)
            assert real_state(self.ks) == ref_rows(before)
            return
        except EditRefused as exc:
            # Undoing the rollback of an edit T replays T. The reference replays the history
            # without the rollback, so T is applied at its place: after the edits before it
            # that are in force, not in today's graph (a cascade first undoes the later edits
            # that touch T; those that stay leave T's facts alone). When T is refused there (a
            # retracted fact is gone, say), it is a no-op in the reference's replay; knowsync
            # refuses the redo instead, and nothing changes.
            entry = self.ref.journal[target]
            assert error is None and entry.kind == "rollback", f"rollback({target}): {exc}"
            redone = self.ref.journal[self.ref.root(target)]
            at_place = self.ref.replay({e for e in self.ref.journal if e >= redone.id})
            ok, _, _ = apply_edit(self.ref.schema, at_place, redone.asserts, redone.retracts)
            assert not ok, (
                f"redo of {redone.id} refused ({exc}), the reference accepts it "
                f"after the edits before it"
            )
            assert real_state(self.ks) == ref_rows(before)
            return
        assert error is None, f"rollback({target}) allowed, reference expected {error}"
        assert results, "no results"
        targets = []
        for res in results:
            self._check_ids(res.edit_id)
            rec = self.ks.get_edit(res.edit_id)
            assert rec.rollback_of is not None
            targets.append(rec.rollback_of)
            self.ref.record_rollback(res.edit_id, rec.rollback_of)
        assert targets[-1] == target, f"requested {target} last, got order {targets}"
        if not cascade:
            assert targets == [target]

    # ------------------------------------------------------------- invariants

    @invariant()
    def state_matches(self) -> None:
        real, ref = real_state(self.ks), ref_rows(self.ref.state())
        assert real == ref, "state differs from reference:" + diff(real, ref)

    @invariant()
    def history_matches(self) -> None:
        # as_of: the state just after each of the last few journal entries, and now and then
        # after every journal entry of the run
        ids = sorted(self.ref.snapshots)
        for k in ids if len(ids) % 5 == 4 else ids[-4:]:
            real, ref = real_state(self.ks, as_of=k), ref_rows(self.ref.snapshots[k])
            assert real == ref, f"state(as_of={k}) differs:" + diff(real, ref)


# Shrinking a failing run of this machine can take minutes (every step drives a store); it is
# off unless KNOWSYNC_SHRINK=1, so that a failure is reported (unshrunk) within the time budget.
PHASES = (
    tuple(Phase)
    if os.environ.get("KNOWSYNC_SHRINK") == "1"
    else tuple(p for p in Phase if p is not Phase.shrink)
)

JournalMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=25,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestJournal = JournalMachine.TestCase


# ------------------------------------------------------------------ reopen from file

ops = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.lists(triple, max_size=3), st.lists(triple, max_size=1)),
        st.tuples(st.just("rollback"), st.integers(1, 12), st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


@given(ops)
@settings(max_examples=25, deadline=None, phases=PHASES)
def test_reopen_from_file_equals_state(op_list: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kb.db"
        ks = open_kb(str(path))
        first = ks.stats()["edits"]
        for op in op_list:
            if op[0] == "edit":
                if op[1] or op[2]:
                    ks.edit(assert_=op[1], retract=op[2])
            else:
                with contextlib.suppress(InputError, RollbackRefused, NotFoundError):
                    ks.rollback(first + op[1], cascade=op[2])
        before = real_state(ks)
        last = ks.stats()["edits"]
        history = {k: real_state(ks, as_of=k) for k in range(first + 1, last + 1)}
        ks.close()
        ks2 = KnowSync(str(path))
        try:
            assert real_state(ks2) == before
            assert ks2.stats()["edits"] == last
            for k, rows in history.items():
                assert real_state(ks2, as_of=k) == rows, f"as_of={k}"
        finally:
            ks2.close()


# ------------------------------------------------- minimal sequences found by the properties


def run_sequence(ops: list[tuple]) -> None:
    """Replay ("edit", asserts, retracts) / ("rollback", id, cascade) steps on knowsync and on
    the reference, comparing decisions and the state after every step."""
    ks = open_kb()
    ref = RefKB(ref_schema())
    first = ks.stats()["edits"]
    try:
        for op in ops:
            if op[0] == "edit":
                res = ks.edit(assert_=op[1], retract=op[2])
                ok = ref.record_edit(res.edit_id, op[1], op[2])
                assert res.accepted == ok, (
                    f"{op}: knowsync accepted={res.accepted} {res.reasons}, reference accepted={ok}"
                )
            else:
                for res in ks.rollback(first + op[1], cascade=op[2]):
                    ref.record_rollback(res.edit_id, ks.get_edit(res.edit_id).rollback_of)
            real, expected = real_state(ks), ref_rows(ref.state())
            assert real == expected, f"after {op}:" + diff(real, expected)
    finally:
        ks.close()


def test_retracting_a_contested_claim_derives_the_other_one() -> None:
    # mentor = likes . wife is one2many: two x reaching d contest it; once b no longer likes
    # c, a is the only candidate and (a, mentor, d) must be derived (as from scratch).
    run_sequence(
        [
            ("edit", [("a", "likes", "c"), ("b", "likes", "c"), ("c", "wife", "d")], []),
            ("edit", [], [("b", "likes", "c")]),
        ]
    )


def test_retracting_a_contested_claim_derives_the_other_one_one2one() -> None:
    # the same with patron = parent . capital (one2one)
    run_sequence(
        [
            ("edit", [("a", "parent", "c"), ("b", "parent", "c"), ("c", "capital", "d")], []),
            ("edit", [], [("b", "parent", "c")]),
        ]
    )


def test_assert_and_retract_same_triple_in_one_edit_is_refused() -> None:
    # "Asserting and retracting the same triple in one edit -> refused", also when the
    # asserted triple is already in force (a duplicate).
    run_sequence(
        [
            ("edit", [("a", "likes", "a")], []),
            ("edit", [("a", "likes", "a")], [("a", "likes", "a")]),
        ]
    )


def test_redo_of_an_edit_replays_it_in_the_current_graph() -> None:
    # Edit 2 asserts d wife a, a duplicate of the inverse row of edit 1's a husband d. A
    # cascading rollback of 1 undoes 2 then 1; rolling back the rollback of 2 redoes edit 2,
    # which in a graph without edit 1 asserts d wife a.
    run_sequence(
        [
            ("edit", [("a", "husband", "d")], []),  # 1
            ("edit", [("d", "wife", "a")], []),  # 2 (duplicate)
            ("rollback", 1, True),  # 3: rollback of 2, 4: rollback of 1
            ("rollback", 3, False),  # 5: redo 2
        ]
    )


def test_cascading_rollback_is_not_refused() -> None:
    # rollback(1, cascade=True) must roll back the dependants of 1 and then 1. Rolling back
    # 3 restores a likes a, whose rollback edit then derives a mentor c from edit 4's fact;
    # the cascade for 2 rolls back that rollback (redoing 3!) and finally raises
    # RollbackRefused: "edit 2 cannot be rolled back alone: later edits 3 depend on it".
    run_sequence(
        [
            ("edit", [("a", "likes", "a"), ("c", "wife", "c")], []),  # 1
            ("edit", [("a", "likes", "a"), ("a", "father", "a")], []),  # 2
            ("edit", [("c", "husband", "a")], [("a", "likes", "a")]),  # 3
            ("edit", [("a", "likes", "c")], []),  # 4
            ("rollback", 1, True),
        ]
    )


def test_contradicting_assertions_in_one_edit_are_refused_even_if_one_is_known() -> None:
    # "contradicting triples in the same request refuse the plan". knowsync refuses
    # [a capital c, a capital b] but accepts [a capital b, a capital c] when a capital b is
    # already in force (the first is a duplicate, so the second just supersedes it).
    run_sequence(
        [
            ("edit", [("a", "capital", "b")], []),
            ("edit", [("a", "capital", "c"), ("a", "capital", "b")], []),  # refused: fine
            ("edit", [("a", "capital", "b"), ("a", "capital", "c")], []),  # accepted: bug
        ]
    )


def test_cascading_redo_is_replayed_at_its_place() -> None:
    # Edit 2 retracts a likes b, which only edit 1 asserted; edit 3 asserts it again. A
    # cascading rollback of 1 undoes 3, 2 and 1 (4, 5, 6), and 7 redoes 3. Redoing 2 (the
    # rollback of 5) with a cascade first undoes 3, which touches what 2 retracts, then replays
    # 2 in a graph without 1: a likes b is not there, so the redo is refused and nothing
    # changes. In the reference, 2 replayed at its place (after the edits in force before it:
    # none) is refused too, although it would fit in today's graph, where 3 asserts the fact.
    fact = ("a", "likes", "b")
    ks = open_kb()
    ref = RefKB(ref_schema())
    first = ks.stats()["edits"]
    try:
        for asserts, retracts in [([fact], []), ([], [fact]), ([fact], [])]:
            res = ks.edit(assert_=asserts, retract=retracts)
            assert res.accepted and ref.record_edit(res.edit_id, asserts, retracts)
        for target in (first + 1, first + 4):
            for res in ks.rollback(target, cascade=True):
                ref.record_rollback(res.edit_id, ks.get_edit(res.edit_id).rollback_of)
        before = real_state(ks)
        assert before == ref_rows(ref.state()) == {(*fact, "asserted")}
        with pytest.raises(RollbackRefused) as refused:
            ks.rollback(first + 5)
        assert refused.value.dependants == [first + 3]
        with pytest.raises(EditRefused) as redo:
            ks.rollback(first + 5, cascade=True)
        assert redo.value.reasons == [
            f"after undoing the later edits {first + 3}: a|likes|b is not a known fact, so it "
            "cannot be retracted"
        ]
        assert real_state(ks) == before and ks.stats()["edits"] == first + 7
        at_place = ref.replay({e for e in ref.journal if e >= first + 2})
        assert not apply_edit(ref.schema, at_place, [], [fact])[0]
        assert apply_edit(ref.schema, ref.asserted, [], [fact])[0]
    finally:
        ks.close()


def test_undoing_the_undo_of_a_redo_replays_the_edit() -> None:
    # Edits 1 and 3 both assert a likes b; each is rolled back (2, 4), then redone, 1 first
    # (5), so that the redo of 3 (6) finds the fact known and changes nothing. A cascading
    # rollback of 5 undoes 6 (7), then 5 (8): the fact is gone. Rolling back 7 puts 3 in force
    # again and must assert the fact, as a replay does, not re-apply the nothing that 6 changed.
    fact = ("a", "likes", "b")
    run_sequence(
        [
            ("edit", [fact], []),  # 1
            ("rollback", 1, False),  # 2
            ("edit", [fact], []),  # 3
            ("rollback", 3, False),  # 4
            ("rollback", 2, False),  # 5: redo 1
            ("rollback", 4, False),  # 6: redo 3, a duplicate
            ("rollback", 5, True),  # 7: rollback of 6, 8: rollback of 5
            ("rollback", 7, False),  # 9: redo 3
        ]
    )
