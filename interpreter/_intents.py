"""The typed intents the interpreter produces: strict pydantic models (unknown fields are
refused), discriminated by ``kind``.

An intent says what the interpreter understood; the controller decides what to do with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

__all__ = [
    "EditIntent",
    "EditTriple",
    "EntityRef",
    "Intent",
    "IntentEnvelope",
    "QueryIntent",
    "RetractIntent",
    "RollbackIntent",
    "Triple",
    "Unclear",
    "intent_adapter",
]

Reader = Literal["rules", "model"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityRef(_Strict):
    """An entity as linked: its canonical name in the graph, or a proposed name when new.

    Attributes:
        name: the canonical graph name (``Joe_Biden``), or the proposed name of a new entity.
        mention: the words of the request that named it.
        new_entity: the graph has no entity by that name or alias; asserting creates one.
        score: linking confidence in [0, 1] (1 for an exact or alias match).
    """

    name: str = Field(min_length=1, max_length=200)
    mention: str = Field(default="", max_length=1000)
    new_entity: bool = False
    score: float = Field(default=1.0, ge=0.0, le=1.0)


class Triple(_Strict):
    """A linked statement ``(subject, relation, object)``; ``relation`` is a canonical schema
    relation name."""

    subject: EntityRef
    relation: str = Field(min_length=1, max_length=64)
    object: EntityRef

    def as_tuple(self) -> tuple[str, str, str]:
        """``(subject, relation, object)`` with canonical names, as the controller takes it."""
        return (self.subject.name, self.relation, self.object.name)


class EditTriple(Triple):
    """A triple to assert, with the old value the user mentioned ("..., not Sydney")."""

    old_object: EntityRef | None = None


class EditIntent(_Strict):
    """Assert one or more triples."""

    kind: Literal["edit"] = "edit"
    triples: tuple[EditTriple, ...] = Field(min_length=1, max_length=20)
    reader: Reader = "rules"

    def as_triples(self) -> list[tuple[str, str, str]]:
        """The triples to assert, as ``KnowSync.edit(assert_=...)`` takes them."""
        return [t.as_tuple() for t in self.triples]


class RetractIntent(_Strict):
    """Remove one or more triples."""

    kind: Literal["retract"] = "retract"
    triples: tuple[Triple, ...] = Field(min_length=1, max_length=20)
    reader: Reader = "rules"

    def as_triples(self) -> list[tuple[str, str, str]]:
        """The triples to remove, as ``KnowSync.edit(retract=...)`` takes them."""
        return [t.as_tuple() for t in self.triples]


class QueryIntent(_Strict):
    """A question. ``subject``/``relation``/``object`` are filled when the interpreter can tell
    what is asked (``relation`` is a canonical schema name); any may be None.

    A question about a description ("Who is the wife of the president of America?") is a walk
    from a named entity: ``subject`` is the entity named (``America``), ``via`` the relations
    walked from it before ``relation``, innermost first (``("president",)``), and ``relation``
    the last hop (``spouse``). ``path`` gives the whole walk.
    """

    kind: Literal["query"] = "query"
    question: str = Field(min_length=1, max_length=2000)
    subject: EntityRef | None = None
    relation: str | None = Field(default=None, max_length=64)
    object: EntityRef | None = None
    via: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(
        default=(), max_length=8
    )
    reader: Reader = "rules"

    @model_validator(mode="after")
    def _via_needs_a_walk(self) -> QueryIntent:
        if self.via and (self.subject is None or self.relation is None or self.object is not None):
            raise ValueError("via is a walk from subject: it needs subject and relation, no object")
        return self

    @property
    def path(self) -> tuple[str, ...]:
        """Every relation walked from ``subject``, in order (empty without a relation)."""
        return (*self.via, self.relation) if self.relation is not None else ()


class RollbackIntent(_Strict):
    """Undo an edit: the user's last one (``target='last'``) or one by id."""

    kind: Literal["rollback"] = "rollback"
    target: Literal["last", "id"]
    edit_id: int | None = Field(default=None, ge=1)
    reader: Reader = "rules"

    @model_validator(mode="after")
    def _id_iff_target_id(self) -> RollbackIntent:
        if (self.target == "id") != (self.edit_id is not None):
            raise ValueError("edit_id is required when target is 'id', and only then")
        return self


class Unclear(_Strict):
    """The request could not be read safely; ask the user.

    Attributes:
        missing: what is missing: ``intent`` (no sentence shape fits), ``relation`` (an
            unknown relation), ``entity`` (an ambiguous name), ``object`` (a value to retract
            could not be found).
        message: a sentence for the user saying what was understood and what is needed.
        suggestions: candidates, best first (relation names, or entity names).
        span: the words of the request the suggestions would replace (the unknown relation
            phrase, the unrecognised name), when known: a front end can offer the request
            rewritten with each suggestion.
    """

    kind: Literal["unclear"] = "unclear"
    missing: Literal["intent", "relation", "entity", "object"]
    message: str = Field(min_length=1, max_length=2000)
    suggestions: tuple[str, ...] = ()
    span: str | None = Field(default=None, max_length=2000)
    reader: Reader = "rules"


Intent = Annotated[
    EditIntent | RetractIntent | QueryIntent | RollbackIntent | Unclear,
    Field(discriminator="kind"),
]


class IntentEnvelope(_Strict):
    """The structured output asked of a chat model: one intent."""

    intent: Intent


def intent_adapter() -> TypeAdapter[Intent]:
    """A validator for any intent (from a dict or JSON), e.g. for the gold data set."""
    return TypeAdapter(Intent)
