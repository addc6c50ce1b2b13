from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from kg import Fact, FactKind, InputError, Triple
from kg._io import (
    MAX_JSONL_LINE,
    BadRow,
    ExportRowCounter,
    Row,
    export_format,
    fact_lines,
    read_rows,
    replacing,
)


def test_csv_quoting_and_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text('head,relation,tail\n"Smith, John",likes,"multi\nline"\nA,likes,B\n')
    rows = list(read_rows(f))
    assert rows[0] == Row(3, "Smith, John", "likes", "multi\nline")
    assert rows[1] == Row(4, "A", "likes", "B")


def test_subject_header_and_format_override(tmp_path: Path) -> None:
    f = tmp_path / "x.data"
    f.write_text("subject,relation,object\nA,likes,B\n")
    assert list(read_rows(f, "csv")) == [Row(2, "A", "likes", "B")]


def test_jsonl_rows(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text('{"subject": "A", "relation": "r", "object": "B", "extra": 1}\n\n"x"\n')
    rows = list(read_rows(f))
    assert rows[0] == Row(1, "A", "r", "B") and isinstance(rows[1], BadRow)
    assert rows[1].line == 3


def test_empty_csv(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("")
    assert list(read_rows(f)) == []


def test_nul_byte_in_csv(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(b"head,relation,tail\nA,li\x00kes,B\nC,likes,D\n")
    rows = list(read_rows(f))
    assert rows[-1] == Row(3, "C", "likes", "D")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        list(read_rows(tmp_path / "nope.csv"))


# ------------------------------------------------------------------------- export


def _facts() -> list[Fact]:
    wife = Triple("Barack, Jr.", "wife", 'Michelle "Mi"\nObama')
    return [
        Fact(wife, edit_id=3, user="alice", created_at="2024-01-01T00:00:00+00:00"),
        Fact(
            Triple(wife.object, "husband", wife.subject),
            FactKind.INVERSE,
            edit_id=3,
            user="alice",
            created_at="2024-01-01T00:00:00+00:00",
            rule="inverse of wife",
            premises=(wife,),
        ),
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("with_provenance", [False, True])
def test_export_lines_read_back_with_their_kinds(
    tmp_path: Path, fmt: str, with_provenance: bool
) -> None:
    f = tmp_path / f"x.{fmt}"
    f.write_text("".join(fact_lines(_facts(), fmt, with_provenance=with_provenance)))
    rows = list(read_rows(f))
    assert [(r.subject, r.relation, r.object, r.kind) for r in rows if isinstance(r, Row)] == [
        (*fact.triple, fact.kind) for fact in _facts()
    ]


def test_export_columns_and_provenance_values(tmp_path: Path) -> None:
    lines = list(fact_lines(_facts(), "csv", with_provenance=True))
    assert lines[0] == "subject,relation,object,kind,edit_id,user,created_at,rule,premises\n"
    records = list(csv.DictReader(io.StringIO("".join(lines))))
    assert records[0]["kind"] == "asserted" and records[0]["rule"] == ""
    assert records[0]["premises"] == "" and records[0]["edit_id"] == "3"
    assert json.loads(records[1]["premises"]) == [_facts()[0].triple.as_list()]
    assert records[1]["rule"] == "inverse of wife" and records[1]["user"] == "alice"
    plain = list(fact_lines(_facts(), "jsonl"))
    assert set(json.loads(plain[0])) == {"subject", "relation", "object", "kind"}
    full = json.loads(list(fact_lines(_facts(), "jsonl", with_provenance=True))[1])
    assert full["premises"] == [_facts()[0].triple.as_list()] and full["edit_id"] == 3
    assert list(fact_lines([], "jsonl")) == []
    assert list(fact_lines([], "csv")) == ["subject,relation,object,kind\n"]


def test_unknown_export_format() -> None:
    with pytest.raises(InputError, match="csv or jsonl") as exc:
        list(fact_lines(_facts(), "xml"))
    assert exc.value.field == "format"
    assert export_format(None, Path("a.JSONL")) == "jsonl" and export_format(None) == "csv"
    with pytest.raises(InputError, match="--format"):
        export_format(None, Path("a.txt"))


def test_kind_column_marks_rows(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text(
        "head,relation,tail,kind\nA,likes,B,\nB,husband,A,inverse\nC,likes,D,Composed\n"
        "E,likes,F,guessed\nG,likes\n"
    )
    rows = list(read_rows(f))
    assert [r.kind for r in rows[:3] if isinstance(r, Row)] == [
        FactKind.ASSERTED,
        FactKind.INVERSE,
        FactKind.COMPOSED,
    ]
    assert isinstance(rows[3], BadRow) and "guessed" in rows[3].reason and rows[3].line == 5
    assert isinstance(rows[4], BadRow) and "expected 4 fields" in rows[4].reason
    j = tmp_path / "x.jsonl"
    j.write_text(
        '{"subject": "A", "relation": "r", "object": "B", "kind": "inverse"}\n'
        '{"subject": "A", "relation": "r", "object": "B", "kind": 3}\n'
    )
    jrows = list(read_rows(j))
    assert isinstance(jrows[0], Row) and jrows[0].kind is FactKind.INVERSE
    assert isinstance(jrows[1], BadRow) and "kind must be one of" in jrows[1].reason


@pytest.mark.parametrize(
    "header", ["head,relation,tail,colour", "head,relation,tail,kind,kind", "kind,head,relation"]
)
def test_unknown_extra_columns_are_refused(tmp_path: Path, header: str) -> None:
    f = tmp_path / "x.csv"
    f.write_text(header + "\n")
    with pytest.raises(InputError, match="first line must be the header"):
        list(read_rows(f))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_row_counter_counts_rows_however_the_bytes_are_cut(fmt: str) -> None:
    data = "".join(fact_lines(_facts() * 3, fmt, with_provenance=True)).encode()
    for size in (1, 2, 7, len(data)):
        counter = ExportRowCounter(fmt)
        for start in range(0, len(data), size):
            counter.feed(data[start : start + size])
        assert counter.rows == 6


def test_replacing_leaves_no_half_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as fh:
        fh.write(b"half")
        raise RuntimeError("broke off")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    with replacing(target) as fh:
        fh.write(b"new")
    assert target.read_text() == "new" and sorted(tmp_path.iterdir()) == [target]
    with pytest.raises(InputError, match="cannot write"), replacing(tmp_path / "no" / "x.csv"):
        pass


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    """What a spreadsheet program writes as "CSV UTF-8": a BOM, then the header."""
    f = tmp_path / "excel.csv"
    f.write_bytes("\ufeffsubject,relation,object\r\nA,likes,Bé\r\n".encode())
    assert list(read_rows(f)) == [Row(2, "A", "likes", "Bé")]
    f = tmp_path / "excel.jsonl"
    f.write_bytes('\ufeff{"subject": "A", "relation": "likes", "object": "B"}\n'.encode())
    assert list(read_rows(f)) == [Row(1, "A", "likes", "B")]


def test_jsonl_lines_too_deep_or_too_long_are_bad_rows(tmp_path: Path) -> None:
    good = '{"subject": "A", "relation": "likes", "object": "B"}\n'
    f = tmp_path / "x.jsonl"
    f.write_text(
        good
        + "[" * 100_000
        + "]" * 100_000
        + "\n"
        + '{"subject": ' * 5000
        + "\n"
        + '{"subject": "A", "relation": "likes", "object": "%s"}\n' % ("x" * MAX_JSONL_LINE)
        + '{"n": %s}\n' % ("9" * 5000)
        + good,
        encoding="utf-8",
    )
    rows = list(read_rows(f))
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0] == Row(1, "A", "likes", "B") and rows[5] == Row(6, "A", "likes", "B")
    bad = rows[1:5]
    assert all(isinstance(b, BadRow) for b in bad)
    reasons = [b.reason for b in bad if isinstance(b, BadRow)]
    assert "nested too deeply" in reasons[0] and "nested too deeply" in reasons[1]
    assert f"longer than {MAX_JSONL_LINE} characters" in reasons[2]
    assert "number too long" in reasons[3]


def test_errors_name_the_file_as_asked(tmp_path: Path) -> None:
    f = tmp_path / "copy.csv"
    f.write_bytes(b"who,what\n")
    with pytest.raises(InputError) as caught:
        list(read_rows(f, name="people.csv"))
    assert str(caught.value).startswith("people.csv: the first line must be")
    assert str(tmp_path) not in str(caught.value)
