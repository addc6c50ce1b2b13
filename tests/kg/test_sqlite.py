"""Behaviour specific to the embedded SQLite backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kg import SQLiteStore, StoreError, open_store

from .test_contract import _seed


def test_a_database_locked_by_another_process_gives_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "kb.db", timeout=0.2)
    _seed(store)
    other = sqlite3.connect(tmp_path / "kb.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another writer"), store.write() as tx:
            tx.create_entities(["Blocked"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    with store.read() as view:
        assert view.entities(["Blocked"]) == {}
        assert view.count_facts()["asserted"] == 2
    store.close()


def test_foreign_sqlite_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a knowsync store"):
        SQLiteStore(path)
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a usable knowsync database"):
        SQLiteStore(tmp_path / "junk.db")


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store("sqlite:///rel.db").url.endswith(str(tmp_path / "rel.db"))
    assert open_store(f"sqlite:///{tmp_path}/abs.db").url.endswith("abs.db")
    assert open_store(str(tmp_path / "plain.db")).url.endswith("plain.db")
    assert open_store("memory://").url == "sqlite://"
    with pytest.raises(StoreError, match="no knowledge base"):
        open_store(str(tmp_path / "absent.db"), create=False)
    with pytest.raises(StoreError, match="is a folder"):
        open_store(str(tmp_path))
    monkeypatch.setenv("KNOWSYNC_STORE", str(tmp_path / "env.db"))
    assert open_store().url.endswith("env.db")


def test_a_format_2_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    with store.write() as tx:
        tx.create_entities(["A"])
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE docs")
    conn.execute("UPDATE meta SET value = 'knowsync-sqlite/2' WHERE key = 'format'")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    with store.write() as tx:
        tx.put_doc("k", "a", {"x": 1})
    with store.read() as view:
        assert view.doc("k", "a") == {"x": 1}
        assert view.entities(["A"])
    store.close()
