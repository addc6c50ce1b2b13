"""Batch files: CSV (``head,relation,tail``, OneEdit's format) and JSONL
(``{"subject", "relation", "object"}``).

Reading is row by row with line numbers; bad rows are reported, not fatal. Writing (an export)
streams facts in the same formats, so that an export imports again: the triple columns come
first, then the fact's ``kind`` (asserted, inverse, composed) and, on request, its provenance.
The importer leaves rows marked derived to the rules, which derive them again from the asserted
rows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kg._errors import InputError
from kg._types import Fact, FactKind

__all__ = [
    "EXPORT_FORMATS",
    "MAX_JSONL_LINE",
    "PROVENANCE_FIELDS",
    "BadRow",
    "ExportRowCounter",
    "Row",
    "detect_format",
    "export_fields",
    "export_format",
    "fact_lines",
    "read_rows",
    "replacing",
]

_CSV_HEADERS = (("head", "relation", "tail"), ("subject", "relation", "object"))
EXPORT_FORMATS = ("csv", "jsonl")
PROVENANCE_FIELDS = ("edit_id", "user", "created_at", "rule", "premises")
"""The columns ``with_provenance`` adds to an export, after ``kind``."""
# Columns a CSV may carry after its triple columns: those an export writes.
_EXTRA_COLUMNS = ("kind", *PROVENANCE_FIELDS)
_KINDS = ", ".join(k.value for k in FactKind)
MAX_JSONL_LINE = 1 << 20
"""The longest JSONL line read as a row, in characters; a longer one is a bad row."""
_LINE_ENDS = ("\n", "\r")


@dataclass(frozen=True, slots=True)
class Row:
    """A good row: its line, its triple, and the kind an export marked it with (asserted
    when the file says nothing)."""

    line: int
    subject: str
    relation: str
    object: str
    kind: FactKind = FactKind.ASSERTED


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


def read_rows(
    path: str | Path, fmt: str | None = None, *, name: str | None = None
) -> Iterator[Row | BadRow]:
    """Rows of a batch file, each good row as :class:`Row`, each bad one as :class:`BadRow`.

    The text is UTF-8, with or without a byte-order mark (what spreadsheet programs write).
    A JSONL line longer than :data:`MAX_JSONL_LINE` characters, or nested too deeply to
    parse, is a bad row.

    Args:
        path: the file.
        fmt: ``csv`` or ``jsonl``; None tells it from the file's suffix.
        name: how errors call the file (an upload's own name, where ``path`` is a temporary
            copy that is nobody's business); the path when None.

    Raises:
        InputError: the file cannot be read, is not UTF-8, or has no usable header.
    """
    p = Path(path)
    shown = str(p) if name is None else name
    kind = detect_format(p, fmt)
    try:
        handle = p.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {shown}: {exc.strerror or exc}", field="file") from None
    with handle:
        try:
            if kind == "csv":
                yield from _csv_rows(handle, shown)
            else:
                yield from _jsonl_rows(handle)
        except UnicodeDecodeError as exc:
            raise InputError(f"{shown} is not UTF-8 text ({exc.reason})", field="file") from None


def _csv_rows(handle: io.TextIOBase, shown: str) -> Iterator[Row | BadRow]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{shown}: line 1: {exc}", field="file", line=1) from None
    names = tuple(h.strip().lower() for h in header)
    extra = names[3:]
    if (
        names[:3] not in _CSV_HEADERS
        or any(n not in _EXTRA_COLUMNS for n in extra)
        or len(set(extra)) != len(extra)
    ):
        raise InputError(
            f"{shown}: the first line must be the header 'head,relation,tail' (or "
            f"'subject,relation,object'), optionally followed by columns of "
            f"{', '.join(_EXTRA_COLUMNS)} (as an export writes them), not {','.join(header)!r}",
            field="file",
            line=1,
        )
    width = len(names)
    kind_at = names.index("kind") if "kind" in names else None
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
        if len(record) != width:
            yield BadRow(line, f"expected {width} fields ({','.join(names)}), found {len(record)}")
            continue
        mark = record[kind_at] if kind_at is not None else None
        kind = _kind(mark)
        if kind is None:
            yield BadRow(line, f"kind must be one of {_KINDS}, not {mark!r}")
            continue
        yield Row(line, record[0], record[1], record[2], kind)


def _jsonl_rows(handle: io.TextIOBase) -> Iterator[Row | BadRow]:
    for line, text in _jsonl_lines(handle):
        if text is None:
            yield BadRow(line, f"longer than {MAX_JSONL_LINE} characters: not a row")
            continue
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadRow(line, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield BadRow(line, "JSON nested too deeply: a row is one flat object")
            continue
        except ValueError:  # a number of more digits than Python converts
            yield BadRow(line, "not valid JSON: a number too long to read")
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
        kind = _kind(data.get("kind"))
        if kind is None:
            yield BadRow(line, f"kind must be one of {_KINDS}, not {data['kind']!r}")
            continue
        yield Row(line, values[0], values[1], values[2], kind)


def _jsonl_lines(handle: io.TextIOBase) -> Iterator[tuple[int, str | None]]:
    """The lines of a JSONL file with their numbers; None in place of a line longer than
    :data:`MAX_JSONL_LINE`, which is skipped without being held in memory."""
    number = 0
    while True:
        text = handle.readline(MAX_JSONL_LINE + 1)
        if not text:
            return
        number += 1
        if len(text) <= MAX_JSONL_LINE or text.endswith(_LINE_ENDS):
            yield number, text
            continue
        while text and not text.endswith(_LINE_ENDS):
            text = handle.readline(MAX_JSONL_LINE)
        yield number, None


def _kind(value: Any) -> FactKind | None:
    """The kind a row is marked with: asserted when unmarked, None when the mark is invalid."""
    if value is None or value == "":
        return FactKind.ASSERTED
    if not isinstance(value, str):
        return None
    try:
        return FactKind(value.strip().lower())
    except ValueError:
        return None


# ------------------------------------------------------------------------- export


def export_format(fmt: str | None, path: Path | None = None) -> str:
    """The format of an export: ``fmt`` when given, else told by the file's suffix, else csv
    (for a stream).

    Raises:
        InputError: ``fmt`` is neither csv nor jsonl, or the suffix tells neither.
    """
    if fmt is not None:
        if not isinstance(fmt, str) or fmt.lower() not in EXPORT_FORMATS:
            raise InputError(
                f"format must be {' or '.join(EXPORT_FORMATS)}, not {fmt!r}", field="format"
            )
        return fmt.lower()
    return "csv" if path is None else detect_format(path)


def export_fields(with_provenance: bool = False) -> tuple[str, ...]:
    """The fields of an export row, in order: the triple, its kind, then the provenance."""
    return (
        "subject",
        "relation",
        "object",
        "kind",
        *(PROVENANCE_FIELDS if with_provenance else ()),
    )


def fact_lines(facts: Iterable[Fact], fmt: str, *, with_provenance: bool = False) -> Iterator[str]:
    """The text of an export, a line at a time: for CSV the header, then one row per fact; for
    JSONL one object per fact. Facts are drawn one at a time, so any number of them streams.

    CSV puts ``premises`` as JSON text (``[["S", "R", "O"], ...]``); empty cells stand for
    none. Each line ends with a newline (LF).

    Raises:
        InputError: an unknown format.
    """
    fmt = export_format(fmt)
    fields = export_fields(with_provenance)
    if fmt == "jsonl":
        for f in facts:
            record = _record(f, with_provenance)
            yield json.dumps(dict(zip(fields, record, strict=True)), ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    yield buffer.getvalue()
    for f in facts:
        buffer.seek(0)
        buffer.truncate()
        record = _record(f, with_provenance)
        if with_provenance:
            premises = record[-1]
            record[-1] = json.dumps(premises, ensure_ascii=False) if premises else ""
        writer.writerow(record)
        yield buffer.getvalue()


def _record(f: Fact, with_provenance: bool) -> list[Any]:
    record: list[Any] = [f.subject, f.relation, f.object, f.kind.value]
    if with_provenance:
        record += [f.edit_id, f.user, f.created_at, f.rule, [p.as_list() for p in f.premises]]
    return record


class ExportRowCounter:
    """Counts the rows of an export as its bytes pass by (a download), the CSV header left
    out. A CSV row ends at a newline outside quotes: a quoted field may hold newlines, and
    neither a quote nor a newline byte occurs inside a multi-byte UTF-8 character.

    Raises:
        InputError: an unknown format.
    """

    def __init__(self, fmt: str) -> None:
        self.fmt = export_format(fmt)
        self._lines = 0
        self._quoted = False

    def feed(self, data: bytes) -> None:
        if self.fmt == "jsonl":
            self._lines += data.count(b"\n")
            return
        for part in data.split(b'"'):
            if not self._quoted:
                self._lines += part.count(b"\n")
            self._quoted = not self._quoted
        self._quoted = not self._quoted  # n parts are separated by n - 1 quotes

    @property
    def rows(self) -> int:
        return self._lines if self.fmt == "jsonl" else max(self._lines - 1, 0)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``path`` when the block ends without an error. It is written
    next to ``path`` under a temporary name; on an error it is removed and ``path`` is left as
    it was, so that a failed export or download leaves no half file.

    Raises:
        InputError: the folder does not exist or cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        handle = tmp.open("xb")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", field="file") from None
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):  # a full disk, a name that is a folder, ...
            raise InputError(f"cannot write {path}: {exc.strerror or exc}", field="file") from None
        raise
