"""Benchmark of the interpreter, rules only and rules + the local model (``LocalModelBackend``),
in one run: intent accuracy, exact match (overall and per gold intent type) and triple-level
precision/recall/F1 on ``datasets/nl_edits`` (dev and held-out), per-class confusion, errors by
style, latency p50/p95 per request (all requests, and the requests the model was asked about),
peak memory; and triple P/R/F1 on WebNLG text-to-triples for both readers.

    cd /work/main && .venv/bin/python bench/bench_interpreter.py [--errors N] [--split dev]
        [--readers rules,local] [--webnlg-limit N] [--threads N]

Latency is wall time and process CPU time per request (CPU time is what the request cost when
other processes share the cores); the load average is printed beside it.

WebNLG is read with ``Interpreter.extract`` (best-effort, several sentences), with a schema
made from the set of WebNLG predicates in the file (an oracle relation vocabulary: names and
their camelCase split into words) and an empty graph; names are normalized before matching
(DBpedia underscores, quotes, case) and predicates by ``kg.relation_key`` (``birthPlace`` ==
``birth_place``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interpreter import (  # noqa: E402
    ChatBackend,
    ChatRequest,
    EditIntent,
    Intent,
    Interpreter,
    LocalModelBackend,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Unclear,
)
from kg import GraphView, Relation, Schema, entity_key, relation_key  # noqa: E402
from knowsync import KnowSync  # noqa: E402
from knowsync._resources import demo_kg_files  # noqa: E402

NL = ROOT / "datasets" / "nl_edits"
WEBNLG = ROOT.parent / "shared" / "data" / "text2triples" / "webnlg_dev300.jsonl"
KINDS = ("edit", "retract", "query", "rollback", "unclear")


def key(name: str | None) -> str | None:
    if name is None:
        return None
    return entity_key(name.strip().strip('"').replace("_", " "))


def pred_triples(intent: Intent) -> set[tuple[Any, ...]]:
    if isinstance(intent, (EditIntent, RetractIntent)):
        return {(key(t.subject.name), t.relation, key(t.object.name)) for t in intent.triples}
    return set()


def gold_triples(gold: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(key(t[0]), t[1], key(t[2])) for t in gold.get("triples", [])}


def exact(intent: Intent, gold: dict[str, Any]) -> bool:
    if intent.kind != gold["kind"]:
        return False
    if isinstance(intent, EditIntent):
        want = {
            (key(t[0]), t[1], key(t[2]), key(t[3]) if len(t) > 3 else None) for t in gold["triples"]
        }
        got = {
            (
                key(t.subject.name),
                t.relation,
                key(t.object.name),
                key(t.old_object.name) if t.old_object else None,
            )
            for t in intent.triples
        }
        return want == got
    if isinstance(intent, RetractIntent):
        return pred_triples(intent) == gold_triples(gold)
    if isinstance(intent, QueryIntent):
        return (
            key(intent.subject.name if intent.subject else None) == key(gold.get("subject"))
            and intent.relation == gold.get("relation")
            and key(intent.object.name if intent.object else None) == key(gold.get("object"))
        )
    if isinstance(intent, RollbackIntent):
        return intent.target == gold["target"] and intent.edit_id == gold.get("edit_id")
    if isinstance(intent, Unclear):
        # a misspelt known name is asked about ("did you mean X?"), with X among the offers
        asked = gold.get("did_you_mean")
        offered = asked is None or key(asked) in {key(s) for s in intent.suggestions}
        return intent.missing == gold.get("missing", intent.missing) and offered
    return False


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def describe(intent: Intent) -> str:
    if isinstance(intent, (EditIntent, RetractIntent)):
        parts = []
        for t in intent.triples:
            old = getattr(t, "old_object", None)
            parts.append(
                f"({t.subject.name}, {t.relation}, {t.object.name}"
                + (f", old={old.name}" if old else "")
                + ")"
            )
        return f"{intent.kind} " + " ".join(parts)
    if isinstance(intent, QueryIntent):
        return (
            f"query s={intent.subject and intent.subject.name} r={intent.relation} "
            f"o={intent.object and intent.object.name}"
        )
    if isinstance(intent, RollbackIntent):
        return f"rollback {intent.target} {intent.edit_id}"
    return f"unclear {intent.missing}: {intent.suggestions}"


class Timed:
    """A ChatBackend wrapper that records whether (and how long) the backend was asked."""

    def __init__(self, inner: ChatBackend) -> None:
        self.inner = inner
        self.calls = 0
        self.wall_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def propose(self, request: ChatRequest) -> Intent:
        self.calls += 1
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.inner.propose(request)
        finally:
            self.wall_ms.append((time.perf_counter() - t0) * 1000)
            self.cpu_ms.append((time.process_time() - c0) * 1000)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def run_split(name: str, interp: Interpreter, view: GraphView, show_errors: int) -> dict[str, Any]:
    records = [json.loads(line) for line in (NL / f"nl_edits_{name}.jsonl").open(encoding="utf-8")]
    timed = interp.backend if isinstance(interp.backend, Timed) else None
    model_wall: list[float] = []
    model_cpu: list[float] = []
    by_kind: dict[str, list[bool]] = defaultdict(list)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    by_style: dict[str, list[bool]] = defaultdict(list)
    tp = n_pred = n_gold = 0
    kind_ok = exact_ok = 0
    latencies: list[float] = []
    errors: list[str] = []
    cpu: list[float] = []
    for rec in records:
        calls = timed.calls if timed else 0
        t0, c0 = time.perf_counter(), time.process_time()
        intent = interp.read(rec["text"], view)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if timed and timed.calls > calls:
            model_wall.append(latencies[-1])
            model_cpu.append(cpu[-1])
        gold = rec["gold"]
        confusion[gold["kind"]][intent.kind] += 1
        kind_ok += intent.kind == gold["kind"]
        ok = exact(intent, gold)
        exact_ok += ok
        by_style[rec["style"]].append(ok)
        by_kind[gold["kind"]].append(ok)
        p, g = pred_triples(intent), gold_triples(gold)
        tp += len(p & g)
        n_pred += len(p)
        n_gold += len(g)
        if not ok:
            errors.append(
                f"  [{rec['style']}] {rec['text']!r}\n      gold {json.dumps(gold)}\n"
                f"      got  {describe(intent)} (read by {intent.reader})"
            )
    n = len(records)
    precision, recall, f1 = prf(tp, n_pred, n_gold)
    latencies.sort()
    print(f"\n== nl_edits {name}: {n} requests ==")
    print(f"intent accuracy      {kind_ok / n:.3f}  ({kind_ok}/{n})")
    print(
        f"exact match          {exact_ok / n:.3f}  ({exact_ok}/{n})  (all triples, old values, "
        "query slots, rollback ids)"
    )
    print(
        f"triples (edit+retract) P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  "
        f"(gold {n_gold}, predicted {n_pred}, correct {tp})"
    )
    print(
        f"latency ms, all      wall p50 {statistics.median(latencies):.1f}  "
        f"p95 {pct(latencies, 0.95):.1f}  max {latencies[-1]:.1f};  "
        f"cpu p50 {pct(cpu, 0.5):.1f}  p95 {pct(cpu, 0.95):.1f}"
    )
    if timed:
        print(
            f"latency ms, model    {len(model_wall)} requests went to the model: wall p50 "
            f"{pct(model_wall, 0.5):.1f}  p95 {pct(model_wall, 0.95):.1f};  cpu p50 "
            f"{pct(model_cpu, 0.5):.1f}  p95 {pct(model_cpu, 0.95):.1f}"
        )
    print("exact match by gold intent type:")
    for k in KINDS:
        oks = by_kind.get(k, [])
        if oks:
            print(f"  {k:<9} {sum(oks) / len(oks):.3f}  ({sum(oks)}/{len(oks)})")
    print("confusion (gold -> predicted):")
    print("  " + " " * 9 + "".join(f"{k:>9}" for k in KINDS))
    for g in KINDS:
        print(f"  {g:>9}" + "".join(f"{confusion[g][k]:>9}" for k in KINDS))
    print("exact match by style:")
    for style, oks in sorted(by_style.items()):
        print(f"  {style:<17} {sum(oks) / len(oks):.3f}  ({sum(oks)}/{len(oks)})")
    if show_errors:
        print(f"first {min(show_errors, len(errors))} of {len(errors)} errors:")
        print("\n".join(errors[:show_errors]))
    return {
        "exact": exact_ok / n,
        "n": n,
        "kinds": {k: (sum(v), len(v)) for k, v in by_kind.items()},
        "p50": statistics.median(latencies),
        "p95": pct(latencies, 0.95),
        "model_n": len(model_wall),
        "model_p50": pct(model_wall, 0.5),
        "model_p95": pct(model_wall, 0.95),
        "model_cpu_p50": pct(model_cpu, 0.5),
        "model_cpu_p95": pct(model_cpu, 0.95),
    }


def pred_key(predicate: str) -> str:
    """``birthPlace`` -> ``birth_place``; ``a/b`` -> ``a_b``."""
    return relation_key(re.sub(r"[^\w\s\-]+", "_", predicate))


def webnlg_schema(records: list[dict[str, Any]]) -> Schema:
    names: dict[str, set[str]] = {}
    for rec in records:
        for _, p, _ in rec["triples"]:
            k = pred_key(p)
            if not k or not k[0].isalpha():
                continue
            names.setdefault(k, set()).add(k.replace("_", " "))
    rels = [Relation(name=n, aliases=tuple(sorted(a - {n}))) for n, a in sorted(names.items())]
    return Schema(rels, strict=False)


def run_webnlg(
    backend: ChatBackend | None, limit: int | None, label: str
) -> tuple[float, float, float]:
    records = [json.loads(line) for line in WEBNLG.open(encoding="utf-8")]
    schema = webnlg_schema(records)
    records = records[:limit] if limit else records
    interp = Interpreter(schema, backend=backend)
    tp = n_pred = n_gold = 0
    kinds: Counter[str] = Counter()
    t0 = time.perf_counter()
    for rec in records:
        gold = {(key(s), pred_key(p), key(o)) for s, p, o in rec["triples"]}
        try:
            found = interp.extract(rec["text"][:1000], with_backend=backend is not None)
        except Exception as exc:  # report, do not hide: count as no output
            kinds[f"error {type(exc).__name__}"] += 1
            found = []
        kinds["with triples" if found else "no triple"] += 1
        pred = {(key(t.subject.name), pred_key(t.relation), key(t.object.name)) for t in found}
        tp += len(pred & gold)
        n_pred += len(pred)
        n_gold += len(gold)
    precision, recall, f1 = prf(tp, n_pred, n_gold)
    print(f"\n== WebNLG text-to-triples, {label}: {len(records)} texts ({WEBNLG.name}) ==")
    print(
        f"triples P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  "
        f"(gold {n_gold}, predicted {n_pred}, correct {tp}); "
        f"{(time.perf_counter() - t0) / len(records) * 1000:.1f} ms/text"
    )
    print("texts: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", type=int, default=0, help="print the first N errors per split")
    parser.add_argument("--split", choices=["dev", "heldout", "both"], default="both")
    parser.add_argument("--readers", default="rules,local", help="rules, local, or both")
    parser.add_argument("--no-webnlg", action="store_true")
    parser.add_argument(
        "--webnlg-limit", type=int, default=0, help="first N WebNLG texts only (0: all)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads for the local model (0: default)"
    )
    args = parser.parse_args()
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    ks = KnowSync("memory://")
    for path in demo_kg_files():
        ks.import_file(path, user="demo")
    splits = ("dev", "heldout") if args.split == "both" else (args.split,)
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    web: dict[str, tuple[float, float, float]] = {}
    local: LocalModelBackend | None = None
    for reader in readers:
        backend: Timed | None = None
        if reader == "local":
            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            local = LocalModelBackend()
            t0 = time.perf_counter()
            lm = local.warm_up()
            print(
                f"\nlocal model loaded in {time.perf_counter() - t0:.1f} s ({lm.source}); "
                f"torch threads {__import__('torch').get_num_threads()}"
            )
            backend = Timed(local)
        interp = Interpreter(ks.schema, backend=backend)
        what = "rules, then the local model" if backend else "rules only"
        print(
            f"\n#### interpreter: {reader} ({what}); "
            f"demo KG in memory; {len(ks.schema)} relations; load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        with ks.store.read() as view:
            for split in splits:
                summary[(reader, split)] = run_split(split, interp, view, args.errors)
        if not args.no_webnlg and WEBNLG.is_file():
            web[reader] = run_webnlg(
                local if reader == "local" else None, args.webnlg_limit or None, reader
            )
    ks.close()
    print("\n#### summary (exact match; per gold intent type)")
    for (reader, split), r in summary.items():
        kinds = "  ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(r["kinds"].items()))
        print(f"  {reader:<6} {split:<8} {r['exact']:.3f}  {kinds}")
        if r["model_n"]:
            print(
                f"  {'':<6} {split:<8} model path: {r['model_n']} requests, wall p50 "
                f"{r['model_p50']:.0f} ms p95 {r['model_p95']:.0f} ms; cpu p50 "
                f"{r['model_cpu_p50']:.0f} ms p95 {r['model_cpu_p95']:.0f} ms"
            )
    for reader, (p, r, f) in web.items():
        print(f"  webnlg {reader:<6} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    print(f"  load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS) {peak:.0f} MiB")


if __name__ == "__main__":
    main()
