"""The rules of the house: resolving input, planning edits and rollbacks, protection.

The controller decides; it writes nothing itself. Every method takes a view (or a transaction
used as a view) and returns plans for the editor to apply.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from controller._errors import RollbackRefused
from controller._plan import ConflictPolicy, Overlay, Plan, Planner, slots
from controller._refusal import Refusal, RefusalKind
from kg import (
    EditKind,
    EditRecord,
    EditState,
    Fact,
    FactKind,
    GraphView,
    InputError,
    NotFoundError,
    Relation,
    Schema,
    TouchKey,
    Triple,
    UnknownRelationError,
    check_entity_name,
    check_relation_name,
    entity_key,
)

__all__ = ["Controller", "RawTriple", "Resolved", "RollbackStep"]

RawTriple = tuple[str, str, str]


@dataclass
class Resolved:
    """Triples in canonical names, with what had to be created to express them."""

    triples: list[Triple]
    new_entities: dict[str, str] = field(default_factory=dict)  # key -> name
    new_relations: list[Relation] = field(default_factory=list)


@dataclass
class RollbackStep:
    """One rollback to apply: the edit it undoes and the plan that does it."""

    target: EditRecord
    plan: Plan


class Controller:
    """Decides what an edit, an import or a rollback changes.

    Args:
        schema: the relation library.
        hops: how far the neighbourhood of an edited object is sampled.
        fanout: how many facts per entity the sample keeps.
    """

    def __init__(self, schema: Schema, *, hops: int = 2, fanout: int = 8) -> None:
        if hops < 0 or fanout < 1:
            raise InputError("hops must be >= 0 and fanout >= 1")
        self.schema = schema
        self.hops = hops
        self.fanout = fanout
        self.planner = Planner(schema)

    # ------------------------------------------------------------------ input

    def validate(self, raw: RawTriple, *, allow_new_relations: bool = False) -> None:
        """Check one raw triple without reading the store.

        Raises:
            InputError: a name is empty, too long, or has forbidden characters.
            UnknownRelationError: the relation is unknown and new ones are not allowed.
        """
        if not isinstance(raw, (tuple, list)) or len(raw) != 3:
            raise InputError("a triple needs exactly a subject, a relation and an object")
        check_entity_name(raw[0], field="subject")
        relation = check_relation_name(raw[1])
        check_entity_name(raw[2], field="object")
        if not allow_new_relations and self.schema.find(relation) is None:
            raise UnknownRelationError(relation, self.schema.suggest(relation))

    def resolve(
        self,
        view: GraphView,
        raw: Sequence[RawTriple],
        *,
        allow_new_relations: bool = False,
        lines: Sequence[int] | None = None,
        validated: bool = False,
    ) -> Resolved:
        """Validate raw triples and map them onto canonical entity and relation names.

        Entities are found by name, spelling or alias; unknown ones become new entities
        (two spellings of one new name become one entity). Unknown relations raise, or are
        added as many2many relations when allowed.

        Raises:
            InputError: a name is empty, too long, or has forbidden characters (``line`` set
                when ``lines`` is given).
            UnknownRelationError: a relation is unknown and new ones are not allowed.
        """
        names: dict[str, None] = {}  # ordered: the first spelling of a new entity wins
        checked: list[tuple[str, str, str]] = []
        for i, item in enumerate(raw):
            if validated:  # checked by validate(): only strip
                s = unicodedata.normalize("NFC", item[0].strip())
                o = unicodedata.normalize("NFC", item[2].strip())
                r = item[1].strip()
                names[s] = None
                names[o] = None
                checked.append((s, r, o))
                continue
            try:
                if not isinstance(item, (tuple, list)) or len(item) != 3:
                    raise InputError("a triple needs exactly a subject, a relation and an object")
                s = check_entity_name(item[0], field="subject")
                r = check_relation_name(item[1])
                o = check_entity_name(item[2], field="object")
            except InputError as exc:
                if lines is not None:
                    raise InputError(
                        f"line {lines[i]}: {exc}", field=exc.field, line=lines[i]
                    ) from None
                raise
            names[s] = None
            names[o] = None
            checked.append((s, r, o))
        known = view.entities(list(names))
        folded = self.schema.entity_keys == "folded"
        new: dict[str, str] = {}
        canonical: dict[str, str] = {}
        for name in names:
            entity = known.get(name)
            canonical[name] = (
                entity.name
                if entity is not None
                else new.setdefault(entity_key(name, folded=folded), name)
            )
        rel_names: dict[str, str] = {}
        relations: dict[str, Relation] = {}
        out: list[Triple] = []
        for i, (s, r, o) in enumerate(checked):
            rel_name = rel_names.get(r)
            if rel_name is None:
                rel = self.schema.find(r)
                if rel is None:
                    if not allow_new_relations:
                        err = UnknownRelationError(r, self.schema.suggest(r))
                        if lines is not None:
                            err.line = lines[i]
                        raise err
                    rel = relations.setdefault(r, Relation(name=r.replace(" ", "_")))
                rel_name = rel_names[r] = rel.name
            out.append(Triple(canonical[s], rel_name, canonical[o]))
        return Resolved(out, new, list(relations.values()))

    # ------------------------------------------------------------------ edits

    def plan_edit(
        self,
        view: GraphView,
        asserted: Sequence[Triple],
        retracted: Sequence[Triple] = (),
        *,
        policy: ConflictPolicy = ConflictPolicy.OVERWRITE,
        sequential: bool = False,
        rows: Sequence[int] | None = None,
        sample: bool = True,
        keep: Callable[[Fact], str | None] | None = None,
    ) -> Plan:
        """The plan of one edit (or one chunk of an import): assertions, retractions,
        supersessions, derived facts, and refusals (protected facts, contradictions).
        ``keep``: as for :meth:`Planner.assert_triples` (asserted facts an import may not
        supersede)."""
        plan = Plan(request=(list(asserted), list(retracted)))
        overlay = Overlay(view, plan)
        self.planner.assert_triples(
            overlay, asserted, policy=policy, sequential=sequential, rows=rows, keep=keep
        )
        self.planner.retract_triples(overlay, retracted, asserted)
        if plan.refused and not sequential:
            return plan
        extra: set[Triple] = set()
        if sample:
            # OneEdit/GLAME: the rules are also applied over the sampled neighbourhood of each
            # new object, which the editor later uses to carry the new object's knowledge.
            for t in plan.asserted[:16]:
                for f in self.neighbourhood(overlay, t.object):
                    extra.add(f.triple)
        self.planner.derive(overlay, extra)
        plan.refusals.extend(self.protection(view, plan))
        return plan

    def neighbourhood(
        self,
        view: GraphView | Overlay,
        entity: str,
        *,
        hops: int | None = None,
        fanout: int | None = None,
        incoming: bool = False,
    ) -> list[Fact]:
        """A deterministic sample of the facts around an entity: breadth first, at most
        ``fanout`` facts per entity (sorted by relation and object), ``hops`` steps out."""
        hops = self.hops if hops is None else hops
        fanout = self.fanout if fanout is None else fanout
        seen = {entity}
        frontier = [entity]
        out: list[Fact] = []
        for _ in range(hops):
            nxt: list[str] = []
            for node in frontier:
                if isinstance(view, Overlay):
                    facts = [
                        f for f in view.view.facts(subject=node) if f.triple not in view.plan.remove
                    ] + [f for t, f in view.plan.add.items() if t.subject == node]
                else:
                    facts = view.facts(subject=node)
                    if incoming:
                        facts += [f for f in view.facts(object=node) if f.subject != node]
                facts.sort(key=lambda f: (f.relation, f.object, f.subject))
                for f in facts[:fanout]:
                    out.append(f)
                    other = f.object if f.subject == node else f.subject
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return out

    def graph(self, facts: Iterable[Fact]) -> nx.MultiDiGraph:
        """Facts as a networkx multigraph (edges keyed by relation, with the fact attached)."""
        g = nx.MultiDiGraph()
        for f in facts:
            g.add_edge(f.subject, f.object, key=f.relation, relation=f.relation, fact=f)
        return g

    def path(
        self, view: GraphView, source: str, target: str, *, max_hops: int = 4, fanout: int = 50
    ) -> list[Fact]:
        """A shortest chain of facts linking two entities, in either direction, within
        ``max_hops`` (the neighbourhood is capped at ``fanout`` facts per entity).

        Raises:
            NotFoundError: no such chain within the bounds.
        """
        if source == target:
            return []
        facts = self.neighbourhood(view, source, hops=max_hops, fanout=fanout, incoming=True)
        g = self.graph(facts).to_undirected(as_view=True)
        try:
            nodes = nx.shortest_path(g, source, target)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            raise NotFoundError(
                f"no chain of facts links {source!r} and {target!r} within {max_hops} hops"
            ) from None
        chain = []
        for a, b in itertools.pairwise(nodes):
            edges = g.get_edge_data(a, b)
            chain.append(
                min((e["fact"] for e in edges.values()), key=lambda f: (f.kind.value, f.relation))
            )
        return chain

    def protection(self, view: GraphView, plan: Plan) -> list[Refusal]:
        """Refusals (of kind ``protected``, naming the lock) for changes that touch locked
        entities or remove locked facts."""
        locks = view.locks()
        if not locks:
            return []
        entity_locks = {lk.entity: lk for lk in locks if lk.is_entity_lock}
        fact_locks = {
            Triple(lk.entity, lk.relation, lk.object): lk
            for lk in locks
            if lk.relation is not None and lk.object is not None
        }
        out: list[Refusal] = []
        for t in plan.remove:
            lk = fact_locks.get(t)
            if lk is not None:
                out.append(
                    Refusal(
                        RefusalKind.PROTECTED,
                        f"{t} is protected: lock #{lk.id} on {lk.describe()}",
                        lock=lk.id,
                    )
                )
        for t in [*plan.remove, *plan.add]:
            lk = entity_locks.get(t.subject)
            if lk is not None:
                out.append(
                    Refusal(
                        RefusalKind.PROTECTED,
                        f"{t} changes a protected entity: lock #{lk.id} on {lk.describe()}",
                        lock=lk.id,
                    )
                )
        return list(dict.fromkeys(out))

    # -------------------------------------------------------------- rollback

    def touch_keys(self, facts: Iterable[Fact]) -> set[TouchKey]:
        """The keys by which other edits can depend on changes to these facts."""
        keys: set[TouchKey] = set()
        for f in facts:
            keys.add(f.triple)
            keys.update(slots(self.schema, f.triple))
        return keys

    def _redo_dependants(
        self, view: GraphView, edit: EditRecord, redo: tuple[list[Triple], list[Triple]]
    ) -> list[int]:
        """For a redo of edit T: the edits in force after T (in journal order, as a replay
        would place them) that touch what T asks for or changed. A replay of T now gives what
        a replay in order would only when none of them does."""
        target, _ = self._undone_edit(view, edit)
        t_added, t_retired = view.edit_changes(target.id)
        keys = self.touch_keys([*t_added, *t_retired])
        keys |= self.touch_keys(Fact(t) for t in [*redo[0], *redo[1]])
        out: set[int] = set()
        for other_id in view.touching(keys, after=target.id):
            base, _ = self._undone_edit(view, view.edit(other_id))
            if (
                base.id > target.id
                and base.state is EditState.APPLIED
                and base.kind in (EditKind.EDIT, EditKind.IMPORT)
                and self.in_force(view, base)
            ):
                out.add(base.id)
        return sorted(out)

    def _undone_edit(self, view: GraphView, edit: EditRecord) -> tuple[EditRecord, int]:
        """The edit at the root of a chain of rollbacks ending in ``edit``, and the number
        of rollbacks in the chain (odd: ``edit`` takes the root out of force)."""
        root, depth = edit, 0
        while root.kind is EditKind.ROLLBACK and root.rollback_of is not None:
            root, depth = view.edit(root.rollback_of), depth + 1
        return root, depth

    def _redo_request(
        self, view: GraphView, edit: EditRecord
    ) -> tuple[list[Triple], list[Triple]] | None:
        """When rolling back ``edit`` redoes a plain edit, that edit's request in canonical
        triples. That is so when ``edit`` rolled back the edit, and also when it undid a redo
        of it (a rollback of a rollback of a rollback...): what that redo changed is no guide
        to what a replay changes now (it may have found a fact known through an edit that
        has been undone since)."""
        target, depth = self._undone_edit(view, edit)
        if depth % 2 == 0:
            return None
        request = target.report.get("request")
        if target.kind is not EditKind.EDIT or not isinstance(request, dict):
            return None
        return (
            [Triple(*t) for t in request.get("assert", [])],
            [Triple(*t) for t in request.get("retract", [])],
        )

    def in_force(self, view: GraphView, edit: EditRecord) -> bool:
        """Whether an applied edit's effect is in force: not rolled back, or rolled back by a
        rollback that was itself rolled back."""
        seen = 0
        current = edit
        while current.rolled_back_by is not None:
            current = view.edit(current.rolled_back_by)
            seen += 1
        return seen % 2 == 0

    def dependants(self, view: GraphView, edit: EditRecord) -> list[int]:
        """Later edits in force whose changes or reads overlap this edit's changes."""
        added, retired = view.edit_changes(edit.id)
        keys = self.touch_keys([*added, *retired])
        out: list[int] = []
        for other_id in sorted(view.touching(keys, after=edit.id)):
            other = view.edit(other_id)
            if other.state is not EditState.APPLIED or other.kind in (
                EditKind.LOCK,
                EditKind.UNLOCK,
            ):
                continue
            if other.rollback_of is not None and other.rollback_of > edit.id:
                continue  # it and its target, both later, cancel out (see in_force)
            if not self.in_force(view, other):
                continue
            out.append(other_id)
        return out

    def plan_rollback(self, view: GraphView, edit_id: int) -> RollbackStep:
        """The plan that undoes one edit.

        Raises:
            NotFoundError: no edit has that id.
            InputError: the edit was not applied, is already rolled back, or changes nothing.
            RollbackRefused: later edits depend on it (``dependants`` lists them).
        """
        edit = view.edit(edit_id)
        if edit.state is not EditState.APPLIED:
            raise InputError(
                f"edit {edit_id} is {edit.state.value}; only applied edits can be rolled back",
                field="edit_id",
            )
        if edit.kind in (EditKind.LOCK, EditKind.UNLOCK):
            raise InputError(
                f"edit {edit_id} is a {edit.kind.value}; use lock/unlock instead", field="edit_id"
            )
        if edit.rolled_back_by is not None:
            tip = view.edit(edit.rolled_back_by)
            while tip.rolled_back_by is not None:
                tip = view.edit(tip.rolled_back_by)
            if self.in_force(view, edit):
                raise InputError(
                    f"edit {edit_id} was rolled back and later restored; roll back edit "
                    f"{tip.id} to undo it again",
                    field="edit_id",
                )
            raise InputError(
                f"edit {edit_id} is already rolled back by edit {edit.rolled_back_by}"
                f"{'' if tip.id == edit.rolled_back_by else f' (now in force through {tip.id})'};"
                f" roll back edit {edit.rolled_back_by} to redo it",
                field="edit_id",
            )
        redo = self._redo_request(view, edit)
        deps = (
            self.dependants(view, edit) if redo is None else self._redo_dependants(view, edit, redo)
        )
        if deps:
            raise RollbackRefused(edit_id, deps)
        if redo is not None:
            # Undoing the rollback of an edit (or of a redo's undo) is a redo: the edit is
            # replayed in the current graph, as a replay of the history without the rollback
            # would do (what it changed then may differ: a fact it found already known had no
            # change to record).
            plan = self.plan_edit(view, redo[0], redo[1])
            return RollbackStep(edit, plan)
        added, retired = view.edit_changes(edit_id)
        plan = Plan()
        overlay = Overlay(view, plan)
        for f in added:
            if overlay.get(f.triple) is not None:
                plan.remove[f.triple] = f
        for f in retired:
            if overlay.get(f.triple) is None:
                plan.add[f.triple] = Fact(
                    f.triple,
                    f.kind,
                    edit_id=f.edit_id,
                    user=f.user,
                    created_at=f.created_at,
                    rule=f.rule,
                    premises=f.premises,
                )
                if f.kind is FactKind.ASSERTED:
                    plan.asserted.append(f.triple)
        plan.retracted = [t for t, f in plan.remove.items() if f.kind is FactKind.ASSERTED]
        self.planner.derive(overlay)
        # Restored facts must fit what is in force now; a fact in the way belongs to a later
        # edit that depends on this one.
        blocking: set[int] = set()
        for f in plan.add.values():
            if f.kind is FactKind.ASSERTED:
                for key in self.touch_keys([f]):
                    if key[0] is None or key[2] is None:
                        for rival in overlay.live(key):
                            if (
                                rival.triple != f.triple
                                and rival.valid_from is not None
                                and rival.kind is not FactKind.COMPOSED
                            ):
                                blocking.add(rival.valid_from)
        if blocking:
            raise RollbackRefused(edit_id, sorted(blocking))
        plan.refusals.extend(self.protection(view, plan))
        return RollbackStep(edit, plan)
