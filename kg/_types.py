"""Plain data types shared by every layer: triples, facts, edits, locks."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "MONTHS",
    "Cardinality",
    "ConflictPolicy",
    "EditKind",
    "EditRecord",
    "EditState",
    "Entity",
    "Fact",
    "FactKind",
    "Lock",
    "TouchKey",
    "Triple",
    "now_iso",
    "spoken_date",
]

#: The months, January first: one table for how dates are read (the interpreter turns "August
#: 4, 1961" into the graph's ``1961-08-04``) and said (:func:`spoken_date`).
MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def spoken_date(value: str) -> str | None:
    """An ISO date as prose says it (``1961-08-04`` -> ``August 4, 1961``, ``1961-08`` ->
    ``August 1961``), or None when ``value`` is not one."""
    date = _ISO_DATE.fullmatch(value)
    if date is None or not 1 <= int(date.group(2)) <= 12:
        return None
    year, month, day = int(date.group(1)), MONTHS[int(date.group(2)) - 1], date.group(3)
    if day is None:
        return f"{month} {year}"
    return f"{month} {int(day)}, {year}" if 1 <= int(day) <= 31 else None


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with microseconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


class ConflictPolicy(StrEnum):
    """What a batch does with a row that contradicts a fact in force."""

    OVERWRITE = "overwrite"  # supersede the old fact
    SKIP = "skip"  # keep the old fact, skip the row
    FAIL = "fail"  # refuse


class Cardinality(StrEnum):
    """How many objects a subject may have, and how many subjects an object."""

    ONE2ONE = "one2one"
    MANY2ONE = "many2one"
    ONE2MANY = "one2many"
    MANY2MANY = "many2many"

    @property
    def functional(self) -> bool:
        """A subject has at most one object."""
        return self in (Cardinality.ONE2ONE, Cardinality.MANY2ONE)

    @property
    def inverse_functional(self) -> bool:
        """An object has at most one subject."""
        return self in (Cardinality.ONE2ONE, Cardinality.ONE2MANY)

    def mirrored(self) -> Cardinality:
        """The cardinality of the inverse relation."""
        return {
            Cardinality.MANY2ONE: Cardinality.ONE2MANY,
            Cardinality.ONE2MANY: Cardinality.MANY2ONE,
        }.get(self, self)

    @staticmethod
    def of(functional: bool, inverse_functional: bool) -> Cardinality:
        if functional and inverse_functional:
            return Cardinality.ONE2ONE
        if functional:
            return Cardinality.MANY2ONE
        if inverse_functional:
            return Cardinality.ONE2MANY
        return Cardinality.MANY2MANY


class FactKind(StrEnum):
    """Where a fact comes from: said by a user, or derived by a rule."""

    ASSERTED = "asserted"
    INVERSE = "inverse"  # the other direction of a fact, through the relation's inverse
    COMPOSED = "composed"  # follows from a composition rule (first_lady = president . wife)

    @property
    def derived(self) -> bool:
        return self is not FactKind.ASSERTED


class Triple(NamedTuple):
    """A statement (subject, relation, object) in canonical entity and relation names.

    A named tuple: hashing and comparison run in C, which matters on million-row imports.
    """

    subject: str
    relation: str
    object: str

    def __str__(self) -> str:
        return f"{self.subject}|{self.relation}|{self.object}"

    def as_list(self) -> list[str]:
        return [self.subject, self.relation, self.object]


# A key an edit touched, for dependency tracking between edits: a whole triple
# (s, r, o), a functional slot (s, r, None), or an inverse-functional slot (None, r, o).
TouchKey = tuple[str | None, str, str | None]


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph: its canonical name, the folded key it is found by, its aliases."""

    name: str
    key: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fact:
    """A triple as the graph holds it, with provenance.

    Attributes:
        triple: the statement.
        kind: asserted by a user, or derived (inverse or composed).
        edit_id: the edit that asserted or derived it (kept when a rollback restores it).
        user: who asserted it, or whose edit derived it.
        created_at: when it was first asserted or derived.
        rule: for derived facts, the rule that produced it.
        premises: for derived facts, the facts it follows from.
        valid_from: the journal edit from which this row is in force (store-assigned).
        valid_to: the journal edit that retired it; None while it is in force.
    """

    triple: Triple
    kind: FactKind = FactKind.ASSERTED
    edit_id: int | None = None
    user: str = ""
    created_at: str = ""
    rule: str | None = None
    premises: tuple[Triple, ...] = ()
    valid_from: int | None = None
    valid_to: int | None = None

    @property
    def subject(self) -> str:
        return self.triple.subject

    @property
    def relation(self) -> str:
        return self.triple.relation

    @property
    def object(self) -> str:
        return self.triple.object

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "subject": self.subject,
            "relation": self.relation,
            "object": self.object,
            "kind": self.kind.value,
            "edit_id": self.edit_id,
            "user": self.user,
            "created_at": self.created_at,
        }
        if self.kind.derived:
            data["rule"] = self.rule
            data["premises"] = [p.as_list() for p in self.premises]
        if self.valid_from is not None:
            data["valid_from"] = self.valid_from
        if self.valid_to is not None:
            data["valid_to"] = self.valid_to
        return data


class EditKind(StrEnum):
    EDIT = "edit"
    IMPORT = "import"
    ROLLBACK = "rollback"
    LOCK = "lock"
    UNLOCK = "unlock"


class EditState(StrEnum):
    """The life of a journal entry.

    pending -> applied | refused | aborted. A pending entry found at start-up belonged to a
    process that died before its graph transaction committed; recovery marks it aborted.
    held -> pending (approved by a curator) | refused (rejected): an edit waiting for review;
    it has changed nothing yet.
    """

    HELD = "held"
    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"
    ABORTED = "aborted"


@dataclass(slots=True)
class EditRecord:
    """One journal entry."""

    id: int
    kind: EditKind
    user: str
    created_at: str
    state: EditState
    request: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    rollback_of: int | None = None
    rolled_back_by: int | None = None
    batch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "user": self.user,
            "created_at": self.created_at,
            "state": self.state.value,
            "request": self.request,
            "report": self.report,
            "rollback_of": self.rollback_of,
            "rolled_back_by": self.rolled_back_by,
            "batch": self.batch,
        }


@dataclass(frozen=True, slots=True)
class Lock:
    """A curator's protection of an entity (relation and object None) or of one fact."""

    id: int
    entity: str
    relation: str | None
    object: str | None
    user: str
    reason: str
    created_at: str

    @property
    def is_entity_lock(self) -> bool:
        return self.relation is None

    def describe(self) -> str:
        what = (
            self.entity if self.is_entity_lock else f"{self.entity}|{self.relation}|{self.object}"
        )
        return f"{what} (locked by {self.user}{': ' + self.reason if self.reason else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity": self.entity,
            "relation": self.relation,
            "object": self.object,
            "user": self.user,
            "reason": self.reason,
            "created_at": self.created_at,
        }
