"""The relation library: names, surface forms, cardinality, inverses, composition rules, cloze
templates. Loaded from knowsync's own JSON/YAML format or from OneEdit's
``relationship_library.json`` as is."""

from __future__ import annotations

import ast
import difflib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kg._errors import InputError, SchemaError, UnknownRelationError
from kg._names import check_relation_name, relation_key
from kg._types import Cardinality

__all__ = ["Relation", "Rule", "Schema", "SchemaCache", "SchemaFile"]

SCHEMA_FORMAT = "knowsync-schema/1"


class Relation(BaseModel):
    """One relation of the library."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    cardinality: Cardinality = Cardinality.MANY2MANY
    inverse: str | None = None
    compose: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="composition rules: chains of relations, e.g. [['president','wife']]",
    )
    domain: str | None = None
    range: str | None = None
    cloze: tuple[str, ...] = Field(
        default=(), description="cloze templates with {subject}, e.g. 'The capital of {subject} is'"
    )
    questions: tuple[str, ...] = Field(
        default=(),
        description="question templates with {subject}, e.g. 'Which city was {subject} born in?'",
    )
    description: str = ""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_relation_name(value, field="name")

    @field_validator("aliases")
    @classmethod
    def _valid_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_relation_name(a, field="alias") for a in value)

    @field_validator("cloze")
    @classmethod
    def _valid_cloze(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for template in value:
            if "{subject}" not in template:
                raise ValueError(f"cloze template {template!r} must contain {{subject}}")
        return value

    @field_validator("questions")
    @classmethod
    def _valid_questions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for template in value:
            if template.count("{subject}") != 1:
                raise ValueError(
                    f"question template {template!r} must contain {{subject}} exactly once"
                )
        return value

    @property
    def key(self) -> str:
        return relation_key(self.name)

    def cloze_templates(self) -> tuple[str, ...]:
        """The cloze templates, or one made from the relation's name when none is given."""
        if self.cloze:
            return self.cloze
        words = self.name.replace("_", " ").strip()
        return (f"The {words} of {{subject}} is",)


class SchemaFile(BaseModel):
    """knowsync's own schema file format (JSON or YAML)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["knowsync-schema/1"] = "knowsync-schema/1"
    entity_keys: Literal["folded", "exact"] = "folded"
    relations: list[Relation] = []


@dataclass(frozen=True, slots=True)
class Rule:
    """A composition rule: ``relation(x, z)`` holds when the chain leads from x to z."""

    relation: str
    chain: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.relation} = {' . '.join(self.chain)}"


class Schema:
    """An immutable, validated relation library with derived lookups.

    Construct with :meth:`from_relations`, :meth:`load` or :meth:`from_oneedit`. ``warnings``
    lists what was repaired while loading (inverses made mutual, cardinalities mirrored, ...).
    """

    def __init__(
        self,
        relations: Iterable[Relation],
        *,
        entity_keys: Literal["folded", "exact"] = "folded",
        strict: bool = True,
    ) -> None:
        self.entity_keys: Literal["folded", "exact"] = entity_keys
        self.warnings: list[str] = []
        rels: dict[str, Relation] = {}
        for rel in relations:
            if rel.name in rels:
                self._problem(strict, f"relation {rel.name!r} is defined twice")
                continue
            rels[rel.name] = rel
        rels = self._complete_inverses(rels, strict)
        rels = self._complete_chains(rels, strict)
        self._relations = rels
        self._by_key: dict[str, str] = {}
        for rel in rels.values():
            for form in (rel.name, *rel.aliases):
                key = relation_key(form)
                owner = self._by_key.get(key)
                if owner is not None and owner != rel.name:
                    self._problem(
                        strict, f"surface form {form!r} names both {owner!r} and {rel.name!r}"
                    )
                    continue
                self._by_key[key] = rel.name
        # (functional, inverse_functional) per relation, counting the inverse's constraints
        self._flags: dict[str, tuple[bool, bool]] = {}
        for rel in rels.values():
            card = rel.cardinality
            functional, inv_functional = card.functional, card.inverse_functional
            if rel.inverse is not None:
                inv_card = rels[rel.inverse].cardinality
                functional = functional or inv_card.inverse_functional
                inv_functional = inv_functional or inv_card.functional
                if inv_card != card.mirrored() and rel.name < rel.inverse:
                    self.warnings.append(
                        f"{rel.name!r} is {card.value} but its inverse {rel.inverse!r} is "
                        f"{inv_card.value}; both are treated as "
                        f"{Cardinality.of(functional, inv_functional).value} and its mirror"
                    )
            self._flags[rel.name] = (functional, inv_functional)
        self._rules = self._collect_rules(rels, strict)
        self._strata = self._stratify(strict)

    # ----------------------------------------------------------------- construction

    def _problem(self, strict: bool, message: str) -> None:
        if strict:
            raise SchemaError(message)
        self.warnings.append(message)

    def _complete_inverses(self, rels: dict[str, Relation], strict: bool) -> dict[str, Relation]:
        out = dict(rels)
        for rel in list(rels.values()):
            inv = rel.inverse
            if inv is None:
                continue
            if inv == rel.name:
                continue
            other = out.get(inv)
            if other is None:
                self.warnings.append(
                    f"inverse {inv!r} of {rel.name!r} is not defined; added as "
                    f"{rel.cardinality.mirrored().value}"
                )
                out[inv] = Relation(
                    name=inv, cardinality=rel.cardinality.mirrored(), inverse=rel.name
                )
            elif other.inverse is None:
                out[inv] = other.model_copy(update={"inverse": rel.name})
            elif other.inverse != rel.name:
                self._problem(
                    strict,
                    f"{rel.name!r} names {inv!r} as its inverse, but {inv!r} names "
                    f"{other.inverse!r}; the inverse of {rel.name!r} is dropped",
                )
                out[rel.name] = out[rel.name].model_copy(update={"inverse": None})
        return out

    def _complete_chains(self, rels: dict[str, Relation], strict: bool) -> dict[str, Relation]:
        out = dict(rels)
        for rel in list(rels.values()):
            for chain in rel.compose:
                if len(chain) < 2:
                    self._problem(strict, f"rule of {rel.name!r} needs at least two relations")
                for step in chain:
                    if step not in out:
                        if strict:
                            raise SchemaError(
                                f"rule {rel.name} = {' . '.join(chain)} uses undefined "
                                f"relation {step!r}"
                            )
                        self.warnings.append(
                            f"relation {step!r} used by a rule of {rel.name!r} is not defined; "
                            "added as many2many"
                        )
                        out[step] = Relation(name=check_relation_name(step))
        return out

    def _collect_rules(self, rels: dict[str, Relation], strict: bool) -> tuple[Rule, ...]:
        rules = []
        for rel in rels.values():
            for chain in rel.compose:
                if len(chain) >= 2 and all(step in rels for step in chain):
                    rules.append(Rule(rel.name, tuple(chain)))
        return tuple(rules)

    def _group(self, name: str) -> str:
        """Relations and their inverses form one node of the dependency graph."""
        inv = self._relations[name].inverse
        return min(name, inv) if inv else name

    def _stratify(self, strict: bool) -> tuple[tuple[Rule, ...], ...]:
        # Rules are evaluated in dependency order: a rule runs after every rule that derives
        # one of the relations of its chain. Cycles would make derived facts depend on
        # themselves, so they are refused.
        deps: dict[str, set[str]] = {}
        for rule in self._rules:
            head = self._group(rule.relation)
            deps.setdefault(head, set()).update(self._group(s) for s in rule.chain)
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> None:
            mark = state.get(node, 0)
            if mark == 2:
                return
            if mark == 1:
                cycle = " -> ".join([*path[path.index(node) :], node])
                raise SchemaError(f"composition rules form a cycle: {cycle}")
            state[node] = 1
            for dep in sorted(deps.get(node, ())):
                if dep in deps:
                    visit(dep, [*path, node])
            state[node] = 2
            order.append(node)

        for node in sorted(deps):
            visit(node, [])
        rank = {node: i for i, node in enumerate(order)}
        strata: dict[int, list[Rule]] = {}
        for rule in self._rules:
            strata.setdefault(rank[self._group(rule.relation)], []).append(rule)
        return tuple(tuple(strata[i]) for i in sorted(strata))

    @classmethod
    def from_relations(cls, relations: Iterable[Relation | Mapping[str, Any]], **kw: Any) -> Schema:
        rels = [r if isinstance(r, Relation) else Relation.model_validate(r) for r in relations]
        return cls(rels, **kw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | list[Any]) -> Schema:
        """Build from a parsed schema document: knowsync's format or OneEdit's list.

        Raises:
            SchemaError: the document is malformed or inconsistent.
        """
        if isinstance(data, list):
            return cls.from_oneedit(data)
        try:
            parsed = SchemaFile.model_validate(data)
        except ValidationError as exc:
            raise SchemaError(f"invalid schema: {_first_error(exc)}") from None
        return cls(parsed.relations, entity_keys=parsed.entity_keys)

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Load a schema file (.json, .yaml or .yml; OneEdit's list format is detected).

        Raises:
            SchemaError: the file is missing, unreadable, malformed or inconsistent.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {p}: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise SchemaError(
                f"schema file {p} is not valid {p.suffix[1:] or 'JSON'}: {exc}"
            ) from None
        if data is None:
            raise SchemaError(f"schema file {p} is empty")
        return cls.from_dict(data)

    @classmethod
    def from_oneedit(cls, entries: list[Any]) -> Schema:
        """Import OneEdit's ``relationship_library.json`` as is.

        Entries are ``{"name", "type", "reverse", "multihop"}``; an empty type means many2many,
        ``multihop`` is a Python-literal list such as ``"['president','wife']"``. Entries that
        cannot be used (invalid names such as ``<answer>``) are skipped with a warning.
        """
        relations: list[Relation] = []
        skipped: list[str] = []
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "name" not in entry:
                raise SchemaError(f"OneEdit relation library entry {i} has no 'name'")
            raw_name = str(entry["name"])
            try:
                name = check_relation_name(raw_name).replace(" ", "_")
            except InputError as exc:
                skipped.append(f"skipped relation {raw_name!r}: {exc}")
                continue
            if name in seen:
                skipped.append(f"skipped duplicate relation {raw_name!r}")
                continue
            seen.add(name)
            card = str(entry.get("type") or "many2many")
            try:
                cardinality = Cardinality(card)
            except ValueError:
                raise SchemaError(f"relation {raw_name!r} has unknown type {card!r}") from None
            reverse = str(entry.get("reverse") or "").strip().replace(" ", "_") or None
            compose: tuple[tuple[str, ...], ...] = ()
            multihop = entry.get("multihop") or ""
            if multihop:
                try:
                    chain = ast.literal_eval(multihop) if isinstance(multihop, str) else multihop
                except (ValueError, SyntaxError):
                    raise SchemaError(
                        f"relation {raw_name!r}: cannot read multihop {multihop!r}"
                    ) from None
                compose = (tuple(str(s).replace(" ", "_") for s in chain),)
            aliases = (raw_name,) if raw_name != name else ()
            relations.append(
                Relation(
                    name=name,
                    aliases=aliases,
                    cardinality=cardinality,
                    inverse=reverse,
                    compose=compose,
                )
            )
        schema = cls(relations, strict=False)
        schema.warnings[:0] = skipped
        return schema

    # ----------------------------------------------------------------------- lookup

    @property
    def relations(self) -> tuple[Relation, ...]:
        return tuple(self._relations.values())

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    @property
    def strata(self) -> tuple[tuple[Rule, ...], ...]:
        """Composition rules grouped in the order they must be evaluated."""
        return self._strata

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and relation_key(name) in self._by_key

    def __len__(self) -> int:
        return len(self._relations)

    def find(self, name: str) -> Relation | None:
        """The relation named by a name or surface form, or None."""
        canonical = self._by_key.get(relation_key(name))
        return self._relations[canonical] if canonical else None

    def get(self, name: str) -> Relation:
        """The relation with this canonical name (no alias lookup).

        Raises:
            UnknownRelationError: no relation has that name.
        """
        try:
            return self._relations[name]
        except KeyError:
            raise UnknownRelationError(name, self.suggest(name)) from None

    def resolve(self, name: str) -> Relation:
        """The relation a name or surface form refers to.

        Raises:
            InputError: the name is malformed.
            UnknownRelationError: the schema does not know it (with suggestions).
        """
        check_relation_name(name)
        rel = self.find(name)
        if rel is None:
            raise UnknownRelationError(name.strip(), self.suggest(name))
        return rel

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """The closest known relation names to ``name``, best first."""
        key = relation_key(name)
        matches = difflib.get_close_matches(key, list(self._by_key), n=limit * 3, cutoff=0.5)
        out: list[str] = []
        for match in matches:
            canonical = self._by_key[match]
            if canonical not in out:
                out.append(canonical)
        return out[:limit]

    def functional(self, relation: str) -> bool:
        """A subject has at most one object (counting the inverse's constraint)."""
        return self.slot_flags(relation)[0]

    def inverse_functional(self, relation: str) -> bool:
        """An object has at most one subject (counting the inverse's constraint)."""
        return self.slot_flags(relation)[1]

    def slot_flags(self, relation: str) -> tuple[bool, bool]:
        """(functional, inverse_functional) of a relation in one lookup (a hot path); a
        relation the schema no longer defines constrains nothing."""
        return self._flags.get(relation, (False, False))

    def inverse(self, relation: str) -> str | None:
        rel = self._relations.get(relation)
        return rel.inverse if rel is not None else None

    def rules_for(self, relation: str) -> tuple[Rule, ...]:
        return tuple(r for r in self._rules if r.relation == relation)

    def composed(self, relation: str) -> bool:
        """Whether some rule derives this relation."""
        return any(r.relation == relation for r in self._rules)

    # ------------------------------------------------------------------- evolution

    def with_relation(self, relation: Relation) -> Schema:
        """A new schema with ``relation`` added or replaced.

        Raises:
            SchemaError: the result would be inconsistent.
        """
        rels = dict(self._relations)
        rels[relation.name] = relation
        return Schema(rels.values(), entity_keys=self.entity_keys)

    def merged(self, other: Schema) -> Schema:
        """A new schema with ``other``'s relations added; ``other`` wins where both define one.

        Raises:
            SchemaError: the result would be inconsistent.
        """
        rels = dict(self._relations)
        rels.update({r.name: r for r in other.relations})
        return Schema(rels.values(), entity_keys=other.entity_keys)

    def to_dict(self) -> dict[str, Any]:
        return SchemaFile(
            entity_keys=self.entity_keys, relations=list(self._relations.values())
        ).model_dump(mode="json", exclude_defaults=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


class SchemaCache:
    """The parsed schema of one store, reparsed only when the stored text changes (a store
    reads its schema in every transaction; another process may have changed it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[str, Schema] | None = None

    def parse(self, text: str) -> Schema:
        """The schema that ``text`` (a stored schema document) describes.

        Raises:
            SchemaError: the text is not a valid schema.
        """
        with self._lock:
            if self._entry is not None and self._entry[0] == text:
                return self._entry[1]
        try:
            schema = Schema.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SchemaError(f"the stored schema is not valid JSON: {exc}") from None
        with self._lock:
            self._entry = (text, schema)
        return schema


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
