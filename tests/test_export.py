"""Export: the facts in force (or as of an edit) as CSV or JSONL, which import again into the same
graph, on every backend."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import knowsync._api
from kg import NotFoundError, StoreError
from knowsync import InputError, KnowSync
from knowsync._resources import demo_kg_files

from .test_import import state

FORMATS = ["csv", "jsonl"]


def grow(ks: KnowSync) -> list[int]:
    """Edits that leave asserted, inverse, composed, superseded and rolled-back facts, with
    names that need quoting. Returns the edit ids."""
    ids = [
        ks.edit([("America", "first_lady", "Jill Biden")]).edit_id,  # asserted, then derivable
        ks.edit(
            [("America", "president", "Joe Biden"), ("Joe Biden", "wife", "Jill Biden")]
        ).edit_id,
        ks.edit(
            [("A", "father", "B"), ("B", "father", "C"), ('Smith, "Jr."', "likes", "a, b")]
        ).edit_id,
        ks.edit([("France", "president", "Macron"), ("Macron", "wife", "Brigitte")]).edit_id,
        ks.edit([("France", "president", "Hollande")]).edit_id,  # supersedes, un-derives
        ks.edit([("B", "child", "D")]).edit_id,
    ]
    ks.rollback(ids[-1])
    return [i for i in ids if i is not None]


def fresh_like(ks: KnowSync) -> KnowSync:
    other = KnowSync("memory://")
    other.load_schema(ks.schema, replace=True)
    return other


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_imports_into_the_same_graph(tmp_path: Path, ks: KnowSync, fmt: str) -> None:
    grow(ks)
    before = state(ks)
    kinds = {k for *_, k in before}
    assert kinds == {"asserted", "inverse", "composed"}
    assert ("America", "first_lady", "Jill Biden", "asserted") in before
    path = tmp_path / f"kb.{fmt}"
    assert ks.export(path) == len(before)
    other = fresh_like(ks)
    report = other.import_file(path)
    assert state(other) == before
    derived = sum(1 for *_, k in before if k != "asserted")
    assert report.derived_rows == derived and report.bad_rows == [] and report.skipped == []
    assert report.rows == len(before) and report.added == len(before) - derived
    other.close()
    # the order of the rows does not matter: an asserted row that a rule derives already
    # turns the derived fact into an asserted one
    lines = path.read_text().splitlines(keepends=True)
    header = lines[:1] if fmt == "csv" else []
    path.write_text("".join(header + lines[len(header) :][::-1]))
    reordered = fresh_like(ks)
    reordered.import_file(path)
    assert state(reordered) == before
    reordered.close()


def test_the_demo_kg_round_trips_into_an_empty_store_of_each_backend(
    tmp_path: Path, ks: KnowSync
) -> None:
    demo = KnowSync("memory://")
    for path in demo_kg_files():
        demo.import_file(path, user="demo")
    before = state(demo)
    for fmt in FORMATS:
        assert demo.export(tmp_path / f"demo.{fmt}", with_provenance=fmt == "csv") == len(before)
    ks.load_schema(demo.schema, replace=True)  # ks is empty: memory or the Bolt server
    ks.import_file(tmp_path / "demo.csv")
    assert state(ks) == before
    assert ks.import_file(tmp_path / "demo.jsonl").added == 0  # the same facts: duplicates
    assert state(ks) == before
    demo.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_as_of_exports_the_state_just_after_that_edit(
    tmp_path: Path, ks: KnowSync, fmt: str
) -> None:
    ids = grow(ks)
    seen = []
    for as_of in (ids[1], ids[3], ids[4], ids[5]):
        then = {(f.subject, f.relation, f.object, f.kind.value) for f in ks.state(as_of=as_of)}
        path = tmp_path / f"then-{as_of}.{fmt}"
        assert ks.export(path, as_of=as_of) == len(then)
        other = fresh_like(ks)
        other.import_file(path)
        assert state(other) == then
        seen.append(then)
        other.close()
    # each state differs from the next; the last edit was rolled back: ids[4]'s state is now's
    assert all(a != b for a, b in itertools.pairwise(seen)) and seen[2] == state(ks)


@pytest.mark.parametrize("fmt", FORMATS)
def test_provenance_columns(ks: KnowSync, fmt: str) -> None:
    ids = grow(ks)
    out = io.StringIO()
    n = ks.export(out, format=fmt, with_provenance=True)
    text = out.getvalue()
    rows: list[dict[str, Any]]
    if fmt == "csv":  # CSV cells are text: the premises JSON, the edit id digits
        rows = [
            {**r, "edit_id": int(r["edit_id"]), "premises": json.loads(r["premises"] or "[]")}
            for r in csv.DictReader(io.StringIO(text))
        ]
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == n and list(rows[0]) == [
        "subject",
        "relation",
        "object",
        "kind",
        "edit_id",
        "user",
        "created_at",
        "rule",
        "premises",
    ]
    by_triple = {(r["subject"], r["relation"], r["object"]): r for r in rows}
    husband = by_triple[("Jill Biden", "husband", "Joe Biden")]
    assert husband["kind"] == "inverse" and husband["edit_id"] == ids[1]
    assert husband["premises"] == [["Joe Biden", "wife", "Jill Biden"]]
    assert husband["rule"] and husband["user"] and husband["created_at"]
    grandpa = by_triple[("A", "grandfather", "C")]
    assert grandpa["kind"] == "composed" and sorted(grandpa["premises"]) == [
        ["A", "father", "B"],
        ["B", "father", "C"],
    ]
    plain = io.StringIO()
    ks.export(plain, format=fmt)
    first = plain.getvalue().splitlines()[0]
    assert "edit_id" not in first


def test_bad_arguments_say_what_to_fix(tmp_path: Path, ks: KnowSync) -> None:
    ids = grow(ks)
    with pytest.raises(InputError, match="csv or jsonl") as bad:
        ks.export(tmp_path / "x.csv", format="xml")
    assert bad.value.field == "format"
    with pytest.raises(InputError, match=r"name it \.csv or \.jsonl"):
        ks.export(tmp_path / "x.txt")
    with pytest.raises(NotFoundError, match="no edit with id"):
        ks.export(tmp_path / "x.csv", as_of=ids[-1] + 100)
    with pytest.raises(InputError, match="as_of must be an edit id"):
        ks.export(tmp_path / "x.csv", as_of=0)
    with pytest.raises(InputError, match="cannot write"):
        ks.export(tmp_path / "missing" / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_no_half_file(
    tmp_path: Path, ks: KnowSync, monkeypatch: pytest.MonkeyPatch
) -> None:
    ks.edit([("A", "likes", "B"), ("C", "likes", "D")])
    target = tmp_path / "kb.csv"
    target.write_text("the last good export\n")
    real = knowsync._api.fact_lines

    def broken(*args: Any, **kwargs: Any) -> Iterator[str]:
        yield from itertools.islice(real(*args, **kwargs), 2)
        raise StoreError("the connection was lost")

    monkeypatch.setattr(knowsync._api, "fact_lines", broken)
    with pytest.raises(StoreError):
        ks.export(target)
    assert target.read_text() == "the last good export\n"
    assert list(tmp_path.iterdir()) == [target]


def test_an_empty_graph_exports_a_header_only() -> None:
    ks = KnowSync("memory://")
    out = io.StringIO()
    assert ks.export(out) == 0 and out.getvalue() == "subject,relation,object,kind\n"
    ks.close()
