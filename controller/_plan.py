"""Planning an edit: what changes in the graph, computed without writing anything.

The planner reads the store through an overlay that already shows the plan's own changes, so a
plan can be checked, shown (dry run) or handed to the editor to apply in one transaction.

Semantics (the contract the property tests check against a from-scratch reference):

* Asserting ``(s, r, o)`` puts it in force as *asserted*, with ``(o, inverse(r), s)`` as its
  *inverse* row when the relation has an inverse. A functional relation keeps one object per
  subject, an inverse-functional one one subject per object: conflicting facts are
  *superseded* (retired, kept in the journal), each together with its other direction.
* Retracting removes an asserted fact (given in either direction) with its inverse row.
  Derived facts cannot be retracted: their premises can.
* Composed facts are a function of the other facts: for a rule ``R = r1 . r2 ...`` every chain
  from x to y gives a candidate ``(x, R, y)``. A candidate already known is not derived again;
  a functional R with several candidates for x, or an inverse-functional R with several
  candidates for y, derives none of them (ambiguous); a candidate that contradicts an asserted
  fact is suppressed (asserted facts outrank derived ones). Rules run in dependency order.
  After every edit the composed facts of the region the edit touched are recomputed, so that
  they always equal what this definition gives on the whole graph.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller._refusal import Refusal, RefusalKind, refusal_report
from kg import ConflictPolicy, Fact, FactKind, GraphView, Schema, TouchKey, Triple

__all__ = ["ConflictPolicy", "Overlay", "Plan", "Planner", "Supersession"]


@dataclass(frozen=True, slots=True)
class Supersession:
    """A fact in force that an edit retires because another fact takes its place."""

    old: Fact
    by: Triple

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old.to_dict(), "by": self.by.as_list()}


class FactTable(dict[Triple, Fact]):
    """A plan's facts by triple, also indexed by (subject, relation) and (relation, object) so
    that pattern lookups do not scan. Only item assignment, ``del`` and ``pop`` mutate it."""

    def __init__(self) -> None:
        super().__init__()
        self._by_sr: dict[tuple[str, str], set[Triple]] = defaultdict(set)
        self._by_ro: dict[tuple[str, str], set[Triple]] = defaultdict(set)

    def __setitem__(self, t: Triple, f: Fact) -> None:
        super().__setitem__(t, f)
        self._by_sr[(t.subject, t.relation)].add(t)
        self._by_ro[(t.relation, t.object)].add(t)

    def __delitem__(self, t: Triple) -> None:
        super().__delitem__(t)
        self._by_sr[(t.subject, t.relation)].discard(t)
        self._by_ro[(t.relation, t.object)].discard(t)

    def pop(self, t: Triple, *default: Any) -> Any:
        if t in self:
            f = self[t]
            del self[t]
            return f
        if default:
            return default[0]
        raise KeyError(t)

    def matching(self, pattern: TouchKey) -> list[Fact]:
        s, r, o = pattern
        if s is not None and o is not None:
            f = self.get(Triple(s, r, o))
            return [f] if f is not None else []
        if s is not None:
            return [self[t] for t in self._by_sr.get((s, r), ())]
        if o is not None:
            return [self[t] for t in self._by_ro.get((r, o), ())]
        return [f for t, f in self.items() if t.relation == r]


@dataclass
class Plan:
    """The graph changes of one edit, and what the controller found while computing them."""

    asserted: list[Triple] = field(default_factory=list)
    retracted: list[Triple] = field(default_factory=list)
    request: tuple[list[Triple], list[Triple]] = field(default_factory=lambda: ([], []))
    new_entities: dict[str, str] = field(default_factory=dict)  # key -> canonical name
    add: FactTable = field(default_factory=FactTable)
    remove: dict[Triple, Fact] = field(default_factory=dict)
    reads: set[TouchKey] = field(default_factory=set)
    duplicates: list[Triple] = field(default_factory=list)
    superseded: list[Supersession] = field(default_factory=list)
    skipped: list[tuple[int, Triple, str]] = field(default_factory=list)  # (row, triple, why)
    conflicts: list[str] = field(default_factory=list)  # derivations held back, and why
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove

    def refusal_report(self) -> dict[str, Any]:
        """The refusals as the journal keeps them: the sentences and the records (see
        ``controller._refusal``)."""
        return refusal_report(self.refusals)

    def derived(self) -> list[Fact]:
        return [f for f in self.add.values() if f.kind.derived]

    def report(self) -> dict[str, Any]:
        """A JSON-able summary for the journal and for users."""
        removed_by_supersession = {s.old.triple for s in self.superseded}
        retracted = set(self.retracted)
        return {
            "added": [f.to_dict() for f in self.add.values() if f.kind is FactKind.ASSERTED],
            "derived": [f.to_dict() for f in self.derived()],
            "retracted": [
                f.to_dict()
                for t, f in self.remove.items()
                if t in retracted and t not in removed_by_supersession
            ],
            "superseded": [s.to_dict() for s in self.superseded],
            "removed": [f.to_dict() for f in self.remove.values()],
            "duplicates": [t.as_list() for t in self.duplicates],
            "skipped": [{"row": r, "triple": t.as_list(), "reason": w} for r, t, w in self.skipped],
            "conflicts": list(self.conflicts),
            "new_entities": sorted(self.new_entities.values()),
            **self.refusal_report(),
            "request": {
                "assert": [t.as_list() for t in self.request[0]],
                "retract": [t.as_list() for t in self.request[1]],
            },
        }


def slots(schema: Schema, t: Triple) -> list[TouchKey]:
    """The slots a triple occupies: (s, r, None) for a functional relation, (None, r, o) for
    an inverse-functional one."""
    functional, inverse_functional = schema.slot_flags(t.relation)
    keys: list[TouchKey] = []
    if functional:
        keys.append((t.subject, t.relation, None))
    if inverse_functional:
        keys.append((None, t.relation, t.object))
    return keys


class Overlay:
    """The store as it will be once a plan is applied; base reads are cached per pattern."""

    def __init__(self, view: GraphView, plan: Plan) -> None:
        self.view = view
        self.plan = plan
        self._base: dict[TouchKey, list[Fact]] = {}

    def prefetch(self, patterns: Iterable[TouchKey]) -> None:
        """Read the facts in force for many patterns in one round trip."""
        wanted = {p: None for p in patterns if p not in self._base}
        if not wanted:
            return
        for p in wanted:
            self._base[p] = []
        for f in self.view.match(list(wanted)):
            t = f.triple
            for p in (
                (t.subject, t.relation, t.object),
                (t.subject, t.relation, None),
                (None, t.relation, t.object),
            ):
                if p in wanted:
                    self._base[p].append(f)

    def base(self, pattern: TouchKey) -> list[Fact]:
        if pattern not in self._base:
            self.prefetch([pattern])
        return self._base[pattern]

    def live(self, pattern: TouchKey) -> list[Fact]:
        """Facts in force after the plan that match the pattern."""
        remove, add = self.plan.remove, self.plan.add
        out = [f for f in self.base(pattern) if f.triple not in remove and f.triple not in add]
        out.extend(add.matching(pattern))
        return out

    def with_removed(self, pattern: TouchKey) -> list[Fact]:
        """Facts matching the pattern in force before or after the plan."""
        out = {f.triple: f for f in self.base(pattern)}
        for f in self.plan.add.matching(pattern):
            out.setdefault(f.triple, f)
        return list(out.values())

    def get(self, t: Triple) -> Fact | None:
        found = self.live((t.subject, t.relation, t.object))
        return found[0] if found else None


class Planner:
    """Computes plans against one schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    # ------------------------------------------------------------- asserted level

    def assert_triples(
        self,
        overlay: Overlay,
        triples: Sequence[Triple],
        *,
        policy: ConflictPolicy = ConflictPolicy.OVERWRITE,
        sequential: bool = False,
        rows: Sequence[int] | None = None,
        keep: Callable[[Fact], str | None] | None = None,
    ) -> None:
        """Add assertions to the plan.

        Args:
            overlay: the store with the plan so far.
            triples: canonical triples to assert.
            policy: what to do with facts in force that contradict a triple.
            sequential: rows are applied one after another (a batch import): a later row may
                supersede an earlier one. When False (one edit), contradicting triples in the
                same request refuse the plan.
            rows: row numbers for the report (batch import), parallel to ``triples``.
            keep: for a batch import, the asserted facts in force that this import may not
                supersede: given such a fact, the reason its row is skipped instead (None: it
                may). A row that would supersede a kept fact is reported in ``plan.skipped``.
        """
        schema, plan = self.schema, overlay.plan
        patterns: list[TouchKey] = []
        for t in triples:
            patterns.append((t.subject, t.relation, t.object))
            patterns.extend(slots(schema, t))
            inv = schema.inverse(t.relation)
            if inv is not None:
                mirror = Triple(t.object, inv, t.subject)
                patterns.append((mirror.subject, mirror.relation, mirror.object))
                patterns.extend(slots(schema, mirror))
        overlay.prefetch(patterns)
        mine: dict[Triple, int] = {}
        base, add, remove = overlay._base, plan.add, plan.remove
        for i, t in enumerate(triples):
            row = rows[i] if rows is not None else i + 1
            if self._untouched(t, base, add, remove):
                # The common case of a bulk import: nothing in force or in this plan shares
                # the triple or its slots, in either direction. Same outcome as below.
                mine[t] = row
                plan.asserted.append(t)
                add[t] = Fact(t, FactKind.ASSERTED)
                inv = schema.inverse(t.relation)
                if inv is not None:
                    mirror = Triple(t.object, inv, t.subject)
                    if mirror != t:
                        add[mirror] = Fact(
                            mirror, FactKind.INVERSE, rule=f"inverse of {t.relation}", premises=(t,)
                        )
                continue
            existing = overlay.get(t)
            if existing is not None and existing.kind is not FactKind.COMPOSED:
                plan.duplicates.append(t)
                plan.reads.add((t.subject, t.relation, t.object))
                plan.reads.update(slots(schema, t))
                # a known fact asked for again is still part of the request: a later triple of
                # the same request that contradicts it is a contradiction, whatever the order
                mine[self._root(existing)] = row
                continue
            inv = schema.inverse(t.relation)
            it: Triple | None = Triple(t.object, inv, t.subject) if inv is not None else None
            rivals: dict[Triple, Fact] = {}
            for key in [*slots(schema, t), *(slots(schema, it) if it else [])]:
                for f in overlay.live(key):
                    if f.triple != t and f.triple != it:
                        rivals[f.triple] = f
            if rivals:
                own = [r for r in rivals.values() if self._root(r) in mine]
                if own and not sequential:
                    plan.refusals.append(
                        Refusal(
                            RefusalKind.CONTRADICTION,
                            f"{t} contradicts {self._root(own[0])}, asserted in the same request",
                        )
                    )
                    continue
                asserted_rivals = [r for r in rivals.values() if self._asserted_level(overlay, r)]
                if asserted_rivals and policy is ConflictPolicy.SKIP:
                    plan.skipped.append(
                        (row, t, f"contradicts {self._root(asserted_rivals[0])} (policy skip)")
                    )
                    plan.reads.update(slots(schema, t))
                    continue
                kept = self._kept(overlay, asserted_rivals, keep)
                if kept is not None:
                    plan.skipped.append((row, t, kept))
                    plan.reads.update(slots(schema, t))
                    continue
                if asserted_rivals and policy is ConflictPolicy.FAIL:
                    plan.refusals.append(
                        Refusal(
                            RefusalKind.CONTRADICTION,
                            f"row {row}: {t} contradicts {self._root(asserted_rivals[0])} "
                            "(policy fail)",
                        )
                    )
                    continue
                for rival in rivals.values():
                    if overlay.get(rival.triple) is not None:
                        self._supersede(overlay, rival, t)
            if existing is not None:  # a composed fact becomes asserted
                self._retire(overlay, existing)
            self._put(overlay, Fact(t, FactKind.ASSERTED))
            mine[t] = row
            plan.asserted.append(t)
            if it is not None and it != t:
                current = overlay.get(it)
                if current is not None:
                    self._retire(overlay, current)
                self._put(
                    overlay,
                    Fact(it, FactKind.INVERSE, rule=f"inverse of {t.relation}", premises=(t,)),
                )

    def _kept(
        self,
        overlay: Overlay,
        rivals: list[Fact],
        keep: Callable[[Fact], str | None] | None,
    ) -> str | None:
        """Why a row may not supersede one of ``rivals`` (their asserted roots), or None."""
        if keep is None:
            return None
        for rival in rivals:
            root = overlay.get(self._root(rival))
            reason = keep(root) if root is not None else None
            if reason is not None:
                return reason
        return None

    def _untouched(
        self,
        t: Triple,
        base: dict[TouchKey, list[Fact]],
        add: FactTable,
        remove: dict[Triple, Fact],
    ) -> bool:
        """Whether no fact, in force or planned, shares the triple, its inverse or a slot of
        either (so asserting it is a plain addition). Needs the patterns prefetched."""
        if base.get(t) or t in add or t in remove:
            return False
        ends = [t]
        inv = self.schema.inverse(t.relation)
        if inv is not None:
            mirror = Triple(t.object, inv, t.subject)
            if base.get(mirror) or mirror in add or mirror in remove:
                return False
            ends.append(mirror)
        for e in ends:
            functional, inverse_functional = self.schema.slot_flags(e.relation)
            if functional and (
                base.get((e.subject, e.relation, None))
                or add.matching((e.subject, e.relation, None))
            ):
                return False
            if inverse_functional and (
                base.get((None, e.relation, e.object)) or add.matching((None, e.relation, e.object))
            ):
                return False
        return True

    def _root(self, f: Fact) -> Triple:
        """The asserted triple behind a fact (itself, or the premise of an inverse row)."""
        if f.kind is FactKind.INVERSE and f.premises:
            return f.premises[0]
        return f.triple

    def _asserted_level(self, overlay: Overlay, f: Fact) -> bool:
        """Asserted facts and their inverse rows, as opposed to composed facts and theirs."""
        if f.kind is FactKind.ASSERTED:
            return True
        if f.kind is FactKind.INVERSE and f.premises:
            base = overlay.get(f.premises[0])
            return base is None or base.kind is FactKind.ASSERTED
        return False

    def _put(self, overlay: Overlay, f: Fact) -> None:
        """Put a fact in force; taking back a removal of the very same fact if there is one."""
        plan = overlay.plan
        removed = plan.remove.get(f.triple)
        if removed is not None and removed.kind is f.kind and removed.premises == f.premises:
            del plan.remove[f.triple]
            plan.superseded = [s for s in plan.superseded if s.old.triple != f.triple]
        else:
            plan.add[f.triple] = f

    def _supersede(self, overlay: Overlay, rival: Fact, by: Triple) -> None:
        overlay.plan.superseded.append(Supersession(rival, by))
        self._retire(overlay, rival)

    def _retire(self, overlay: Overlay, f: Fact) -> None:
        """Take a fact out of force together with its other direction."""
        plan = overlay.plan
        group = [f]
        if f.kind is FactKind.INVERSE and f.premises:
            base = overlay.get(f.premises[0])
            if base is not None:
                group.append(base)
        inv = self.schema.inverse(f.relation)
        if inv is not None:
            partner = overlay.get(Triple(f.object, inv, f.subject))
            if (
                partner is not None
                and partner.kind is FactKind.INVERSE
                and partner.premises[:1] == (f.triple,)
            ):
                group.append(partner)
        for g in group:
            if g.triple in plan.add:
                del plan.add[g.triple]
                if g.kind is FactKind.ASSERTED and g.triple in plan.asserted:
                    plan.asserted.remove(g.triple)
            else:
                plan.remove[g.triple] = g

    def retract_triples(
        self, overlay: Overlay, triples: Sequence[Triple], asserted: Sequence[Triple] = ()
    ) -> None:
        """Add retractions to the plan (after the request's assertions, ``asserted``);
        unknown or derived triples, or triples the same request asserts, refuse it."""
        plan = overlay.plan
        overlay.prefetch((t.subject, t.relation, t.object) for t in triples)
        requested: set[Triple] = set()
        for t in asserted:
            requested.add(t)
            inv = self.schema.inverse(t.relation)
            if inv is not None:
                requested.add(Triple(t.object, inv, t.subject))
        for t in triples:
            if t in requested:
                plan.refusals.append(
                    Refusal(
                        RefusalKind.ASSERTED_AND_RETRACTED,
                        f"{t} is both asserted and retracted in the same request",
                    )
                )
                continue
            f = overlay.get(t)
            if f is None:
                plan.refusals.append(
                    Refusal(
                        RefusalKind.NOT_A_FACT,
                        f"{t} is not a known fact, so it cannot be retracted",
                    )
                )
                continue
            if f.kind is FactKind.COMPOSED:
                premises = ", ".join(str(p) for p in f.premises)
                plan.refusals.append(
                    Refusal(
                        RefusalKind.DERIVED,
                        f"{t} is derived ({f.rule}) from {premises}; retract or change a premise",
                    )
                )
                continue
            plan.retracted.append(self._root(f))
            self._retire(overlay, f)

    # -------------------------------------------------------------- derived level

    def derive(self, overlay: Overlay, extra_changes: Iterable[Triple] = ()) -> None:
        """Recompute the composed facts of the region the plan's changes touch."""
        schema, plan = self.schema, overlay.plan
        changed: set[Triple] = set(plan.add) | set(plan.remove) | set(extra_changes)
        if not schema.rules:
            return
        for stratum in schema.strata:
            by_relation: dict[str, list[Any]] = defaultdict(list)
            for rule in stratum:
                by_relation[rule.relation].append(rule)
            for relation, rules in by_relation.items():
                starts = self._affected_starts(overlay, relation, rules, changed)
                if not starts:
                    continue
                before_add, before_remove = set(plan.add), set(plan.remove)
                self._reconcile(overlay, relation, rules, starts)
                changed |= (set(plan.add) ^ before_add) | (set(plan.remove) ^ before_remove)

    def _backward(self, overlay: Overlay, nodes: set[str], steps: Sequence[str]) -> set[str]:
        """Entities x with a path x -steps-> n for some n in nodes, before or after the plan."""
        frontier = set(nodes)
        for step in reversed(steps):
            pats: list[TouchKey] = [(None, step, n) for n in sorted(frontier)]
            overlay.prefetch(pats)
            frontier = {f.subject for p in pats for f in overlay.with_removed(p)}
            if not frontier:
                break
        return frontier

    def _forward(
        self, overlay: Overlay, x: str, chain: Sequence[str]
    ) -> dict[str, tuple[Triple, ...]]:
        """Endpoints of chains from x after the plan, each with the first path found."""
        paths: dict[str, tuple[Triple, ...]] = {x: ()}
        for step in chain:
            nxt: dict[str, tuple[Triple, ...]] = {}
            pats: list[TouchKey] = [(n, step, None) for n in sorted(paths)]
            overlay.prefetch(pats)
            for p in pats:
                assert p[0] is not None
                for f in sorted(overlay.live(p), key=lambda f: f.object):
                    nxt.setdefault(f.object, (*paths[p[0]], f.triple))
            paths = nxt
            if not paths:
                break
        return paths

    def _affected_starts(
        self, overlay: Overlay, relation: str, rules: Sequence[Any], changed: set[Triple]
    ) -> set[str]:
        schema = self.schema
        inv = schema.inverse(relation)
        starts: set[str] = set()
        wanted = {relation, inv, *(step for rule in rules for step in rule.chain)}
        by_relation: dict[str, list[Triple]] = defaultdict(list)
        for t in changed:
            if t.relation in wanted:
                by_relation[t.relation].append(t)
        if not by_relation:
            return starts
        for rule in rules:
            for i, step in enumerate(rule.chain):
                heads = {t.subject for t in by_relation.get(step, ())}
                if heads:
                    starts |= self._backward(overlay, heads, rule.chain[:i])
        # Facts of the relation itself (or its inverse) decide what is known or suppressed.
        for t in [*by_relation.get(relation, ()), *(by_relation.get(inv, ()) if inv else ())]:
            if t.relation == relation:
                starts.add(t.subject)
                if schema.inverse_functional(relation):
                    for rule in rules:
                        starts |= self._backward(overlay, {t.object}, rule.chain)
            elif inv is not None and t.relation == inv:
                starts.add(t.object)
                if schema.inverse_functional(relation):
                    for rule in rules:
                        starts |= self._backward(overlay, {t.subject}, rule.chain)
        return starts

    def _candidates(
        self, overlay: Overlay, relation: str, rules: Sequence[Any], x: str
    ) -> dict[str, tuple[str, tuple[Triple, ...]]]:
        """Candidates y for (x, relation, y) after the plan that are not already known."""
        found: dict[str, tuple[str, tuple[Triple, ...]]] = {}
        for rule in rules:
            for y, path in self._forward(overlay, x, rule.chain).items():
                found.setdefault(y, (rule.name, path))
        unknown = {}
        for y, v in found.items():
            f = overlay.get(Triple(x, relation, y))
            if f is None or f.kind is FactKind.COMPOSED:
                unknown[y] = v
        return unknown

    def _reach(self, overlay: Overlay, starts: Iterable[str], chain: Sequence[str]) -> set[str]:
        """Endpoints of chains from any of the starts, before or after the plan. Walks level by
        level, one round trip per level, so the per-start walks that follow find the chains
        cached."""
        frontier = set(starts)
        for step in chain:
            pats: list[TouchKey] = [(n, step, None) for n in sorted(frontier)]
            overlay.prefetch(pats)
            frontier = {f.object for p in pats for f in overlay.with_removed(p)}
            if not frontier:
                break
        return frontier

    def _reconcile(
        self, overlay: Overlay, relation: str, rules: Sequence[Any], starts: set[str]
    ) -> None:
        schema, plan = self.schema, overlay.plan
        inv = schema.inverse(relation)
        reached = {y for rule in rules for y in self._reach(overlay, starts, rule.chain)}
        overlay.prefetch((x, relation, None) for x in starts)  # what each start has now
        candidates = {x: self._candidates(overlay, relation, rules, x) for x in sorted(starts)}
        if schema.inverse_functional(relation):
            # Whether y is contested depends on every x that reaches it, before or after the
            # plan (a claim that disappears can leave another one alone); bring those x in.
            ys = reached | {
                f.object
                for x in starts
                for f in overlay.live((x, relation, None))
                if f.kind is FactKind.COMPOSED
            }
            for y in sorted(ys):
                for rule in rules:
                    for x2 in sorted(self._backward(overlay, {y}, rule.chain)):
                        if x2 not in candidates:
                            candidates[x2] = self._candidates(overlay, relation, rules, x2)
        # Both ambiguity rules look at the same candidates: a functional relation with several
        # candidates for x, an inverse-functional one with several claimants of y.
        ambiguous: set[str] = set()
        if schema.functional(relation):
            ambiguous = {x for x, c in candidates.items() if len(c) > 1}
            plan.conflicts.extend(
                f"{relation} of {x} could be any of {', '.join(sorted(candidates[x]))}: "
                "ambiguous, not derived"
                for x in sorted(ambiguous)
            )
        contested: set[str] = set()
        if schema.inverse_functional(relation):
            claims: dict[str, set[str]] = defaultdict(set)
            for x, c in candidates.items():
                for y in c:
                    claims[y].add(x)
            contested = {y for y, xs in claims.items() if len(xs) > 1}
            plan.conflicts.extend(
                f"{relation} of {' and '.join(sorted(claims[y]))} would all be {y}: "
                "ambiguous, not derived"
                for y in sorted(contested)
            )
        candidates = {
            x: ({} if x in ambiguous else {y: v for y, v in c.items() if y not in contested})
            for x, c in candidates.items()
        }
        # the facts a candidate could contradict, read in one round trip
        overlay.prefetch(
            key
            for x, c in candidates.items()
            for y in c
            for t in (Triple(x, relation, y), *((Triple(y, inv, x),) if inv else ()))
            for key in (t, *slots(schema, t))
        )
        for x in sorted(candidates):
            desired: dict[Triple, tuple[str, tuple[Triple, ...]]] = {}
            for y, (rule_name, path) in candidates[x].items():
                t = Triple(x, relation, y)
                blocker = self._blocker(overlay, t)
                if blocker is not None:
                    plan.conflicts.append(
                        f"{t} follows from {', '.join(map(str, path))} ({rule_name}) but "
                        f"contradicts {blocker}; the asserted fact is kept"
                    )
                    continue
                desired[t] = (rule_name, path)
            current = {
                f.triple: f
                for f in overlay.live((x, relation, None))
                if f.kind is FactKind.COMPOSED
            }
            for t, f in current.items():
                want = desired.get(t)
                if want is None or want[1] != f.premises:
                    self._retire(overlay, f)
            for t, (rule_name, path) in desired.items():
                old = current.get(t)
                if old is not None and old.premises == path:
                    continue
                self._put(overlay, Fact(t, FactKind.COMPOSED, rule=rule_name, premises=path))
                it = Triple(t.object, inv, t.subject) if inv is not None else None
                if it is not None and it != t and overlay.get(it) is None:
                    self._put(
                        overlay,
                        Fact(it, FactKind.INVERSE, rule=f"inverse of {relation}", premises=(t,)),
                    )
            for path_keys in desired.values():
                plan.reads.update((p.subject, p.relation, p.object) for p in path_keys[1])

    def _blocker(self, overlay: Overlay, t: Triple) -> Triple | None:
        """An asserted (or inverse-of-asserted) fact that a derived candidate contradicts."""
        keys = slots(self.schema, t)
        inv = self.schema.inverse(t.relation)
        if inv is not None:
            keys += slots(self.schema, Triple(t.object, inv, t.subject))
        it = Triple(t.object, inv, t.subject) if inv is not None else None
        for key in keys:
            for f in overlay.live(key):
                if f.triple not in (t, it) and self._asserted_level(overlay, f):
                    return self._root(f)
        return None
