from __future__ import annotations

from pathlib import Path

import pytest

from kg import InputError
from kg._io import BadRow, Row, read_rows


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
