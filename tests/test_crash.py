"""A process killed in the middle of an import or an edit leaves the store consistent: reopened,
it shows each edit whole or not at all, and the interrupted journal entry is marked aborted."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from knowsync import EditState, KnowSync

REPO = Path(__file__).resolve().parent.parent

# The child process dies by SIGKILL inside the write transaction of its Nth graph write, after
# facts were written and before the commit: the worst moment.
CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from kg._sqlite import _Txn
    from knowsync import KnowSync

    calls = {{"n": 0}}
    original = _Txn.add_facts

    def dying_add_facts(self, facts, edit_id):
        original(self, facts, edit_id)
        calls["n"] += 1
        if calls["n"] == {die_at}:
            os.kill(os.getpid(), signal.SIGKILL)

    _Txn.add_facts = dying_add_facts
    ks = KnowSync({db!r})
    {action}
""")


def run_child(db: Path, die_at: int, action: str) -> int:
    code = CHILD.format(repo=str(REPO), db=str(db), die_at=die_at, action=action)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    return proc.returncode


def write_rows(path: Path, n: int) -> Path:
    path.write_text(
        "head,relation,tail\n"
        + "".join(
            f"Person_{i},plays_for,Club_{i % 37}\nPerson_{i},born_in,Town_{i % 11}\n"
            for i in range(n)
        )
    )
    return path


def assert_whole_edits(ks: KnowSync) -> None:
    for record in ks.history(limit=None):
        added, retired = ks.edit_changes(record.id)
        if record.state is EditState.APPLIED and record.kind.value == "import":
            assert len([f for f in added if f.kind.value == "asserted"]) == record.report["added"]
        if record.state in (EditState.ABORTED, EditState.REFUSED, EditState.PENDING):
            assert added == [] and retired == []


def test_killed_import_recovers_and_reimport_completes(tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    data = write_rows(tmp_path / "rows.csv", 300)
    code = run_child(db, die_at=3, action=f"ks.import_file({str(data)!r}, chunk_size=100)")
    assert code == -9
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ks = KnowSync(str(db))
    assert len(ks.recovered) == 1
    aborted = ks.get_edit(ks.recovered[0])
    assert aborted.state is EditState.ABORTED
    assert_whole_edits(ks)
    assert ks.stats()["asserted"] == 200  # two whole chunks of 100 rows
    report = ks.import_file(data, chunk_size=100)
    assert report.duplicates == 200 and report.added == 400
    reference = KnowSync(str(tmp_path / "ref.db"))
    reference.import_file(data, chunk_size=100)
    assert {f.triple for f in ks.state()} == {f.triple for f in reference.state()}
    ks.close()
    reference.close()


@pytest.mark.parametrize("die_at", [1, 2])
def test_killed_edit_leaves_all_or_nothing(tmp_path: Path, die_at: int) -> None:
    db = tmp_path / "kb.db"
    ks = KnowSync(str(db))
    ks.edit([("France", "capital", "Lyon")])
    before = {f.triple for f in ks.state()}
    ks.close()
    action = "ks.edit([('France', 'capital', 'Paris')])\nks.edit([('Spain', 'capital', 'Madrid')])"
    assert run_child(db, die_at=die_at, action=action) == -9
    ks = KnowSync(str(db))
    after = {(f.subject, f.object) for f in ks.state()}
    if die_at == 1:
        assert {f.triple for f in ks.state()} == before
    else:
        assert after == {("France", "Paris")}
    assert_whole_edits(ks)
    assert [ks.get_edit(i).state for i in ks.recovered] == [EditState.ABORTED]
    ks.close()


def test_recovery_leaves_live_processes_alone(tmp_path: Path) -> None:
    ks = KnowSync(str(tmp_path / "kb.db"))
    from kg import EditKind

    with ks.store.write() as tx:  # a pending entry of this very (live) process
        import os
        import socket

        pending = tx.new_edit(
            EditKind.EDIT, "me", {"_owner": {"host": socket.gethostname(), "pid": os.getpid()}}
        )
    assert ks.recover() == []
    assert ks.get_edit(pending).state is EditState.PENDING
    ks.close()
