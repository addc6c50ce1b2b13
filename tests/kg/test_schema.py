"""The relation library: formats, consistency repairs, suggestions, rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg import Cardinality, InputError, Relation, Schema, SchemaError, UnknownRelationError

from ..conftest import DATASETS, SHARED_DATA


def test_oneedit_library_imports_as_is_with_warnings() -> None:
    path = DATASETS / "oneedit" / "relationship_library.json"
    schema = Schema.load(path)
    assert len(schema) >= 72
    assert schema.find("paternal grandfather").name == "paternal_grandfather"
    assert schema.rules_for("first_lady")[0].chain == ("president", "wife")
    warnings = " ".join(schema.warnings)
    assert "<answer>" in warnings and "grandson" in warnings and "child" in warnings


@pytest.mark.skipif(not (SHARED_DATA / "oneedit").exists(), reason="shared data absent")
def test_bundled_copy_matches_the_shared_source() -> None:
    for name in ("kg.csv", "kg2.csv", "relationship_library.json"):
        assert (DATASETS / "oneedit" / name).read_bytes() == (
            SHARED_DATA / "oneedit" / name
        ).read_bytes()


def test_cleaned_schema_loads_strictly_and_fixes_cardinalities() -> None:
    schema = Schema.load(DATASETS / "oneedit" / "schema.json")
    assert schema.warnings == []
    assert schema.get("father").cardinality is Cardinality.MANY2ONE
    assert schema.get("child").cardinality is Cardinality.MANY2MANY
    assert schema.find("children").name == "child"
    assert schema.find("birthplace").name == "born_in"
    assert all(r.cloze for r in schema.relations)


def test_every_demo_kg_relation_is_known_to_the_cleaned_schema() -> None:
    schema = Schema.load(DATASETS / "oneedit" / "schema.json")
    for name in ("kg.csv", "kg2.csv"):
        for line in (DATASETS / "oneedit" / name).read_text().splitlines()[1:]:
            if line.strip():
                assert schema.find(line.split(",")[1]) is not None, line


def test_relation_keys_and_surface_forms(small_schema: Schema) -> None:
    assert small_schema.resolve("Married To").name == "wife"
    assert small_schema.resolve("married-to").name == "wife"
    assert "first lady" in small_schema
    with pytest.raises(UnknownRelationError) as info:
        small_schema.resolve("presidnet")
    assert info.value.suggestions[0] == "president"
    with pytest.raises(InputError):
        small_schema.resolve("bad|name")


def test_inverse_completion_and_mirrored_cardinality() -> None:
    schema = Schema.from_relations(
        [{"name": "located_in", "cardinality": "many2one", "inverse": "contains"}]
    )
    assert schema.get("contains").cardinality is Cardinality.ONE2MANY
    assert schema.inverse("contains") == "located_in"
    assert schema.functional("located_in") and schema.inverse_functional("contains")


def test_inconsistent_cardinalities_are_merged_with_a_warning() -> None:
    schema = Schema.from_relations(
        [
            {"name": "a", "cardinality": "one2many", "inverse": "b"},
            {"name": "b", "cardinality": "one2many", "inverse": "a"},
        ]
    )
    assert schema.functional("a") and schema.inverse_functional("a")
    assert any("treated as" in w for w in schema.warnings)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"relations": [{"name": "x", "compose": [["y", "z"]]}]}, "undefined relation 'y'"),
        ({"relations": [{"name": "x", "compose": [["x", "x"]]}]}, "cycle"),
        (
            {
                "relations": [
                    {"name": "a", "compose": [["b", "c"]]},
                    {"name": "b", "compose": [["a", "c"]]},
                    {"name": "c"},
                ]
            },
            "cycle",
        ),
        ({"relations": [{"name": "x"}, {"name": "x"}]}, "defined twice"),
        ({"relations": [{"name": "x", "aliases": ["y"]}, {"name": "y"}]}, "names both"),
        ({"relations": [{"name": "x", "cardinality": "some2some"}]}, "cardinality"),
        ({"relations": [{"name": "x", "colour": "red"}]}, "colour"),
        ({"relations": [{"name": "x", "cloze": ["no placeholder"]}]}, "{subject}"),
        ({"relations": [{"name": 'a"b'}]}, "letters"),
        (
            {
                "relations": [
                    {"name": "a", "inverse": "b"},
                    {"name": "b", "inverse": "c"},
                    {"name": "c"},
                ]
            },
            "inverse",
        ),
    ],
)
def test_malformed_schemas_are_refused(doc: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SchemaError, match=message):
        Schema.from_dict(doc)


def test_files(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("relations:\n  - name: anthem\n    cardinality: many2one\n")
    assert Schema.load(tmp_path / "s.yaml").get("anthem").cardinality is Cardinality.MANY2ONE
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(SchemaError, match="not valid"):
        Schema.load(tmp_path / "broken.json")
    with pytest.raises(SchemaError, match="cannot read"):
        Schema.load(tmp_path / "missing.json")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(SchemaError, match="empty"):
        Schema.load(tmp_path / "empty.yaml")


def test_round_trip_and_merge(small_schema: Schema) -> None:
    again = Schema.from_dict(json.loads(small_schema.to_json()))
    assert again.to_dict() == small_schema.to_dict()
    merged = small_schema.merged(
        Schema.from_relations([Relation(name="likes", cardinality="many2one")])
    )
    assert merged.get("likes").cardinality is Cardinality.MANY2ONE
    assert merged.get("wife").inverse == "husband"


def test_strata_order_rules_after_their_premises() -> None:
    schema = Schema.from_relations(
        [
            {"name": "father", "cardinality": "many2one"},
            {"name": "grandfather", "cardinality": "many2one", "compose": [["father", "father"]]},
            {
                "name": "great_grandfather",
                "cardinality": "many2one",
                "compose": [["grandfather", "father"]],
            },
        ]
    )
    order = [rule.relation for stratum in schema.strata for rule in stratum]
    assert order.index("grandfather") < order.index("great_grandfather")


def test_cloze_default(small_schema: Schema) -> None:
    assert small_schema.get("capital").cloze_templates() == ("The capital of {subject} is",)
    assert small_schema.get("first_lady").cloze_templates() == ("The first lady of {subject} is",)
