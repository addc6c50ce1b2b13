"""Batch import: formats, idempotence, conflict policies, bad rows, undo of a failed import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowsync import InputError, KnowSync

from .conftest import DATASETS


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def state(ks: KnowSync) -> set[tuple[str, str, str, str]]:
    return {(f.subject, f.relation, f.object, f.kind.value) for f in ks.state()}


def test_demo_kg_imports_and_is_idempotent(tmp_path: Path) -> None:
    ks = KnowSync(str(tmp_path / "kb.db"))
    first = ks.import_file(DATASETS / "oneedit" / "kg.csv")
    assert first.rows == 156 and first.bad_rows == [] and first.failed is None
    # 'Joe Biden' and 'Joe_Biden' are one entity; Barack's wife and spouse are both kept
    assert first.added > 140 and first.duplicates >= 1
    before = state(ks)
    second = ks.import_file(DATASETS / "oneedit" / "kg.csv")
    assert second.added == 0 and second.derived == 0 and second.superseded == 0
    assert second.duplicates + len(second.skipped) == second.rows
    assert state(ks) == before
    assert ks.facts("joe biden")[0].subject == "Joe_Biden"
    ks.close()


def test_jsonl_and_csv_give_the_same_graph(tmp_path: Path, ks: KnowSync) -> None:
    rows = [("A", "likes", "B"), ("B", "father", "C"), ("C", "father", "D")]
    csv_file = write(
        tmp_path / "x.csv", "head,relation,tail\n" + "".join(f"{s},{r},{o}\n" for s, r, o in rows)
    )
    jsonl = write(
        tmp_path / "x.jsonl",
        "".join(json.dumps({"subject": s, "relation": r, "object": o}) + "\n" for s, r, o in rows),
    )
    ks.import_file(csv_file)
    a = state(ks)
    other = KnowSync("memory://")
    other.load_schema(ks.schema, replace=True)
    other.import_file(jsonl)
    assert state(other) == a and ("B", "grandfather", "D", "composed") in a
    assert ("A", "likes", "B", "asserted") in a


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_land(
    tmp_path: Path, ks: KnowSync
) -> None:
    f = write(
        tmp_path / "bad.csv",
        "head,relation,tail\n"
        "A,likes,B\n"  # 2 good
        "A,likes\n"  # 3 too few fields
        ",likes,B\n"  # 4 empty subject
        "A,capitol,B\n"  # 5 unknown relation
        "A,li|kes,B\n"  # 6 bad relation
        "\n"  # 7 blank: ignored
        "C,likes,D,E\n"  # 8 too many
        "E,likes,F\n",
    )  # 9 good
    report = ks.import_file(f)
    lines = {b["line"]: b["reason"] for b in report.bad_rows}
    assert set(lines) == {3, 4, 5, 6, 8}
    assert "capital" in lines[5] and "empty" in lines[4]
    assert report.added == 2
    assert state(ks) == {("A", "likes", "B", "asserted"), ("E", "likes", "F", "asserted")}


def test_malformed_jsonl(tmp_path: Path, ks: KnowSync) -> None:
    f = write(
        tmp_path / "x.jsonl",
        '{"subject": "A", "relation": "likes", "object": "B"}\n'
        '{"subject": "A", "relation": "likes"\n'
        "[1, 2, 3]\n"
        '{"subject": "A", "relation": "likes", "object": 5}\n'
        '{"subject": "A", "relation": "likes"}\n',
    )
    report = ks.import_file(f)
    assert [b["line"] for b in report.bad_rows] == [2, 3, 4, 5]
    assert report.added == 1


def test_unreadable_files(tmp_path: Path, ks: KnowSync) -> None:
    with pytest.raises(InputError, match="cannot read"):
        ks.import_file(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="header"):
        ks.import_file(write(tmp_path / "h.csv", "a,b,c\nA,likes,B\n"))
    with pytest.raises(InputError, match="format"):
        ks.import_file(write(tmp_path / "x.txt", "A,likes,B\n"))
    (tmp_path / "latin.csv").write_bytes(b"head,relation,tail\n\xe9,likes,B\n")
    with pytest.raises(InputError, match="UTF-8"):
        ks.import_file(tmp_path / "latin.csv")
    assert ks.state() == []


CONFLICTING = "head,relation,tail\nFrance,capital,Lyon\nSpain,capital,Madrid\n"


@pytest.mark.parametrize("chunk_size", [1, 2, 100])
def test_policy_skip_keeps_existing(tmp_path: Path, ks: KnowSync, chunk_size: int) -> None:
    ks.edit([("France", "capital", "Paris")])
    report = ks.import_file(
        write(tmp_path / "c.csv", CONFLICTING), policy="skip", chunk_size=chunk_size
    )
    assert [s["line"] for s in report.skipped] == [2]
    assert ("France", "capital", "Paris", "asserted") in state(ks)
    assert ("Spain", "capital", "Madrid", "asserted") in state(ks)


def test_policy_overwrite_supersedes(tmp_path: Path, ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Paris")])
    report = ks.import_file(write(tmp_path / "c.csv", CONFLICTING), policy="overwrite")
    assert report.superseded == 1 and report.skipped == []
    assert ("France", "capital", "Lyon", "asserted") in state(ks)


@pytest.mark.parametrize("chunk_size", [1, 100])
def test_policy_fail_leaves_nothing_of_the_import(
    tmp_path: Path, ks: KnowSync, chunk_size: int
) -> None:
    ks.edit([("France", "capital", "Paris")])
    before = state(ks)
    f = write(
        tmp_path / "c.csv",
        "head,relation,tail\nItaly,capital,Rome\nFrance,capital,Lyon\nSpain,capital,Madrid\n",
    )
    report = ks.import_file(f, policy="fail", chunk_size=chunk_size)
    assert report.failed and "row 3" in report.failed
    assert state(ks) == before


def test_rows_inside_one_file_apply_in_order(tmp_path: Path, ks: KnowSync) -> None:
    f = write(
        tmp_path / "c.csv",
        "head,relation,tail\nFrance,capital,Lyon\nFrance,capital,Paris\nFrance,capital,Paris\n",
    )
    report = ks.import_file(f, policy="overwrite")
    assert state(ks) == {("France", "capital", "Paris", "asserted")}
    assert report.duplicates == 1
    ks2 = KnowSync("memory://")
    ks2.load_schema(ks.schema, replace=True)
    report = ks2.import_file(f, policy="skip")
    assert state(ks2) == {("France", "capital", "Lyon", "asserted")}
    assert [s["line"] for s in report.skipped] == [3, 4]


def test_import_derives_facts(tmp_path: Path, ks: KnowSync) -> None:
    f = write(
        tmp_path / "c.csv",
        "head,relation,tail\nC,father,B\nB,father,A\nUSA,president,Joe\nJoe,wife,Jill\n",
    )
    report = ks.import_file(f, chunk_size=1)
    s = state(ks)
    assert ("C", "grandfather", "A", "composed") in s
    assert ("USA", "first_lady", "Jill", "composed") in s
    assert ("Jill", "husband", "Joe", "inverse") in s
    assert report.derived == 3  # two composed facts and one inverse row


def test_import_batch_rollback(tmp_path: Path, ks: KnowSync) -> None:
    ks.edit([("X", "likes", "Y")])
    before = state(ks)
    f = write(tmp_path / "c.csv", "head,relation,tail\nA,likes,B\nC,likes,D\nE,likes,F\n")
    report = ks.import_file(f, chunk_size=1)
    assert len(report.edits) == 3
    ks.rollback_batch(report.batch)
    assert state(ks) == before


def test_unknown_relations_allowed_on_request(tmp_path: Path, ks: KnowSync) -> None:
    f = write(tmp_path / "c.csv", "head,relation,tail\nA,plays_for,B\n")
    report = ks.import_file(f)
    assert report.added == 0 and "plays_for" in report.bad_rows[0]["reason"]
    report = ks.import_file(f, allow_new_relations=True)
    assert report.added == 1 and "plays_for" in ks.schema


def test_progress_callback(tmp_path: Path, ks: KnowSync) -> None:
    f = write(
        tmp_path / "c.csv",
        "head,relation,tail\n" + "".join(f"E{i},likes,F{i}\n" for i in range(25)),
    )
    seen: list[int] = []
    ks.import_file(f, chunk_size=10, progress=seen.append)
    assert seen == [10, 20, 25]


def test_a_csv_saved_by_a_spreadsheet_imports(tmp_path: Path, ks: KnowSync) -> None:
    f = tmp_path / "excel.csv"
    f.write_bytes("\ufeffhead,relation,tail\r\nA,likes,B\r\n".encode())
    report = ks.import_file(f)
    assert report.added == 1 and report.bad_rows == []


def test_cli_import_of_jsonl_nested_too_deeply_reports_a_bad_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``knowsync import deep.jsonl``: the line nested 100,000 deep is a bad row with its
    number; the good rows land and the command ends normally."""
    from ui.cli import main

    monkeypatch.setenv("KNOWSYNC_STORE", str(tmp_path / "kb.db"))
    good = json.dumps({"subject": "A", "relation": "influences", "object": "B"})
    f = write(tmp_path / "deep.jsonl", f"{good}\n{'[' * 100_000}{']' * 100_000}\n")
    code = main(["import", str(f), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["added"] == 1 and [b["line"] for b in report["bad_rows"]] == [2]
    assert "nested too deeply" in report["bad_rows"][0]["reason"]
    assert "Traceback" not in err
