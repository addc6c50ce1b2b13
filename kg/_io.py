"""Reading batch files: CSV (``head,relation,tail``, OneEdit's format) and JSONL
(``{"subject", "relation", "object"}``), row by row with line numbers; bad rows are reported,
not fatal."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kg._errors import InputError

__all__ = ["BadRow", "Row", "detect_format", "read_rows"]

_CSV_HEADERS = (("head", "relation", "tail"), ("subject", "relation", "object"))


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    subject: str
    relation: str
    object: str


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``csv`` or ``jsonl``, from ``fmt`` or the file's suffix.

    Raises:
        InputError: the format cannot be told or is not supported.
    """
    if fmt:
        fmt = fmt.lower()
    else:
        suffix = path.suffix.lower()
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt not in ("csv", "jsonl"):
        raise InputError(
            f"cannot tell the format of {path.name}; name it .csv or .jsonl, or pass --format",
            field="format",
        )
    return fmt


def read_rows(path: str | Path, fmt: str | None = None) -> Iterator[Row | BadRow]:
    """Rows of a batch file, each good row as :class:`Row`, each bad one as :class:`BadRow`.

    Raises:
        InputError: the file cannot be read, is not UTF-8, or has no usable header.
    """
    p = Path(path)
    kind = detect_format(p, fmt)
    try:
        handle = p.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}", field="file") from None
    with handle:
        try:
            if kind == "csv":
                yield from _csv_rows(handle, p)
            else:
                yield from _jsonl_rows(handle)
        except UnicodeDecodeError as exc:
            raise InputError(f"{p} is not UTF-8 text ({exc.reason})", field="file") from None


def _csv_rows(handle: io.TextIOBase, path: Path) -> Iterator[Row | BadRow]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: {exc}", field="file", line=1) from None
    names = tuple(h.strip().lower() for h in header)
    if names not in _CSV_HEADERS:
        raise InputError(
            f"{path}: the first line must be the header 'head,relation,tail' (or "
            f"'subject,relation,object'), not {','.join(header)!r}",
            field="file",
            line=1,
        )
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(reader.line_num, f"malformed CSV: {exc}")
            continue
        line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) != 3:
            yield BadRow(line, f"expected 3 fields (head,relation,tail), found {len(record)}")
            continue
        yield Row(line, record[0], record[1], record[2])


def _jsonl_rows(handle: io.TextIOBase) -> Iterator[Row | BadRow]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadRow(line, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield BadRow(line, "expected a JSON object with subject, relation and object")
            continue
        missing = [k for k in ("subject", "relation", "object") if k not in data]
        if missing:
            yield BadRow(line, f"missing {', '.join(missing)}")
            continue
        values = [data["subject"], data["relation"], data["object"]]
        if not all(isinstance(v, str) for v in values):
            yield BadRow(line, "subject, relation and object must be strings")
            continue
        yield Row(line, values[0], values[1], values[2])
