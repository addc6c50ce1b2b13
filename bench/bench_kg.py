"""Benchmarks of the symbolic core on the embedded store. Prints figures; asserts nothing.

    python bench/bench_kg.py [--triples 1000000] [--naive-rows 20000] [--json]

One run measures, on generated triples over the bundled schema's relations:

* import throughput (triples/s) of ``KnowSync.import_file`` (chunked transactions, conflict
  checks, inverse rows, composition rules, journal), and of a naive loader that writes one
  transaction per row (as OneEdit's loader does), on the same backend; and their ratio;
* conflict-check latency p50/p99 at full size: the dry run of one edit (``KnowSync.check``:
  entity resolution, coverage/reverse/composition planning, neighbourhood sample, locks);
* rollback latency p50/p99 of single edits;
* peak memory (RSS) of the process (measured before the ceiling below);
* the ceiling: fact rows/s SQLite itself accepts into the same tables and indexes through bare
  executemany, which bounds any loader on this backend and machine.

Goals (issue: the symbolic core): >= 50,000 triples/s, >= 20x the naive loader, conflict check
p99 < 2 ms at 1M triples, peak memory < 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg import EditKind, EditState, Fact, Triple
from knowsync import KnowSync
from knowsync._resources import default_schema


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, n: int, seed: int) -> None:
    """Write ``n`` triples: people, places and organisations linked by the schema's relations,
    one value per functional slot, so that rows do not contradict each other."""
    rng = random.Random(seed)
    schema = default_schema()
    functional = [
        r.name
        for r in schema.relations
        if schema.functional(r.name) and not schema.composed(r.name)
    ]
    free = [
        r.name
        for r in schema.relations
        if not schema.functional(r.name)
        and not schema.inverse_functional(r.name)
        and not schema.composed(r.name)
    ]
    people = max(1000, n // 6)
    things = max(500, n // 12)
    used: set[tuple[int, str]] = set()
    with path.open("w", encoding="utf-8") as fh:
        fh.write("head,relation,tail\n")
        written = 0
        while written < n:
            s = rng.randrange(people)
            if rng.random() < 0.35:
                rel = rng.choice(functional)
                if (s, rel) in used:
                    continue
                if schema.inverse_functional(rel):
                    # one2one: pair subjects with their own objects so objects are not shared
                    obj = f"Thing_{s}_{rel}"
                else:
                    obj = f"Thing_{rng.randrange(things)}"
                used.add((s, rel))
            else:
                rel = rng.choice(free)
                obj = (
                    f"Person_{rng.randrange(people)}"
                    if rng.random() < 0.5
                    else f"Thing_{rng.randrange(things)}"
                )
            fh.write(f"Person_{s},{rel},{obj}\n")
            written += 1


def naive_load(db: Path, csv_path: Path, rows: int) -> tuple[int, float]:
    """One transaction per row through the same store: entity rows, the fact, a journal entry.
    No conflict checks, no inverse rows, no rules: a lower bound on what per-row work costs."""
    ks = KnowSync(str(db))
    store = ks.store
    done = 0
    start = time.perf_counter()
    with csv_path.open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            s, r, o = line.rstrip("\n").split(",")
            with store.write() as tx:
                e = tx.new_edit(EditKind.IMPORT, "naive", {})
                tx.create_entities([s, o])
                tx.add_facts([Fact(Triple(s, r, o))], e)
                tx.update_edit(e, state=EditState.APPLIED)
            done += 1
            if done >= rows:
                break
    elapsed = time.perf_counter() - start
    ks.close()
    return done, elapsed


def raw_insert_ceiling(db: Path, rows: int, seed: int) -> float:
    """Fact rows per second that SQLite itself accepts through one executemany per 10,000
    rows into the store's own tables and indexes, with no Python work per row beyond the
    tuple: the ceiling any loader on this backend has on this machine."""
    from kg import SQLiteStore

    store = SQLiteStore(db)
    conn = store._conn()
    rng = random.Random(seed)
    entities = max(1000, rows // 5)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO entities(name, key, created_at) VALUES (?, ?, 't')",
        ((f"E{i}", f"e{i}") for i in range(entities)),
    )
    conn.execute(
        "INSERT INTO edits(kind, user, created_at, state, request) "
        "VALUES ('import', 'bench', 't', 'applied', '{}')"
    )
    conn.execute("COMMIT")
    batch = [
        (rng.randrange(1, entities), f"relation_{rng.randrange(60)}", rng.randrange(1, entities))
        for _ in range(rows)
    ]
    start = time.perf_counter()
    for i in range(0, rows, 10_000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR IGNORE INTO facts(s, r, o, kind, edit_id, user, created_at, valid_from) "
            "VALUES (?, ?, ?, 'asserted', 1, 'bench', 't', 1)",
            batch[i : i + 10_000],
        )
        conn.execute("COMMIT")
    rate = rows / (time.perf_counter() - start)
    store.close()
    return rate


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--naive-rows", type=int, default=20_000)
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--rollbacks", type=int, default=200)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, float | int | str] = {"triples": args.triples}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "triples.csv"
        generate(data, args.triples, args.seed)

        n, secs = naive_load(tmp / "naive.db", data, args.naive_rows)
        out["naive_rows"] = n
        out["naive_triples_per_s"] = round(n / secs)

        ks = KnowSync(str(tmp / "kb.db"))
        start = time.perf_counter()
        report = ks.import_file(data, chunk_size=args.chunk_size)
        secs = time.perf_counter() - start
        out["import_seconds"] = round(secs, 1)
        out["import_triples_per_s"] = round(report.rows / secs)
        out["import_added"] = report.added
        out["import_derived"] = report.derived
        out["import_skipped"] = len(report.skipped)
        out["ratio_vs_naive"] = round(out["import_triples_per_s"] / out["naive_triples_per_s"], 1)
        stats = ks.stats()
        out["facts_in_force"] = stats["asserted"] + stats["inverse"] + stats["composed"]
        out["entities"] = stats["entities"]

        rng = random.Random(args.seed + 1)
        schema = ks.schema
        relations = [r.name for r in schema.relations if not schema.composed(r.name)]
        people = max(1000, args.triples // 6)
        lat: list[float] = []
        for _ in range(args.checks):
            triple = (
                f"Person_{rng.randrange(people)}",
                rng.choice(relations),
                f"Thing_{rng.randrange(people)}",
            )
            t0 = time.perf_counter()
            ks.check(triple)
            lat.append((time.perf_counter() - t0) * 1000)
        out["check_p50_ms"] = round(statistics.median(lat), 3)
        out["check_p99_ms"] = round(percentile(lat, 0.99), 3)

        edits = []
        functional = [r for r in relations if schema.functional(r)]
        for i in range(args.rollbacks):
            res = ks.edit(
                [(f"Person_{rng.randrange(people)}", rng.choice(functional), f"Bench_Value_{i}")],
                user="bench",
            )
            edits.append(res.edit_id)
        rb: list[float] = []
        for eid in reversed(edits):
            t0 = time.perf_counter()
            ks.rollback(eid, user="bench")
            rb.append((time.perf_counter() - t0) * 1000)
        out["rollback_p50_ms"] = round(statistics.median(rb), 2)
        out["rollback_p99_ms"] = round(percentile(rb, 0.99), 2)
        ks.close()
        out["peak_rss_mib"] = round(peak_rss_mib(), 1)
        out["db_size_mib"] = round((tmp / "kb.db").stat().st_size / 2**20, 1)
        out["sqlite_ceiling_rows_per_s"] = round(
            raw_insert_ceiling(tmp / "ceiling.db", args.triples, args.seed)
        )
    if args.json:
        print(json.dumps(out))
        return
    print(f"knowsync symbolic core, {args.triples:,} generated triples, SQLite backend")
    print(
        f"  import:         {out['import_triples_per_s']:>10,} triples/s "
        f"({out['import_seconds']} s; {out['import_added']:,} added, "
        f"{out['import_derived']:,} derived)   goal >= 50,000"
    )
    print(
        f"  naive loader:   {out['naive_triples_per_s']:>10,} triples/s "
        f"(one transaction per row, first {out['naive_rows']:,} rows)"
    )
    print(f"  ratio:          {out['ratio_vs_naive']:>10}x   goal >= 20x")
    print(
        f"  conflict check: p50 {out['check_p50_ms']} ms, p99 {out['check_p99_ms']} ms at "
        f"{out['facts_in_force']:,} facts   goal p99 < 2 ms"
    )
    print(f"  rollback:       p50 {out['rollback_p50_ms']} ms, p99 {out['rollback_p99_ms']} ms")
    print(f"  peak memory:    {out['peak_rss_mib']} MiB RSS   goal < 1024 MiB")
    print(f"  database file:  {out['db_size_mib']} MiB")
    print(
        f"  SQLite ceiling: {out['sqlite_ceiling_rows_per_s']:>10,} fact rows/s (bare executemany "
        "into the same tables and indexes, no Python work per row)"
    )


if __name__ == "__main__":
    main()
