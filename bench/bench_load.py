"""Reads under write load through the HTTP API: read latency (p50, p95, max) with the store
free and with its write lock held, the writes done, and every acknowledged write checked to
be in the journal exactly once.

Two servers, each over a fresh SQLite store in a temporary folder, each on a free loopback
port (every request goes to 127.0.0.1, and each phase is bounded in time and in requests):

1. ``knowsync serve`` in a subprocess: ``--readers`` threads read (``/stats``, an entity's
   facts, the journal) while ``--writers`` threads write (``/triples``, a new fact each, with
   an idempotency key, retried with the same key when the answer is lost) for ``--seconds``.
2. The same API served by uvicorn in a thread of this process, so that the bench itself can
   take the knowledge base's write lock (nothing in the product can): ``--phase-seconds``
   with the store free, then ``--phase-seconds`` with the write lock held while the writers
   and ``--waiting-writes`` more writes arrive and wait. The lock is then released, and every
   write must complete. The client threads share this process with the server here, so its
   figures compare with each other, not with phase 1.

Usage (from the repository root)::

    python bench/bench_load.py                  # 60 s against knowsync serve, 2 x 10 s in-process
    python bench/bench_load.py --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowsync import KnowSync

REPO = Path(__file__).resolve().parents[1]
V1 = "/api/v1"
RELATION = "influences"  # many-to-many in the default schema: new facts never supersede
SEEDS = [("Ada Lovelace", RELATION, "Alan Turing"), ("Alan Turing", RELATION, "John McCarthy")]
Triple = tuple[str, str, str]


@dataclass
class Tally:
    """What one phase measured; threads add to it under its lock."""

    reads: list[float] = field(default_factory=list)  # seconds per answered read
    read_errors: int = 0
    acknowledged: dict[Triple, int] = field(default_factory=dict)  # triple -> edit id
    write_errors: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, limit: int) -> bool:
        """Count one request; False once the phase has sent ``limit``."""
        with self.lock:
            self.requests += 1
            return self.requests <= limit


@dataclass(frozen=True)
class Accounts:
    reader: str
    writer: str


# ----------------------------------------------------------------- the clients


def reader(url: str, token: str, tally: Tally, until: float, limit: int) -> None:
    """Read in turn the counts, an entity's facts and the journal until ``until``."""
    paths = itertools.cycle(
        [f"{V1}/stats", f"{V1}/entities/{SEEDS[0][0]}/facts", f"{V1}/edits?limit=20"]
    )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        while time.monotonic() < until and tally.take(limit):
            start = time.perf_counter()
            try:
                ok = http.get(next(paths)).status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.perf_counter() - start
            with tally.lock:
                if ok:
                    tally.reads.append(took)
                else:
                    tally.read_errors += 1


def write_one(http: httpx.Client, triple: Triple, key: str, tally: Tally) -> None:
    """One new fact, its answer recorded when it is acknowledged; a lost answer (a transport
    error, 429 or 5xx) is retried with the same key, which the server applies once at most."""
    body = {"assert": [list(triple)]}
    for attempt in range(5):
        try:
            r = http.post(f"{V1}/triples", json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError:
            time.sleep(0.1 * 2**attempt)
            continue
        if r.status_code == 429 or r.status_code >= 500:
            time.sleep(0.1 * 2**attempt)
            continue
        data = r.json() if r.status_code == 200 else {}
        with tally.lock:
            if data.get("decision") == "accepted" and data.get("edit_id"):
                tally.acknowledged[triple] = int(data["edit_id"])
            else:
                tally.write_errors += 1
        return
    with tally.lock:
        tally.write_errors += 1


def writer(
    url: str, token: str, name: str, tally: Tally, until: float, limit: int, timeout: float = 30
) -> None:
    """Write new facts (``NAME-i influences target-i``) until ``until``."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=timeout, headers=headers) as http:
        for i in itertools.count():
            if time.monotonic() >= until or not tally.take(limit):
                return
            write_one(http, (f"{name}-{i}", RELATION, f"target-{i}"), f"{name}-{i}", tally)


def run_threads(targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def load(
    url: str,
    accounts: Accounts,
    tally: Tally,
    args: argparse.Namespace,
    seconds: float,
    tag: str,
) -> None:
    """``args.readers`` readers and ``args.writers`` writers for ``seconds``."""
    until = time.monotonic() + seconds
    limit = args.max_requests
    run_threads(
        [
            *(
                lambda: reader(url, accounts.reader, tally, until, limit)
                for _ in range(args.readers)
            ),
            *(
                lambda n=n: writer(url, accounts.writer, f"{tag}-w{n}", tally, until, limit)
                for n in range(args.writers)
            ),
        ]
    )


# ------------------------------------------------------------------ the servers


def prepared_store(path: Path) -> Accounts:
    """A store with a viewer, an editor and a few facts to read."""
    with KnowSync(str(path)) as ks:
        ks.add_user("bench-admin", "admin")
        _, reading = ks.add_user("bench-reader", "viewer", by="bench-admin")
        _, writing = ks.add_user("bench-writer", "editor", by="bench-admin")
        ks.submit_triples(SEEDS, user="bench-admin")
    return Accounts(reading, writing)


@contextlib.contextmanager
def served_by_cli(db: Path) -> Iterator[str]:
    """``knowsync serve`` on a free loopback port (it picks one and prints its URL)."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "ui.cli", "serve", "--store", str(db)),
            *("--host", "127.0.0.1", "--port", "0", "--no-web", "--model", "none"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KNOWSYNC_MODEL": "none"},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            line = proc.stdout.readline() if ready else ""
            if "serving http://" in line:
                url = line.split("serving ")[1].split()[0]
        if url is None:
            raise RuntimeError("knowsync serve did not start")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@contextlib.contextmanager
def served_in_process(ks: KnowSync) -> Iterator[str]:
    """The API over ``ks`` served by uvicorn in a thread, on a free loopback port."""
    import uvicorn

    from ui.api import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(ks, web=False), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, name="bench-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# -------------------------------------------------------------------- checking


def journal_check(ks: KnowSync, acknowledged: dict[Triple, int]) -> tuple[bool, str]:
    """Whether every acknowledged write is in the journal exactly once, under its edit id."""
    applied: Counter[Triple] = Counter()
    where: dict[Triple, int] = {}
    for record in ks.history(user="bench-writer", limit=None):
        if record.state.value != "applied":
            continue
        for t in record.request.get("assert", []):
            triple = (str(t[0]), str(t[1]), str(t[2]))
            applied[triple] += 1
            where[triple] = record.id
    missing = [t for t in acknowledged if applied[t] == 0]
    doubled = [t for t in acknowledged if applied[t] > 1]
    moved = [t for t, eid in acknowledged.items() if applied[t] == 1 and where[t] != eid]
    unanswered = sum(1 for t in applied if t not in acknowledged)
    ok = not (missing or doubled or moved)
    return ok, (
        f"{len(acknowledged)} acknowledged writes: {len(missing)} missing, {len(doubled)} "
        f"applied twice, {len(moved)} under another edit id; {unanswered} applied without an "
        "acknowledgement (their answers were lost)"
    )


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def report_line(label: str, tally: Tally, seconds: float, extra: str = "") -> str:
    reads = sorted(tally.reads)
    ms = [1000 * quantile(reads, 0.5), 1000 * quantile(reads, 0.95), 1000 * max(reads or [0])]
    return (
        f"{label:<42} {len(reads):>7} {len(reads) / seconds:>7.0f} {ms[0]:>8.1f} {ms[1]:>8.1f} "
        f"{ms[2]:>8.1f} {tally.read_errors:>6} {len(tally.acknowledged):>7} "
        f"{tally.write_errors:>6}{extra}"
    )


HEADER = (
    f"{'phase':<42} {'reads':>7} {'read/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
    f"{'r.err':>6} {'writes':>7} {'w.err':>6}"
)


# ------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="phase 1 (default 60)")
    parser.add_argument(
        "--phase-seconds", type=float, default=10.0, help="each in-process phase (default 10)"
    )
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument(
        "--waiting-writes",
        type=int,
        default=45,
        help="writes sent while the write lock is held (default 45, more than the 40 threads "
        "of the shared threadpool)",
    )
    parser.add_argument(
        "--max-requests", type=int, default=500_000, help="the most requests of one phase"
    )
    args = parser.parse_args(argv)
    if min(args.seconds, args.phase_seconds) <= 0 or min(args.readers, args.writers) < 1:
        parser.error("give positive durations and at least one reader and one writer")
    ok = True
    print(
        f"{args.readers} readers, {args.writers} writers; load average at start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="knowsync-bench-load-") as tmp:
        # ---- phase 1: knowsync serve in a subprocess
        db = Path(tmp) / "serve.db"
        accounts = prepared_store(db)
        serve = Tally()
        with served_by_cli(db) as url:
            load(url, accounts, serve, args, args.seconds, "serve")
        print(HEADER)
        print(report_line("knowsync serve, store free", serve, args.seconds))
        with KnowSync(str(db)) as ks:
            good, text = journal_check(ks, serve.acknowledged)
        ok &= good
        print(f"  journal: {'OK' if good else 'FAILED'}: {text}")

        # ---- phase 2: in-process, without and with the write lock held
        accounts = prepared_store(Path(tmp) / "inproc.db")
        ks = KnowSync(str(Path(tmp) / "inproc.db"))
        free, held = Tally(), Tally()
        try:
            with served_in_process(ks) as url:
                load(url, accounts, free, args, args.phase_seconds, "free")
                print(report_line("in-process, store free", free, args.phase_seconds))
                done_while_held = held_phase(ks, url, accounts, held, args)
            print(
                report_line(
                    f"in-process, write lock held ({args.waiting_writes + args.writers} wait)",
                    held,
                    args.phase_seconds,
                )
            )
            print(
                f"  writes answered while the lock was held: {done_while_held} (expected 0); "
                f"after it was released: {len(held.acknowledged) - done_while_held}"
            )
            good, text = journal_check(ks, {**free.acknowledged, **held.acknowledged})
        finally:
            ks.close()
        ok &= good and done_while_held == 0 and held.write_errors == 0
        print(f"  journal: {'OK' if good else 'FAILED'}: {text}")
    return 0 if ok else 1


def held_phase(
    ks: KnowSync, url: str, accounts: Accounts, tally: Tally, args: argparse.Namespace
) -> int:
    """Readers and writers while the bench holds the write lock for ``args.phase_seconds``,
    plus ``args.waiting_writes`` single writes sent at its start; the lock is released after
    the phase, and every write is let finish. Returns the writes answered while it was held."""
    taken, release = threading.Event(), threading.Event()
    done_while_held = 0

    def hold() -> None:
        with ks._write_lock:
            taken.set()
            release.wait(args.phase_seconds + 5)

    holder = threading.Thread(target=hold, name="bench-lock", daemon=True)
    holder.start()
    taken.wait(10)
    until = time.monotonic() + args.phase_seconds
    limit = args.max_requests
    headers = {"Authorization": f"Bearer {accounts.writer}"}

    def one_write(n: int) -> None:
        with httpx.Client(base_url=url, timeout=120, headers=headers) as http:
            write_one(http, (f"held-{n}", RELATION, f"target-{n}"), f"held-{n}", tally)

    clients = [threading.Thread(target=one_write, args=(n,)) for n in range(args.waiting_writes)]
    for c in clients:
        c.start()

    def release_at_the_end() -> None:
        nonlocal done_while_held
        time.sleep(max(0.0, until - time.monotonic()))
        with tally.lock:
            done_while_held = len(tally.acknowledged)
        release.set()

    run_threads(
        [
            release_at_the_end,
            *(
                lambda: reader(url, accounts.reader, tally, until, limit)
                for _ in range(args.readers)
            ),
            *(
                lambda n=n: writer(
                    url, accounts.writer, f"held-w{n}", tally, until, limit, timeout=120
                )
                for n in range(args.writers)
            ),
        ]
    )
    for c in clients:
        c.join()
    holder.join()
    return done_while_held


if __name__ == "__main__":
    sys.exit(main())
