"""``knowsync export``: files and stdout, the format from the suffix, --as-of,
--with-provenance, --json, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from knowsync import KnowSync

from ..conftest import DATASETS
from .test_cli import run


def facts_of(path: Path) -> set[tuple[str, str, str, str]]:
    with KnowSync(str(path), create=False) as ks:
        return {(f.subject, f.relation, f.object, f.kind.value) for f in ks.state()}


def test_export_imports_again(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "import", str(DATASETS / "oneedit" / "kg.csv"))
    out_file = tmp_path / "kb.jsonl"
    code, out, err = run(capsys, "export", str(out_file), "--json")
    summary = json.loads(out)
    assert code == 0 and err == ""
    assert summary == {"path": str(out_file), "format": "jsonl", "rows": len(facts_of(db))}
    assert len(out_file.read_text().splitlines()) == summary["rows"]
    other = tmp_path / "other.db"
    code, out, _ = run(capsys, "import", str(out_file), "--store", str(other), "--json")
    assert code == 0 and json.loads(out)["derived_rows"] > 0
    assert facts_of(other) == facts_of(db)
    code, out, _ = run(capsys, "export", str(tmp_path / "kb.csv"))
    assert code == 0 and out.startswith(f"exported {summary['rows']} facts to ") and "(csv)" in out


def test_export_to_stdout_as_of_with_provenance(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(DATASETS / "oneedit" / "kg.csv"))
    code, out, _ = run(capsys, "edit", "-t", "America|president|Joe Biden", "--json")
    edit_id = json.loads(out)["edit_id"]
    run(capsys, "edit", "-t", "America|president|Donald Trump")
    code, out, err = run(capsys, "export", "-", "--as-of", str(edit_id), "--with-provenance")
    assert code == 0 and err.startswith("exported ") and f"as of edit {edit_id}" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"edit_id", "user", "created_at", "rule", "premises"} <= set(rows[0])
    presidents = {
        r["object"] for r in rows if r["subject"] == "America" and r["relation"] == "president"
    }
    assert presidents == {"Joe_Biden"}
    code, out, err = run(capsys, "export", "-", "--format", "jsonl", "--json")
    assert code == 0 and json.loads(err)["format"] == "jsonl"
    objects = [json.loads(line) for line in out.splitlines()]
    assert {"America", "president", "Donald_Trump"} <= set(
        next(
            o for o in objects if o["relation"] == "president" and o["subject"] == "America"
        ).values()
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "x.txt"], "name it .csv or .jsonl"),
        (["export", "x.csv", "--as-of", "999"], "no edit with id 999"),
        (["export", "x.csv", "--as-of", "0"], "as_of must be an edit id"),
        (["export", "missing/x.csv"], "cannot write"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    run(capsys, "edit", "-t", "France|capital|Paris")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("x", ".x"))]


def test_bad_usage_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "export", "x.csv", "--format", "xml")
    assert exited.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        run(capsys, "export", "x.csv", "--as-of", "ten")
    assert exited.value.code == 2


def test_export_from_a_missing_store_says_so(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", str(tmp_path / "x.csv"))
    assert code == 2 and "no knowledge base" in err and not db.exists()
