"""``knowsync export FILE``: the facts in force (or as of an edit) as CSV or JSONL, from the local
store or, with ``--server``, from a server. The file imports again with ``knowsync import``.

Registered through ``ui.cli._EXTENSIONS``::

    knowsync export facts.csv                    # the format from the suffix
    knowsync export - --format jsonl | head      # to stdout
    knowsync export then.csv --as-of 42 --with-provenance
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kg._io import EXPORT_FORMATS, export_format

__all__ = ["register"]

_STDOUT = "-"


def register(
    sub: Any, common: argparse.ArgumentParser
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the ``export`` command to the CLI's subparsers; returns its handler."""
    s = sub.add_parser(
        "export",
        parents=[common],
        help="write the facts in force (or as of an edit) to a CSV or JSONL file",
        description="Write every fact in force, or in force just after edit --as-of, one row "
        "per fact: subject, relation, object and kind (asserted, inverse, composed). `knowsync "
        "import` reads the file back; it leaves the derived rows to the rules, which derive "
        "them again.",
    )
    s.add_argument(
        "file", metavar="FILE", help="the file to write (.csv or .jsonl), or - for stdout"
    )
    s.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="csv or jsonl (default: from FILE's suffix; csv for stdout)",
    )
    s.add_argument("--as-of", type=int, metavar="EDIT", help="the state just after this edit")
    s.add_argument(
        "--with-provenance",
        action="store_true",
        help="add the columns edit_id, user, created_at, rule and premises",
    )
    return {"export": _cmd_export}


def _cmd_export(args: argparse.Namespace) -> int:
    from ui.cli import EXIT_OK, _emit, _kb

    to_stdout = args.file == _STDOUT
    fmt = export_format(args.format, None if to_stdout else Path(args.file))
    with _kb(args, create=False) as kb:
        rows = kb.export(
            sys.stdout if to_stdout else Path(args.file),
            format=fmt,
            as_of=args.as_of,
            with_provenance=args.with_provenance,
        )
    summary = {"path": args.file, "format": fmt, "rows": rows}
    when = f" as of edit {args.as_of}" if args.as_of is not None else ""
    text = f"exported {rows} facts{when} to {'stdout' if to_stdout else args.file} ({fmt})"
    if to_stdout:  # stdout carries the export itself: the summary goes to stderr
        sys.stdout.flush()
        print(json.dumps(summary) if args.json else text, file=sys.stderr)
    else:
        _emit(args, summary, text)
    return EXIT_OK
