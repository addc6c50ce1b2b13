"""An independent, deliberately naive reference model of knowsync's knowledge graph.

Written from the semantics in ``controller/_plan.py``'s module docstring (and the journal /
rollback contract of ``KnowSync``), NOT from the controller's code: nothing here imports the
controller, the editor or the store. Everything is recomputed from scratch:

* the only real state is the set ``A`` of asserted triples;
* inverse rows are ``(o, inverse(r), s)`` for every asserted ``(s, r, o)``;
* composed facts are recomputed on the whole graph, rule stratum by rule stratum;
* a rollback is a replay, from empty, of every applied edit still in force.

Triples are plain ``(subject, relation, object)`` tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Triple = tuple[str, str, str]

ASSERTED, INVERSE, COMPOSED = "asserted", "inverse", "composed"

_CARD = {  # cardinality -> (functional, inverse functional)
    "one2one": (True, True),
    "many2one": (True, False),
    "one2many": (False, True),
    "many2many": (False, False),
}


@dataclass(frozen=True)
class RefRelation:
    name: str
    cardinality: str = "many2many"
    inverse: str | None = None
    rules: tuple[tuple[str, ...], ...] = ()


class RefSchema:
    """Relations with their cardinality constraints, inverses and composition rules."""

    def __init__(self, relations: list[RefRelation]) -> None:
        self.rel = {r.name: r for r in relations}
        for r in relations:  # inverses must be declared on both sides, mirrored
            if r.inverse is not None:
                other = self.rel[r.inverse]
                assert other.inverse == r.name, (r, other)
        self.functional: dict[str, bool] = {}
        self.inv_functional: dict[str, bool] = {}
        for r in relations:
            f, i = _CARD[r.cardinality]
            if r.inverse is not None:  # the inverse's constraint counts too
                f2, i2 = _CARD[self.rel[r.inverse].cardinality]
                f, i = f or i2, i or f2
            self.functional[r.name], self.inv_functional[r.name] = f, i
        self.order = self._order()

    def inverse(self, relation: str) -> str | None:
        return self.rel[relation].inverse

    def _order(self) -> list[str]:
        """Composed relations in dependency order (a relation after those its chains use)."""
        composed = [r.name for r in self.rel.values() if r.rules]

        def group(name: str) -> frozenset[str]:
            inv = self.rel[name].inverse
            return frozenset({name, inv} if inv else {name})

        pending = list(composed)
        order: list[str] = []
        while pending:
            progress = False
            for name in list(pending):
                used = {g for chain in self.rel[name].rules for s in chain for g in group(s)}
                if not any(p in used for p in pending if p != name):
                    order.append(name)
                    pending.remove(name)
                    progress = True
            assert progress, "cyclic rules"
        return order

    # ------------------------------------------------------------------ helpers

    def inv_triple(self, t: Triple) -> Triple | None:
        inv = self.inverse(t[1])
        return None if inv is None else (t[2], inv, t[0])

    def directions(self, t: Triple) -> set[Triple]:
        """The fact with its other direction."""
        it = self.inv_triple(t)
        return {t} if it is None else {t, it}

    def same_fact(self, t1: Triple, t2: Triple) -> bool:
        return t1 in self.directions(t2)

    def clash(self, f: Triple, g: Triple) -> bool:
        """Whether two single rows of the same relation violate its cardinality."""
        if f == g or f[1] != g[1]:
            return False
        r = f[1]
        return (self.functional[r] and f[0] == g[0]) or (self.inv_functional[r] and f[2] == g[2])

    def contradicts(self, t1: Triple, t2: Triple) -> bool:
        """Two facts (each with its other direction) that cannot both be in force."""
        if self.same_fact(t1, t2):
            return False
        return any(self.clash(f, g) for f in self.directions(t1) for g in self.directions(t2))


# ---------------------------------------------------------------------- graph state


def full_state(schema: RefSchema, asserted: set[Triple]) -> dict[Triple, str]:
    """Every fact in force, with its kind, for a set of asserted triples."""
    state: dict[Triple, str] = {t: ASSERTED for t in asserted}
    asserted_level: set[Triple] = set(asserted)
    for t in sorted(asserted):
        it = schema.inv_triple(t)
        if it is not None and it not in state:
            state[it] = INVERSE
            asserted_level.add(it)
    for relation in schema.order:
        _compose(schema, relation, state, asserted_level)
    return state


def _compose(
    schema: RefSchema, R: str, state: dict[Triple, str], asserted_level: set[Triple]
) -> None:
    out: dict[str, dict[str, set[str]]] = {}
    for s, r, o in state:
        out.setdefault(r, {}).setdefault(s, set()).add(o)
    # every chain from x to y gives a candidate (x, R, y)
    cands: set[Triple] = set()
    for chain in schema.rel[R].rules:
        for x in sorted({s for (s, r, o) in state if r == chain[0]}):
            ends = {x}
            for step in chain:
                ends = {y for n in ends for y in out.get(step, {}).get(n, ())}
            cands |= {(x, R, y) for y in ends}
    # a candidate already known is not derived again
    cands = {t for t in cands if t not in state}
    # functional R: several candidates for x -> none of them;
    # inverse-functional R: several candidates for y -> none of them
    ambiguous: set[Triple] = set()
    if schema.functional[R]:
        ambiguous |= {t for t in cands if sum(1 for u in cands if u[0] == t[0]) > 1}
    if schema.inv_functional[R]:
        ambiguous |= {t for t in cands if sum(1 for u in cands if u[2] == t[2]) > 1}
    cands -= ambiguous
    # a candidate that contradicts an asserted fact (or its inverse row) is suppressed
    new: dict[Triple, str] = {}
    for t in sorted(cands):
        if any(schema.clash(f, g) for f in schema.directions(t) for g in asserted_level):
            continue
        new[t] = COMPOSED
        it = schema.inv_triple(t)
        if it is not None and it not in state and it not in new:
            new[it] = INVERSE
    state.update(new)


# ---------------------------------------------------------------------------- edits


def apply_edit(
    schema: RefSchema, asserted: set[Triple], asserts: list[Triple], retracts: list[Triple]
) -> tuple[bool, set[Triple], str]:
    """One edit on a set of asserted triples: (accepted, new asserted set, why refused)."""
    before = full_state(schema, asserted)
    # contradicting triples asserted in the same request refuse the edit
    for i, t1 in enumerate(asserts):
        for t2 in asserts[i + 1 :]:
            if schema.contradicts(t1, t2):
                return False, asserted, f"{t1} contradicts {t2} in the same request"
    for t in retracts:
        if any(schema.same_fact(t, a) for a in asserts):
            return False, asserted, f"{t} both asserted and retracted"
        if before.get(t) == COMPOSED:
            return False, asserted, f"{t} is composed"
    new = set(asserted)
    for t in asserts:
        it = schema.inv_triple(t)
        if t in new or (it is not None and it in new):
            continue  # duplicate (in force as asserted or as an inverse row)
        # conflicting facts are superseded, with their other direction; composed ones are
        # recomputed from scratch anyway
        new = {a for a in new if not schema.contradicts(a, t)}
        new.add(t)
    # Interpretation (the docstring does not say): the retractions of an edit apply one
    # after another to the graph as the edit's assertions left it, so a triple that is no
    # longer in force at that point (superseded by this edit, or retracted twice) refuses it.
    for t in retracts:
        if not any(d in new for d in schema.directions(t)):
            return False, asserted, f"{t} not in force"
        for d in schema.directions(t):
            new.discard(d)
    return True, new, ""


@dataclass
class JournalEntry:
    id: int
    kind: str  # "edit" or "rollback"
    asserts: list[Triple] = field(default_factory=list)
    retracts: list[Triple] = field(default_factory=list)
    accepted: bool = False
    target: int | None = None  # rollback: the entry it undoes
    rolled_back_by: int | None = None


class RefKB:
    """The journal of edits and rollbacks; the graph is a replay of the edits in force."""

    def __init__(self, schema: RefSchema) -> None:
        self.schema = schema
        self.journal: dict[int, JournalEntry] = {}
        self.snapshots: dict[int, dict[Triple, str]] = {}
        self.asserted: set[Triple] = set()

    # the original edit a rollback chain goes back to
    def root(self, entry_id: int) -> int:
        e = self.journal[entry_id]
        while e.kind == "rollback":
            assert e.target is not None
            e = self.journal[e.target]
        return e.id

    def in_force(self, edit_id: int) -> bool:
        """Applied and not undone (an odd-length chain of rollbacks after it undoes it)."""
        e = self.journal[edit_id]
        if not e.accepted:
            return False
        n = 0
        while e.rolled_back_by is not None:
            e = self.journal[e.rolled_back_by]
            n += 1
        return n % 2 == 0

    def replay(self, excluded: set[int] = frozenset()) -> set[Triple]:
        asserted: set[Triple] = set()
        for eid in sorted(self.journal):
            e = self.journal[eid]
            if e.kind != "edit" or eid in excluded or not self.in_force(eid):
                continue
            ok, asserted2, _ = apply_edit(self.schema, asserted, e.asserts, e.retracts)
            if ok:
                asserted = asserted2
        return asserted

    def state(self) -> dict[Triple, str]:
        return full_state(self.schema, self.asserted)

    def predict_edit(self, asserts: list[Triple], retracts: list[Triple]) -> bool:
        ok, _, _ = apply_edit(self.schema, self.asserted, asserts, retracts)
        return ok

    def record_edit(self, edit_id: int, asserts: list[Triple], retracts: list[Triple]) -> bool:
        assert edit_id not in self.journal
        ok, new, _ = apply_edit(self.schema, self.asserted, asserts, retracts)
        self.journal[edit_id] = JournalEntry(edit_id, "edit", list(asserts), list(retracts), ok)
        if ok:
            self.asserted = new
        self.snapshots[edit_id] = self.state()
        return ok

    def rollback_error(self, target: int) -> str | None:
        """Why a rollback of ``target`` is an input error, or None."""
        e = self.journal.get(target)
        if e is None:
            return "unknown edit"
        if not e.accepted and e.kind == "edit":
            return "refused edit"
        if e.rolled_back_by is not None:
            return "already rolled back"
        return None

    def record_rollback(self, rollback_id: int, target: int) -> None:
        """Rollback ``target`` (an edit or a rollback): the graph becomes the replay of the
        edits in force afterwards."""
        assert self.rollback_error(target) is None, self.rollback_error(target)
        self.journal[rollback_id] = JournalEntry(
            rollback_id, "rollback", accepted=True, target=target
        )
        self.journal[target].rolled_back_by = rollback_id
        self.asserted = self.replay()
        self.snapshots[rollback_id] = self.state()

    def replay_state(self, excluded: set[int]) -> dict[Triple, str]:
        return full_state(self.schema, self.replay(excluded))
