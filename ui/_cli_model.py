"""CLI commands about the language model: ``knowsync eval edits`` and ``knowsync model export``.

Registered by ``ui.cli`` through its ``_EXTENSIONS`` table. Nothing heavy is imported here at
module level: torch and the editor are imported inside the handlers, so ``knowsync --help`` and
the graph-only commands stay fast.

Exit codes follow ``ui.cli``: 0 success, 2 bad usage or input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register"]

EXIT_OK, EXIT_USAGE = 0, 2
_FORMATS = ("counterfact", "zsre", "mquake")
_METHODS = ("rome", "memit", "alphaedit")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of at least 1")
    return value


def _known_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    allowed = ("efficacy", "generalization")
    if not kinds or any(k not in allowed for k in kinds):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give efficacy, generalization or both, comma-separated"
        )
    return kinds


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of at least 0")
    return value


def register(
    sub: Any, common: argparse.ArgumentParser
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the ``eval`` and ``model`` commands to ``sub`` (the CLI's subparsers).

    Returns:
        The handlers by command name.
    """
    ev = sub.add_parser("eval", parents=[common], help="evaluate model editing")
    ev_sub = ev.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    e = ev_sub.add_parser(
        "edits",
        parents=[common],
        help="edit the model as an evaluation file asks and score the edits",
        description="Edit the model as the records of FILE ask and report efficacy, "
        "generalization, locality and portability, each as a probability score and a "
        "generation score, with seconds per edit and peak memory. The model is never saved.",
    )
    e.add_argument("file", type=Path, help="evaluation file (JSON list or JSON lines)")
    e.add_argument("--format", required=True, choices=_FORMATS, dest="eval_format")
    e.add_argument("--method", choices=_METHODS, default="rome")
    e.add_argument("--mode", choices=("single", "sequential"), default="single")
    e.add_argument("--limit", type=_positive_int, default=None, help="at most N records")
    e.add_argument("--offset", type=_non_negative_int, default=0, help="skip N records first")
    e.add_argument(
        "--propagate",
        type=_non_negative_int,
        default=None,
        metavar="HOPS",
        help="GLAME-style propagation: add the new object's neighbourhood (this many hops) as "
        "extra targets of each edit (mquake only; default: the editor's default, "
        "see editor.DEFAULT_PROPAGATION_HOPS; 0 turns it off)",
    )
    e.add_argument(
        "--known-only",
        action="store_true",
        help="keep only records whose old answer the unedited model gives greedily on the "
        "edit prompt (--limit then counts kept records)",
    )
    e.add_argument(
        "--known-on",
        type=_known_kinds,
        default=None,
        metavar="KINDS",
        help="like --known-only, on these probes, comma-separated: efficacy (the edit prompt), "
        "generalization (the paraphrase), or both",
    )
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a hyperparameter of the method (repeatable; VALUE is JSON or a word), "
        "e.g. --set l2=100 --set value.clamp_norm_factor=0.5 --set layers=[3,4,5]",
    )
    e.add_argument("--model", default=None, help="a .gguf path or HF folder (default: the wheel)")
    e.add_argument("--threads", type=_positive_int, default=None, help="torch threads")

    m = sub.add_parser("model", parents=[common], help="the language model: export")
    m_sub = m.add_subparsers(dest="model_command", required=True, metavar="WHAT")
    x = m_sub.add_parser(
        "export",
        parents=[common],
        help="write the model (base + edits in force, its subject memory) as a Hugging Face folder",
        description="Write config.json, model.safetensors and the tokenizer into DIR, loadable "
        "by transformers' AutoModelForCausalLM.from_pretrained(DIR) without knowsync. When the "
        "ledger holds the knowledge base's subject memory, it is written beside them "
        "(subject_memory.json, subject_memory.safetensors): editor.load_exported(DIR) loads "
        "the model with it, answering as the knowledge base does.",
    )
    x.add_argument("directory", type=Path, metavar="DIR")
    x.add_argument("--model", default=None, help="a .gguf path or HF folder (default: the wheel)")
    x.add_argument(
        "--ledger",
        type=Path,
        default=None,
        metavar="DIR",
        help="a persisted delta ledger whose edits in force are applied before exporting",
    )
    x.add_argument("--force", action="store_true", help="replace DIR when it already exists")
    y = m_sub.add_parser(
        "sync",
        parents=[common],
        help="bring the model up to date with every fact in force",
        description="The model's weights are a view of the facts in force: every asserted, "
        "inverse and derived fact whose relation has a cloze template (a default one is made "
        "from a relation's name), imported ones included, and none of the retracted objects. "
        "Per subject the expensive part (the shift that makes the model give its facts) is "
        "computed once and cached (keyed by the subject's facts and the base model); the "
        "subject memory then adds each shift where the input names its subject. A progress "
        "bar shows the "
        "time left; interrupting keeps what was computed, and the next sync goes on from there.",
    )
    y.add_argument(
        "--model",
        default=None,
        metavar="default|PATH",
        help="the model to write (default: $KNOWSYNC_MODEL or the shipped one)",
    )
    y.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="compute at most N entries now (one per fact; the rest wait for the next sync)",
    )
    y.add_argument(
        "--dry-run", action="store_true", help="list the backlog without loading the model"
    )
    c = m_sub.add_parser(
        "check",
        parents=[common],
        help="how far the model agrees with the graph, by greedy generation",
        description="Ask the store's model (base + the edits in its ledger) every "
        "subject/relation in force, by each cloze template of the relation, and report the "
        "share it answers with the graph's object, per relation and overall; the share of "
        "unrelated facts (datasets/probes/locality.jsonl) it still answers right; and, for the "
        "subjects of facts written into it, whether their other facts keep the unedited "
        "model's answers.",
    )
    c.add_argument(
        "--model",
        default=None,
        metavar="default|PATH",
        help="the model to check (default: $KNOWSYNC_MODEL or the shipped one)",
    )
    c.add_argument("--relation", default=None, help="only this relation")
    c.add_argument("--limit", type=_positive_int, default=None, help="at most N pairs")
    c.add_argument("--threads", type=_positive_int, default=None, help="torch threads")
    h = m_sub.add_parser(
        "history",
        parents=[common],
        help="the agreement checks recorded so far, oldest first",
        description="Every `model check` (and every check started in the web app) keeps its "
        "figures in the store: when, by whom, the journal id the weights reflected, and the "
        "shares overall and per relation. This lists them without loading the model.",
    )
    h.add_argument("--limit", type=_positive_int, default=20, help="the last N checks (20)")
    return {"eval": _cmd_eval, "model": _cmd_model}


def _error(message: str) -> int:
    print(f"knowsync: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.eval_command != "edits":  # pragma: no cover - argparse enforces the choices
        return _error(f"unknown eval command {args.eval_command!r}")
    if not args.file.is_file():
        return _error(f"evaluation file {args.file} does not exist")
    import torch

    from editor import DEFAULT_PROPAGATION_HOPS, EditorError, ModelEditor, load_model
    from editor._eval import evaluate, known_cases, read_cases

    hops = DEFAULT_PROPAGATION_HOPS if args.propagate is None else args.propagate
    # the probes a record's old answer must be given on to be kept (empty: keep every record)
    known_on: tuple[str, ...] = args.known_on or (("efficacy",) if args.known_only else ())
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cases, skipped = read_cases(
            args.file,
            args.eval_format,
            offset=args.offset,
            limit=None if known_on else args.limit,
            propagate=hops if args.eval_format == "mquake" else 0,
        )
    except EditorError as exc:
        return _error(str(exc))
    if not cases:
        return _error(f"{args.file} holds no usable {args.eval_format} records in that range")
    if args.method == "rome" and args.mode == "sequential":
        print("knowsync: note: sequential ROME degrades quickly; see alphaedit", file=sys.stderr)
    loaded = load_model(args.model)
    if known_on:
        cases = known_cases(loaded.model, loaded.tokenizer, cases, args.limit, known_on)
        if not cases:
            return _error(f"the model knows none of the {args.eval_format} records in that range")
    editor = ModelEditor(loaded, progress=not args.json)
    method = _method(args.method)
    if args.overrides:
        try:
            method = type(method)(
                override_hyperparameters(method.resolve(editor.context()), args.overrides)
            )
        except ValueError as exc:
            return _error(str(exc))
    report = evaluate(editor, method, cases, mode=args.mode, progress=True)
    data = report.to_dict()
    data.update(
        file=str(args.file),
        format=args.eval_format,
        offset=args.offset,
        known_only=bool(known_on),
        known_on=list(known_on),
        hyperparameters=_plain(method.resolve(editor.context())),
        skipped_records=skipped,
        propagate_hops=hops if args.eval_format == "mquake" else 0,
        model=loaded.source,
        threads=torch.get_num_threads(),
    )
    which = (
        f", records the model knows (on the {' and '.join(known_on)} prompts)" if known_on else ""
    )
    lines = [
        f"{args.file} ({args.eval_format}, from record {args.offset}{which}):",
        *report.lines(),
    ]
    if skipped:
        lines.append(f"  {skipped} records skipped (subject not in prompt)")
    _emit(args, data, lines)
    return EXIT_OK


def override_hyperparameters(hparams: Any, overrides: list[str]) -> Any:
    """A copy of a (nested, frozen) hyperparameter dataclass with ``KEY=VALUE`` overrides
    applied; ``KEY`` may be dotted (``value.lr``), ``VALUE`` is JSON (a bare word is a string;
    a list becomes a tuple where the field holds one).

    Raises:
        ValueError: malformed override, unknown field, or a value of the wrong kind.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. --set l2=100")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        hparams = _replace_path(hparams, key.strip().split("."), value, item)
    return hparams


def _replace_path(obj: Any, path: list[str], value: Any, item: str) -> Any:
    import dataclasses

    names = [f.name for f in dataclasses.fields(obj)]
    head = path[0]
    if head not in names:
        raise ValueError(f"--set {item!r}: no hyperparameter {head!r}; known: {', '.join(names)}")
    current = getattr(obj, head)
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"--set {item!r}: {head!r} has no fields")
        return dataclasses.replace(obj, **{head: _replace_path(current, path[1:], value, item)})
    if dataclasses.is_dataclass(current):
        raise ValueError(f"--set {item!r}: {head!r} is a group; set one of its fields")
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    kinds: tuple[type, ...] = (int, float) if isinstance(current, float) else (type(current),)
    if current is not None and (
        not isinstance(value, kinds) or (isinstance(value, bool) and not isinstance(current, bool))
    ):
        raise ValueError(
            f"--set {item!r}: {head!r} must be of type {type(current).__name__}, got {value!r}"
        )
    if isinstance(current, float) and isinstance(value, int):
        value = float(value)
    return dataclasses.replace(obj, **{head: value})


def _plain(hparams: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(hparams) and not isinstance(hparams, type):
        return dataclasses.asdict(hparams)
    return hparams


def _method(name: str) -> Any:
    from editor import AlphaEdit, Memit, Rome

    return {"rome": Rome, "memit": Memit, "alphaedit": AlphaEdit}[name]()


def _cmd_model(args: argparse.Namespace) -> int:
    if args.model_command == "sync":
        return _cmd_sync(args)
    if args.model_command == "check":
        return _cmd_check(args)
    if args.model_command == "history":
        return _cmd_history(args)
    if args.model_command != "export":  # pragma: no cover - argparse enforces the choices
        return _error(f"unknown model command {args.model_command!r}")
    target: Path = args.directory
    if target.exists() and not target.is_dir():
        return _error(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not args.force:
        return _error(f"{target} is not empty; pass --force to replace it")
    if args.ledger is not None and not (args.ledger / "ledger.json").is_file():
        return _error(f"{args.ledger} holds no ledger (ledger.json missing)")

    from editor import FACT_MEMORY_VIEWS, DeltaLedger, EditorError, export_model, load_model
    from kg import KnowsyncError

    loaded = load_model(args.model)
    applied: tuple[int, ...] = ()
    subjects: int | None = None
    try:
        in_force = DeltaLedger.methods_in_force(args.ledger) if args.ledger is not None else []
        if any(method == FACT_MEMORY_VIEWS["router"] for _, method in in_force):
            # a subject memory: restored as the knowledge base restores it (the view's shifts
            # and its gate), the weights exported, the memory written beside them
            from knowsync._model_side import ModelSide

            side = ModelSide(loaded=loaded, ledger_dir=args.ledger)
            try:
                applied = side.in_force
                export_model(loaded.model, loaded.tokenizer, target)
                if side.router is not None:
                    side.router.save(target)
                    subjects = len(set(side.router.subjects))
            finally:
                side.release()
        else:
            if args.ledger is not None:
                ledger = DeltaLedger(loaded.model, args.ledger, model_key=loaded.model_key)
                applied = ledger.restore()
            export_model(loaded.model, loaded.tokenizer, target)
    except (EditorError, KnowsyncError) as exc:
        return _error(f"cannot export: {exc}")
    data = {
        "directory": str(target),
        "model": loaded.source,
        "model_key": loaded.model_key,
        "edits_applied": list(applied),
        "subject_memory": subjects,
    }
    edits = f" with {len(applied)} edits in force" if args.ledger is not None else ""
    lines = [f"exported {loaded.source}{edits} to {target}"]
    if subjects is not None:
        lines.append(
            f"with its subject memory ({subjects} subjects): load it with "
            f"editor.load_exported({str(target)!r}); transformers alone loads the weights "
            "without the memory"
        )
    _emit(args, data, lines)
    return EXIT_OK


def _cmd_sync(args: argparse.Namespace) -> int:
    import os

    from kg import KnowsyncError
    from knowsync import KnowSync

    model = args.model or os.environ.get("KNOWSYNC_MODEL") or "default"
    if model == "none":
        return _error("--model none cannot be synced; name a model (default, or a path)")
    try:
        ks = KnowSync(
            args.store,
            schema=args.schema,
            create=False,
            model=None if args.dry_run else model,
        )
    except KnowsyncError as exc:
        return _error(str(exc))
    try:
        if args.dry_run:
            backlog = ks.model_backlog()
            shown = ", ".join(map(str, backlog[:20])) + (" ..." if len(backlog) > 20 else "")
            _emit(
                args,
                {"backlog": backlog},
                [
                    f"{len(backlog)} edits are not in the model yet"
                    + (f": {shown}" if backlog else "")
                ],
            )
            return EXIT_OK
        result = ks.sync_model(limit=args.limit, progress=not args.json)
    except KnowsyncError as exc:
        return _error(str(exc))
    finally:
        ks.close()
    lines = [
        f"the model holds {result['facts']} facts of {result['subjects']} subjects"
        + (f" and avoids {result['avoided']} retracted objects" if result["avoided"] else "")
        + f" (view of journal #{result['generation']}; {result['computed']} entries computed "
        f"now, the rest from the cache; {result['seconds']:.1f} s)",
    ]
    if result["left"]:
        lines.append(f"{result['left']} entries (one per fact) left for the next sync (--limit)")
    for subject, error in result["failed"].items():
        lines.append(f"  {subject}: {error}")
    _emit(args, result, lines)
    return EXIT_OK if not result["failed"] else 1


def _cmd_history(args: argparse.Namespace) -> int:
    from kg import KnowsyncError
    from knowsync import KnowSync

    try:
        ks = KnowSync(args.store, schema=args.schema, create=False, model=None)
    except KnowsyncError as exc:
        return _error(str(exc))
    try:
        records = ks.model_checks(args.limit)
    except KnowsyncError as exc:
        return _error(str(exc))
    finally:
        ks.close()

    def pct(x: float | None) -> str:
        return "   —  " if x is None else f"{100 * x:5.1f}%"

    lines = [
        f"{'checked at (UTC)':<20} {'by':<12} {'edit':>5} {'cloze':>7} {'paraphr.':>8} "
        f"{'locality':>8} {'same-subj.':>10}"
    ]
    for r in records:
        lines.append(
            f"{str(r['at'])[:19]:<20} {str(r['by'])[:12]:<12} {r['generation'] or 0:>5} "
            f"{pct(r['cloze']):>7} {pct(r['paraphrase']):>8} {pct(r['locality']):>8} "
            f"{pct(r['same_subject']):>10}" + ("  (partial)" if r.get("partial") else "")
        )
    if not records:
        lines = ["no agreement check recorded yet: run `knowsync model check`"]
    _emit(args, records, lines)
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from kg import KnowsyncError
    from knowsync import KnowSync

    model = args.model or os.environ.get("KNOWSYNC_MODEL") or "default"
    if model == "none":
        return _error("--model none has nothing to check; name a model (default, or a path)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        ks = KnowSync(args.store, schema=args.schema, create=False, model=model)
    except KnowsyncError as exc:
        return _error(str(exc))
    bar = tqdm(desc="asking the model", unit="prompt", file=sys.stderr, disable=args.json)
    try:

        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = ks.check_model(relation=args.relation, limit=args.limit, tick=tick)
    except KnowsyncError as exc:
        return _error(str(exc))
    finally:
        bar.close()
        ks.close()
    _emit(args, report.to_dict(), report.lines())
    return EXIT_OK
