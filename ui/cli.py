"""The ``knowsync`` command line: a thin layer over ``knowsync.KnowSync``, or over a server
through ``knowsync.Client`` when ``--server URL --token T`` (or ``$KNOWSYNC_SERVER`` and
``$KNOWSYNC_TOKEN``) are given: edit, submit, ask, import, facts, history, show, rollback,
neighbourhood, path, stats, schema (show) and the lock commands work both ways.

Exit codes: 0 success (an edit applied, or queued for a curator's review), 1 an edit, sentence
or rollback the rules refused (or a sentence that needs clarification), 2 bad usage or input
(with a one-line error on stderr that says what to fix).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kg import (
    ConflictPolicy,
    EditRecord,
    EditRefused,
    Fact,
    InputError,
    KnowsyncError,
    Lock,
    RollbackRefused,
    Schema,
    UnknownRelationError,
)
from knowsync import ImportReport, KnowSync, local_user
from knowsync._resources import demo_kg_files
from knowsync._session import KnowledgeBase, Session

if TYPE_CHECKING:
    from knowsync.client import Client

__all__ = ["main"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"knowsync: error: {message}\n")


def _triple(text: str) -> tuple[str, str, str]:
    parts = text.split("|")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write a triple as SUBJECT|RELATION|OBJECT (exactly two '|')"
        )
    return parts[0], parts[1], parts[2]


def _parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the command; SUPPRESS keeps a subcommand's
    # unset option from overwriting one given before it (see _DEFAULTS).
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--store",
        help="store URL: sqlite:///path/kb.db (relative), "
        "sqlite:////abs/kb.db, a plain path, or memory:// "
        "(default: $KNOWSYNC_STORE or the per-user data folder)",
    )
    common.add_argument(
        "--schema",
        type=Path,
        help="relation library (JSON/YAML, or OneEdit's "
        "relationship_library.json) merged into the store's schema",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    common.add_argument("--user", help="who makes the change (default: $KNOWSYNC_USER or 'cli')")
    common.add_argument(
        "--server",
        metavar="URL",
        help="run against a knowsync server instead of a local store "
        "(default: $KNOWSYNC_SERVER); the token's account is the user",
    )
    common.add_argument(
        "--token", metavar="T", help="API token for --server (default: $KNOWSYNC_TOKEN)"
    )

    p = _Parser(
        prog="knowsync",
        description="Curate a knowledge graph kept in agreement with a language model.",
        parents=[common],
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("demo", parents=[common], help="import the bundled demo KG and show it")
    s.add_argument("--entity", default="America", help="entity to show (default: America)")
    s.add_argument(
        "--if-empty",
        action="store_true",
        help="import only into a store that holds no facts yet (what `make run` does)",
    )

    s = sub.add_parser("import", parents=[common], help="import a CSV or JSONL file")
    s.add_argument("file", type=Path)
    s.add_argument("--format", choices=["csv", "jsonl"])
    s.add_argument(
        "--policy",
        choices=[p.value for p in ConflictPolicy],
        default="skip",
        help="a row that contradicts a fact in force: skip it (default), overwrite "
        "the fact, or fail the whole import",
    )
    s.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="rows per transaction or request (default 5000 locally, 1000 to a server)",
    )
    s.add_argument("--allow-new-relations", action="store_true")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument(
        "--checkpoint",
        type=Path,
        help="with --server: where the resumable progress is kept "
        "(default FILE.knowsync-import.json); rerun the same command to resume",
    )

    s = sub.add_parser("edit", parents=[common], help="assert or retract triples as one edit")
    s.add_argument(
        "--triple",
        "-t",
        action="append",
        type=_triple,
        default=[],
        metavar="S|R|O",
        help="a triple to assert (repeatable)",
    )
    s.add_argument(
        "--retract",
        "-r",
        action="append",
        type=_triple,
        default=[],
        metavar="S|R|O",
        help="a triple to retract (repeatable)",
    )
    s.add_argument("--dry-run", action="store_true", help="show the decision, write nothing")
    s.add_argument("--allow-new-relations", action="store_true")

    s = sub.add_parser("facts", parents=[common], help="facts about an entity")
    s.add_argument("entity")
    s.add_argument("--as-of", type=int, metavar="EDIT_ID")
    s.add_argument("--asserted-only", action="store_true")
    s.add_argument("--incoming", action="store_true", help="also facts with it as object")

    s = sub.add_parser("history", parents=[common], help="the journal, or one entity's history")
    s.add_argument("entity", nargs="?")
    s.add_argument("--by", dest="by_user", metavar="USER")
    s.add_argument("--since", metavar="ISO_TIME")
    s.add_argument("--until", metavar="ISO_TIME")
    s.add_argument("--limit", type=int, default=50)

    s = sub.add_parser("show", parents=[common], help="one journal entry with its changes")
    s.add_argument("edit_id", type=int)

    s = sub.add_parser("rollback", parents=[common], help="undo an edit exactly")
    s.add_argument("edit_id", type=int, nargs="?")
    s.add_argument(
        "--cascade", action="store_true", help="first undo the later edits that depend on it"
    )
    s.add_argument("--batch", help="undo a whole import batch instead")

    s = sub.add_parser("schema", parents=[common], help="show, check or load the schema")
    s.add_argument("--file", type=Path, help="load this relation library into the store")
    s.add_argument("--replace", action="store_true", help="with --file: replace, not merge")
    s.add_argument("--check", type=Path, metavar="FILE", help="validate a file, change nothing")

    s = sub.add_parser("lock", parents=[common], help="protect an entity or one fact")
    s.add_argument("entity")
    s.add_argument("--relation")
    s.add_argument("--object")
    s.add_argument("--reason", default="")

    s = sub.add_parser("unlock", parents=[common], help="remove a lock")
    s.add_argument("lock_id", type=int)

    sub.add_parser("locks", parents=[common], help="list locks")

    s = sub.add_parser("neighbourhood", parents=[common], help="facts around an entity")
    s.add_argument("entity")
    s.add_argument("--hops", type=int, default=2)
    s.add_argument("--fanout", type=int, default=8)

    s = sub.add_parser("path", parents=[common], help="a shortest chain of facts between two")
    s.add_argument("source")
    s.add_argument("target")
    s.add_argument("--max-hops", type=int, default=4)

    sub.add_parser("stats", parents=[common], help="counts of entities, facts and edits")

    s = sub.add_parser(
        "submit", parents=[common], help="act on a sentence: an edit, a retraction, a question"
    )
    s.add_argument("text", help='e.g. "Actually, the capital of Australia is Canberra"')
    s.add_argument(
        "--new-names",
        action="store_true",
        help="confirm the names the edit makes that are new to the graph (without it, or "
        "double quotes around them, such an edit asks and changes nothing)",
    )

    s = sub.add_parser(
        "parse",
        parents=[common],
        help="show what the interpreter reads in a sentence (changes nothing)",
        description="Print the intents the interpreter reads in TEXT against the graph as it "
        "is now: an edit, a retraction, a question, a rollback, or what is unclear. Nothing is "
        "decided or changed. Exit 1 when the text is unclear.",
    )
    s.add_argument("text", help='e.g. "Actually, the capital of Australia is Canberra"')
    s.add_argument(
        "--model",
        default="none",
        metavar="default|none|PATH",
        help="also read with this language model what the rules cannot (default: rules only)",
    )

    s = sub.add_parser("ask", parents=[common], help="answer a question from graph and model")
    s.add_argument("question")
    for module in _EXTENSIONS:
        _COMMANDS.update(importlib.import_module(module).register(sub, common))
    return p


# Modules adding commands: each has ``register(sub, common) -> {command: handler}`` and must
# import nothing heavy (torch, gradio, fastapi) at module level, so `knowsync --help` stays fast.
_EXTENSIONS: tuple[str, ...] = (
    "ui._cli_serve",
    "ui._cli_service",
    "ui._cli_model",
    "ui._cli_export",
)


# ---------------------------------------------------------------------- output


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def _fact_line(f: Fact) -> str:
    origin = f"{f.kind.value}, edit {f.edit_id}" + (f" by {f.user}" if f.user else "")
    if f.kind.value == "composed":
        origin += f", {f.rule}"
    return f"  {f.subject} | {f.relation} | {f.object}    [{origin}]"


def _edit_line(e: EditRecord) -> str:
    extra = ""
    if e.rollback_of is not None:
        extra = f" (undoes {e.rollback_of})"
    if e.rolled_back_by is not None:
        extra += f" [rolled back by {e.rolled_back_by}]"
    rep = e.report
    counts = []
    for key in ("added", "derived", "superseded", "duplicates", "removed"):
        val = rep.get(key)
        n = val if isinstance(val, int) else len(val or [])
        if n:
            counts.append(f"{n} {key}")
    what = _request_summary(e)
    return (
        f"#{e.id:<6} {e.created_at[:19]}  {e.user:<12} {e.kind.value:<8} "
        f"{e.state.value:<8} {what}{extra}" + (f"  ({', '.join(counts)})" if counts else "")
    )


def _request_summary(e: EditRecord) -> str:
    req = e.request
    if "assert" in req or "retract" in req:
        parts = ["+" + "|".join(t) for t in req.get("assert", [])]
        parts += ["-" + "|".join(t) for t in req.get("retract", [])]
        return " ".join(parts)[:100]
    if "source" in req:
        return f"{req['source']} lines {req['lines'][0]}-{req['lines'][1]}"
    if "edit_id" in req:
        return "cascade" if req.get("cascade") else ""
    if "lock" in req:
        lk = req["lock"]
        return f"lock #{lk['id']} {lk['entity']}"
    return ""


def _result_text(res: dict[str, Any]) -> str:
    lines = []
    head = "dry run: would be " if res.get("dry_run") else ""
    edit = f"edit {res['edit_id']}: " if res.get("edit_id") is not None else ""
    lines.append(f"{edit}{head}{res['decision']}")
    for f in res.get("added", []):
        lines.append(f"  + {f['subject']} | {f['relation']} | {f['object']}")
    for s in res.get("superseded", []):
        old = s["old"]
        lines.append(
            f"  ~ {old['subject']} | {old['relation']} | {old['object']} "
            f"superseded by {' | '.join(s['by'])}"
        )
    for f in res.get("retracted", []):
        lines.append(f"  - {f['subject']} | {f['relation']} | {f['object']}")
    for f in res.get("derived", []):
        lines.append(f"  => {f['subject']} | {f['relation']} | {f['object']}   ({f['rule']})")
    for t in res.get("duplicates", []):
        lines.append(f"  = {' | '.join(t)} (already known)")
    for c in res.get("conflicts", []):
        lines.append(f"  ! {c}")
    for r in res.get("refusals", []):
        lines.append(f"  refused: {r}")
    if res.get("reason") and not res.get("refusals") and res["decision"] != "accepted":
        lines.append(f"  {str(res['decision']).replace('_', ' ')}: {res['reason']}")
    return "\n".join(lines)


def _answer_text(ans: dict[str, Any]) -> str:
    lines = []
    if ans.get("unclear"):
        unclear = ans["unclear"]
        what = unclear.get("question") or unclear.get("reason") or "the question is unclear"
        lines.append(f"unclear: {what}")
        for sug in unclear.get("suggestions", []) or []:
            lines.append(f"  try: {sug}")
    path = ans.get("path") or []
    if len(path) > 1:
        lines.append(f"about: {ans.get('subject') or '?'} | {' -> '.join(path)}")
    elif ans.get("subject") or ans.get("relation"):
        lines.append(f"about: {ans.get('subject') or '?'} | {ans.get('relation') or '?'}")
    if ans.get("graph"):
        lines.append(f"graph: {', '.join(ans['graph'])}")
    elif ans.get("missing"):
        lines.append(f"graph: no answer: {ans['missing']['message']}")
    elif not ans.get("unclear"):
        lines.append("graph: no answer")
    if len(path) > 1:  # a walk: the chain of facts, hop by hop
        for c in ans.get("chain", []):
            lines.append(f"  hop {c['hop']}: {c['subject']} | {c['relation']} | {c['object']}")
        if ans.get("missing"):
            lines.append(f"  hop {ans['missing']['hop']}: missing")
    else:
        for f in ans.get("facts", []):
            lines.append(f"  {f['subject']} | {f['relation']} | {f['object']}    [{f['kind']}]")
    if ans.get("model") is not None:
        verdict = ans.get("agree")
        agree = (
            ""
            if verdict is None
            else " (agrees with the graph)"
            if verdict
            else " (DISAGREES with the graph)"
        )
        lines.append(f"model: {ans['model']}{agree}")
    if ans.get("model_in_context") is not None:
        lines.append(f"model, given the earlier hops' facts: {ans['model_in_context']}")
    return "\n".join(lines)


def _submission_text(sub: dict[str, Any]) -> str:
    lines = [_result_text({**sub.get("report", {}), **sub})]
    if sub.get("question"):
        lines.append(f"  {sub['question']}")
        lines += [f"  try: {s}" for s in sub.get("suggestions", [])]
    if sub.get("answer"):
        lines.append(_answer_text(sub["answer"]))
    for m in sub.get("model", []):
        lines.append(
            f"  model: {m.get('prompt', '')} {m.get('before')!r} -> {m.get('after')!r}"
            + (f" (target {m['target']!r})" if m.get("target") else "")
            + (f" (retracted {m['retracted']!r})" if m.get("retracted") else "")
        )
    tox = sub.get("toxicity") or {}
    if tox.get("verdict") not in (None, "ok"):
        lines.append(f"  toxicity: {tox['verdict']}: {'; '.join(tox.get('reasons', []))}")
    return "\n".join(lines)


# --------------------------------------------------------------------- commands


def _open(args: argparse.Namespace, *, create: bool) -> KnowSync:
    return KnowSync(
        args.store,
        schema=args.schema,
        create=create,
        allow_new_relations=getattr(args, "allow_new_relations", False),
    )


def _remote(args: argparse.Namespace) -> Client | None:
    """The server's client when --server (or $KNOWSYNC_SERVER) is given, else None.

    Raises:
        InputError: a server without a token.
    """
    if not args.server:
        return None
    if not args.token:
        raise InputError(
            "--server needs an API token: --token TOKEN or $KNOWSYNC_TOKEN", field="token"
        )
    if args.user_given:
        print(
            "knowsync: note: --user is ignored with --server; the token's account acts",
            file=sys.stderr,
        )
    from knowsync.client import Client

    return Client(args.server, args.token)


@contextlib.contextmanager
def _kb(args: argparse.Namespace, *, create: bool) -> Iterator[KnowledgeBase]:
    """The knowledge base a command acts on, as its user may use it: the server's client
    (the token's account), or the local store through the same door (``--user``; a store
    without accounts lets anyone act as an admin)."""
    client = _remote(args)
    if client is not None:
        with client:
            yield client
    else:
        with _open(args, create=create) as ks:
            yield Session(ks, args.user)


def _local_only(args: argparse.Namespace) -> None:
    if args.server:
        raise InputError(f"'knowsync {args.command}' works on a local store only; drop --server")


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None


def _cmd_import(args: argparse.Namespace) -> int:
    show = not args.no_progress and not args.json and sys.stderr.isatty()
    client = _remote(args)
    notes: list[str] = []
    if client is not None:
        with client:
            remote = client.import_file(
                args.file,
                chunk_size=args.chunk_size or 1000,
                progress=show,
                checkpoint=args.checkpoint,
                policy=args.policy,
                fmt=args.format,
                allow_new_relations=args.allow_new_relations,
            )
        report: ImportReport = remote
        where = f"{remote.chunks} chunks, {len(remote.batches)} batches"
        if remote.resumed_from:
            notes.append(f"  resumed at chunk {remote.resumed_from} from the checkpoint")
        if remote.replayed:
            notes.append(f"  {remote.replayed} chunks were applied before; not applied again")
    else:
        report = _local_import(args, show)
        where = f"batch {report.batch}"
    data = report.to_dict()
    lines = [
        f"imported {args.file}: {report.rows} rows, {report.added} added, "
        f"{report.derived} derived, {report.duplicates} already known, "
        f"{report.superseded} superseded, {len(report.skipped)} skipped, "
        f"{len(report.bad_rows)} bad ({where})",
        *notes,
    ]
    if report.derived_rows:
        lines.append(
            f"  {report.derived_rows} rows marked as derived facts were left to the rules, "
            "which derive them again"
        )
    for bad in report.bad_rows[:20]:
        lines.append(f"  line {bad['line']}: {bad['reason']}")
    for sk in report.skipped[:20]:
        lines.append(f"  line {sk['line']}: skipped {'|'.join(sk['triple'])}: {sk['reason']}")
    if len(report.bad_rows) + len(report.skipped) > 40:
        lines.append("  ... (use --json for every row)")
    if report.failed:
        lines.append(f"import failed and was undone: {report.failed}")
    _emit(args, data, "\n".join(lines))
    return EXIT_REFUSED if report.failed else EXIT_OK


def _local_import(args: argparse.Namespace, show: bool) -> ImportReport:
    from tqdm import tqdm

    total = _count_lines(args.file)
    bar = tqdm(
        total=max((total or 1) - 1, 1),
        unit="row",
        file=sys.stderr,
        disable=not show,
        desc=f"importing {args.file.name}",
    )
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        bar.update(n - done)
        done = n

    with _open(args, create=True) as ks:
        try:
            return Session(ks, args.user).import_file(
                args.file,
                policy=args.policy,
                chunk_size=args.chunk_size or 5000,
                fmt=args.format,
                allow_new_relations=args.allow_new_relations,
                progress=progress,
            )
        finally:
            bar.close()


def _cmd_edit(args: argparse.Namespace) -> int:
    if not args.triple and not args.retract:
        raise InputError("give at least one --triple S|R|O to assert or --retract S|R|O")
    with _kb(args, create=True) as kb:
        res = kb.edit(args.triple, args.retract, dry_run=args.dry_run)
    data = res.to_dict()
    _emit(args, data, _result_text(data))
    return EXIT_OK if res.decision.value in ("accepted", "needs_review") else EXIT_REFUSED


def _cmd_submit(args: argparse.Namespace) -> int:
    with _kb(args, create=True) as kb:
        sub = kb.submit(args.text, new_names=args.new_names)
    data = sub.to_dict()
    _emit(args, data, _submission_text(data))
    return EXIT_OK if sub.decision in ("accepted", "needs_review") else EXIT_REFUSED


def _cmd_parse(args: argparse.Namespace) -> int:
    model = None if args.model == "none" else args.model
    with KnowSync(args.store, schema=args.schema, create=False, model=model) as ks:
        intent = ks.parse(args.text)
    data = {"text": args.text, "intents": [intent.model_dump(mode="json")]}
    _emit(args, data, _intent_text(intent.model_dump(mode="json")))
    return EXIT_REFUSED if intent.kind == "unclear" else EXIT_OK


def _entity_text(ref: dict[str, Any] | None) -> str:
    if ref is None:
        return "?"
    notes = []
    if ref["new_entity"]:
        notes.append("new entity")
    elif ref["score"] < 1.0:
        notes.append(f"linked from {ref['mention']!r}, score {ref['score']:.2f}")
    return str(ref["name"]) + (f" ({'; '.join(notes)})" if notes else "")


def _intent_text(intent: dict[str, Any]) -> str:
    """One intent, as lines a person reads."""
    kind, reader = intent["kind"], intent["reader"]
    head = f"{kind} (read by the {reader})"
    if kind in ("edit", "retract"):
        verb = "assert" if kind == "edit" else "retract"
        lines = [head]
        for t in intent["triples"]:
            lines.append(
                f"  {verb} {_entity_text(t['subject'])} | {t['relation']} | "
                f"{_entity_text(t['object'])}"
            )
            if t.get("old_object"):
                lines.append(f"    instead of {_entity_text(t['old_object'])}")
        return "\n".join(lines)
    if kind == "query":
        return (
            f"{head}: {intent['question']}\n  subject {_entity_text(intent['subject'])}, "
            f"relation {intent['relation'] or '?'}, object {_entity_text(intent['object'])}"
        )
    if kind == "rollback":
        target = "your last edit" if intent["target"] == "last" else f"edit {intent['edit_id']}"
        return f"{head}: undo {target}"
    lines = [f"{head}: {intent['missing']} missing", f"  {intent['message']}"]
    if intent["suggestions"]:
        lines.append("  suggestions: " + ", ".join(intent["suggestions"]))
    return "\n".join(lines)


def _cmd_ask(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as kb:
        ans = kb.ask(args.question)
    data = ans.to_dict()
    _emit(args, data, _answer_text(data))
    return EXIT_OK


def _cmd_facts(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        facts = ks.facts(
            args.entity, as_of=args.as_of, derived=not args.asserted_only, incoming=args.incoming
        )
    when = f" as of edit {args.as_of}" if args.as_of is not None else ""
    text = "\n".join(
        [f"{len(facts)} facts about {args.entity}{when}:", *(_fact_line(f) for f in facts)]
    )
    _emit(args, [f.to_dict() for f in facts], text)
    return EXIT_OK


def _cmd_history(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        edits = ks.history(
            args.entity, user=args.by_user, since=args.since, until=args.until, limit=args.limit
        )
    text = "\n".join(_edit_line(e) for e in edits) or "no edits"
    _emit(args, [e.to_dict() for e in edits], text)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as kb:
        record, added, retired = kb.show(args.edit_id)
    data = {
        **record.to_dict(),
        "put_in_force": [f.to_dict() for f in added],
        "retired": [f.to_dict() for f in retired],
    }
    lines = [_edit_line(record)]
    lines += ["  in force from this edit:", *(_fact_line(f) for f in added)] if added else []
    lines += ["  retired by this edit:", *(_fact_line(f) for f in retired)] if retired else []
    for r in record.report.get("refusals", []):
        lines.append(f"  refused: {r}")
    _emit(args, data, "\n".join(lines))
    return EXIT_OK


def _cmd_rollback(args: argparse.Namespace) -> int:
    if (args.edit_id is None) == (args.batch is None):
        raise InputError("give an EDIT_ID or --batch BATCH_ID (one of them)")
    with _kb(args, create=False) as kb:
        results = (
            kb.rollback_batch(args.batch)
            if args.batch
            else kb.rollback(args.edit_id, cascade=args.cascade)
        )
    data = [r.to_dict() for r in results]
    text = "\n".join(
        f"edit {r.edit_id} rolled back edit {r.report.get('rollback_of', '')}".rstrip()
        + "\n"
        + _result_text(r.to_dict())
        for r in results
    )
    _emit(args, data, text)
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.check:
        schema = Schema.load(args.check)
        data = {
            "file": str(args.check),
            "relations": len(schema),
            "rules": len(schema.rules),
            "warnings": schema.warnings,
        }
        text = "\n".join(
            [
                f"{args.check}: {len(schema)} relations, {len(schema.rules)} rules, "
                f"{len(schema.warnings)} warnings",
                *(f"  warning: {w}" for w in schema.warnings),
            ]
        )
        _emit(args, data, text)
        return EXIT_OK
    if args.file:
        _local_only(args)
    client = _remote(args)
    warnings: list[str] = []
    if client is not None:
        with client:
            schema = client.schema()
    else:
        schema, warnings = _local_schema(args)
    lines = []
    for w in warnings:
        lines.append(f"warning: {w}")
    for rel in schema.relations:
        inv = f" inverse {rel.inverse}" if rel.inverse else ""
        comp = "".join(f" = {' . '.join(c)}" for c in rel.compose)
        aliases = f"  (also: {', '.join(rel.aliases)})" if rel.aliases else ""
        lines.append(f"{rel.name:<28} {rel.cardinality.value:<9}{inv}{comp}{aliases}")
    data = {**schema.to_dict(), "warnings": warnings}
    _emit(args, data, "\n".join(lines))
    return EXIT_OK


def _local_schema(args: argparse.Namespace) -> tuple[Schema, list[str]]:
    with _open(args, create=True) as ks:
        if args.file:
            loaded = Schema.load(args.file)
            return ks.load_schema(loaded, replace=args.replace), loaded.warnings
        return ks.schema, []


def _lock_line(lk: Lock) -> str:
    return f"lock #{lk.id}: {lk.describe()}"


def _cmd_lock(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as kb:
        lock = kb.lock(args.entity, args.relation, args.object, reason=args.reason)
    _emit(args, lock.to_dict(), _lock_line(lock))
    return EXIT_OK


def _cmd_unlock(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as kb:
        lock = kb.unlock(args.lock_id)
    _emit(args, lock.to_dict(), f"removed {_lock_line(lock)}")
    return EXIT_OK


def _cmd_locks(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        locks = ks.locks()
    _emit(
        args,
        [lk.to_dict() for lk in locks],
        "\n".join(_lock_line(lk) for lk in locks) or "no locks",
    )
    return EXIT_OK


def _cmd_neighbourhood(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        facts = ks.neighbourhood(args.entity, hops=args.hops, fanout=args.fanout)
    _emit(
        args,
        [f.to_dict() for f in facts],
        "\n".join(
            [
                f"{len(facts)} facts within {args.hops} hops of {args.entity}:",
                *(_fact_line(f) for f in facts),
            ]
        ),
    )
    return EXIT_OK


def _cmd_path(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        chain = ks.path(args.source, args.target, max_hops=args.max_hops)
    _emit(
        args,
        [f.to_dict() for f in chain],
        "\n".join(
            [
                f"{len(chain)} facts link {args.source} and {args.target}:",
                *(_fact_line(f) for f in chain),
            ]
        ),
    )
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace) -> int:
    with _kb(args, create=False) as ks:
        stats = ks.stats()
    _emit(args, stats, "\n".join(f"{k:<10} {v}" for k, v in stats.items()))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    with _open(args, create=True) as ks:
        stats = ks.stats()
        if args.if_empty and stats["asserted"] + stats["inverse"] + stats["composed"] > 0:
            _emit(
                args,
                {"imports": [], "stats": stats, "entity": args.entity, "facts": []},
                f"knowledge base: {ks.store.url} ({stats['asserted']} asserted facts; "
                "the demo KG is not imported again)",
            )
            return EXIT_OK
        reports = [ks.import_file(path, user="demo") for path in demo_kg_files()]
        facts = ks.facts(args.entity, incoming=True)
        stats = ks.stats()
        edits = ks.history(limit=10)
    data = {
        "imports": [r.to_dict() for r in reports],
        "stats": stats,
        "entity": args.entity,
        "facts": [f.to_dict() for f in facts],
    }
    lines = [f"knowledge base: {ks.store.url}"]
    for path, r in zip(demo_kg_files(), reports, strict=True):
        lines.append(
            f"imported {path.name}: {r.added} added, {r.derived} derived, "
            f"{r.duplicates} already known, {len(r.skipped)} skipped"
        )
    lines.append(
        f"{stats['entities']} entities, {stats['asserted']} asserted facts, "
        f"{stats['inverse'] + stats['composed']} derived, {stats['relations']} "
        "relations"
    )
    lines.append(f"\nfacts about {args.entity}:")
    lines += [_fact_line(f) for f in facts]
    lines.append("\nrecent edits:")
    lines += [_edit_line(e) for e in edits]
    lines.append("\ntry: knowsync edit --triple 'America|president|Joe Biden' --user you")
    _emit(args, data, "\n".join(lines))
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _cmd_demo,
    "import": _cmd_import,
    "edit": _cmd_edit,
    "facts": _cmd_facts,
    "history": _cmd_history,
    "show": _cmd_show,
    "rollback": _cmd_rollback,
    "schema": _cmd_schema,
    "lock": _cmd_lock,
    "unlock": _cmd_unlock,
    "locks": _cmd_locks,
    "neighbourhood": _cmd_neighbourhood,
    "path": _cmd_path,
    "stats": _cmd_stats,
    "submit": _cmd_submit,
    "ask": _cmd_ask,
    "parse": _cmd_parse,
}


# The commands that run against a server with --server (the others work on a local store).
_REMOTE_COMMANDS = frozenset(
    {
        "import",
        "edit",
        "submit",
        "ask",
        "facts",
        "history",
        "show",
        "rollback",
        "neighbourhood",
        "path",
        "stats",
        "schema",
        "lock",
        "unlock",
        "locks",
        "export",
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    args.user_given = hasattr(args, "user")
    server_given = hasattr(args, "server")
    defaults = {
        "store": None,
        "schema": None,
        "json": False,
        "user": local_user(),
        "server": os.environ.get("KNOWSYNC_SERVER") or None,
        "token": os.environ.get("KNOWSYNC_TOKEN") or None,
    }
    for name, value in defaults.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    try:
        if args.command not in _REMOTE_COMMANDS and args.server:
            if server_given:
                raise InputError(
                    f"'knowsync {args.command}' works on a local store only; drop --server"
                )
            args.server = None  # $KNOWSYNC_SERVER is for the commands that can use it
        return _COMMANDS[args.command](args)
    except (RollbackRefused, EditRefused) as exc:
        if args.json:
            payload: dict[str, Any] = {"error": str(exc), "refused": True}
            if isinstance(exc, RollbackRefused):
                payload["dependants"] = exc.dependants
            json.dump(payload, sys.stdout)
            sys.stdout.write("\n")
        print(f"knowsync: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except UnknownRelationError as exc:
        print(f"knowsync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KnowsyncError as exc:
        print(f"knowsync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "knowsync: interrupted; finished edits are kept, the one in progress is not",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`knowsync facts X | head`): not an error of ours;
        # stdout goes to /dev/null so that flushing it at exit raises nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
