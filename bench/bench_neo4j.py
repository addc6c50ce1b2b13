"""Import throughput into Neo4j (or any Bolt server): knowsync's chunked import against a naive
loader that writes one transaction per row, as OneEdit's loader does, on the same server.
Prints figures; asserts nothing.

    python bench/bench_neo4j.py [--url bolt://user:pass@host:7687/neo4j] [--triples 20000]

Without --url (or $KNOWSYNC_BENCH_NEO4J_URL) it starts a local ArcadeDB Bolt server with
tests/bolt_server.sh and stops it afterwards. The database is wiped before each loader runs.
Goal (issue: the Neo4j backend): knowsync's import at least 20x the naive loader.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_kg import generate  # noqa: E402

from kg._neo4j import Neo4jStore  # noqa: E402
from knowsync import KnowSync  # noqa: E402


def wipe(url: str) -> None:
    store = Neo4jStore(url)
    with store.write() as tx:
        tx._run("MATCH (n) WHERE NOT n:KnowsyncMeta OR n.key <> 'writer' DETACH DELETE n")
    store.close()


def naive(url: str, csv_path: Path, rows: int) -> tuple[int, float]:
    """One auto-managed transaction per row: MERGE both entities, CREATE the relationship."""
    import neo4j

    store = Neo4jStore(url)  # creates the constraints the MERGE keys need
    store.close()
    from urllib.parse import urlsplit

    u = urlsplit(url)
    driver = neo4j.GraphDatabase.driver(
        f"{u.scheme}://{u.hostname}:{u.port}", auth=(u.username or "", u.password or "")
    )
    done = 0
    start = time.perf_counter()
    with (
        driver.session(database=u.path.strip("/") or "neo4j") as session,
        csv_path.open(encoding="utf-8") as fh,
    ):
        next(fh)
        for line in fh:
            s, r, o = line.rstrip("\n").split(",")
            session.execute_write(
                lambda tx, s=s, r=r, o=o: tx.run(
                    "MERGE (a:Entity {key: $sk}) ON CREATE SET a.name = $s "
                    "MERGE (b:Entity {key: $ok}) ON CREATE SET b.name = $o "
                    "CREATE (a)-[:FACT {relation: $r}]->(b)",
                    s=s,
                    sk=s.lower(),
                    o=o,
                    ok=o.lower(),
                    r=r,
                ).consume()
            )
            done += 1
            if done >= rows:
                break
    elapsed = time.perf_counter() - start
    driver.close()
    return done, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("KNOWSYNC_BENCH_NEO4J_URL"))
    ap.add_argument("--triples", type=int, default=20_000)
    ap.add_argument("--naive-rows", type=int, default=2_000)
    ap.add_argument("--chunk-size", type=int, default=5_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    started = False
    url = args.url
    if not url:
        url = subprocess.run(
            ["bash", str(REPO / "tests" / "bolt_server.sh"), "start"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        started = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "triples.csv"
            generate(data, args.triples, seed=7)
            wipe(url)
            n, secs = naive(url, data, args.naive_rows)
            naive_rate = n / secs
            wipe(url)
            ks = KnowSync(url)
            start = time.perf_counter()
            report = ks.import_file(data, chunk_size=args.chunk_size)
            secs = time.perf_counter() - start
            ks.close()
            rate = report.rows / secs
            out = {
                "triples": args.triples,
                "import_triples_per_s": round(rate),
                "import_seconds": round(secs, 1),
                "naive_rows": n,
                "naive_triples_per_s": round(naive_rate),
                "ratio_vs_naive": round(rate / naive_rate, 1),
                "added": report.added,
                "derived": report.derived,
            }
            wipe(url)
    finally:
        if started:
            subprocess.run(["bash", str(REPO / "tests" / "bolt_server.sh"), "stop"], check=False)
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"knowsync Neo4j backend, {args.triples:,} generated triples, server {url.split('@')[-1]}"
    )
    print(
        f"  import:       {out['import_triples_per_s']:>8,} triples/s ({out['import_seconds']} s;"
        f" {out['added']:,} added, {out['derived']:,} derived)"
    )
    print(
        f"  naive loader: {out['naive_triples_per_s']:>8,} triples/s (one transaction per row, "
        f"first {n:,} rows)"
    )
    print(f"  ratio:        {out['ratio_vs_naive']:>8}x   goal >= 20x")


if __name__ == "__main__":
    main()
