"""The embedded default backend: one SQLite file (WAL, foreign keys), no server."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kg._errors import InputError, NotFoundError, StoreError
from kg._names import entity_key
from kg._schema import Schema, SchemaCache
from kg._store import iter_chunks
from kg._types import (
    EditKind,
    EditRecord,
    EditState,
    Entity,
    Fact,
    FactKind,
    Lock,
    TouchKey,
    Triple,
    now_iso,
)

__all__ = ["SQLiteStore"]

FORMAT = "knowsync-sqlite/3"
_UPGRADES = {"knowsync-sqlite/2": "knowsync-sqlite/3"}  # /3 adds the docs table
# valid_to of a fact in force. A sentinel rather than NULL lets one unique index on
# (s, r, o, valid_to) both keep one row in force per triple and serve history lookups.
LIVE = 1 << 62
_CHUNK = 400  # bound on host parameters per statement (SQLite allows 32766 on 3.32+)
_PAGE = 1000  # fact rows per page of iter_facts

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    key TEXT PRIMARY KEY,
    alias TEXT NOT NULL,
    entity_id INTEGER NOT NULL REFERENCES entities(id)
);
CREATE INDEX IF NOT EXISTS aliases_entity ON aliases(entity_id);
CREATE TABLE IF NOT EXISTS edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    report TEXT NOT NULL DEFAULT '{}',
    rollback_of INTEGER REFERENCES edits(id),
    rolled_back_by INTEGER REFERENCES edits(id),
    batch TEXT
);
CREATE INDEX IF NOT EXISTS edits_user ON edits(user, id);
CREATE INDEX IF NOT EXISTS edits_batch ON edits(batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY,
    s INTEGER NOT NULL REFERENCES entities(id),
    r TEXT NOT NULL,
    o INTEGER NOT NULL REFERENCES entities(id),
    kind TEXT NOT NULL CHECK (kind IN ('asserted', 'inverse', 'composed')),
    edit_id INTEGER,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rule TEXT,
    premises TEXT,
    valid_from INTEGER NOT NULL REFERENCES edits(id),
    valid_to INTEGER NOT NULL DEFAULT 4611686018427387904
);
CREATE UNIQUE INDEX IF NOT EXISTS facts_sro ON facts(s, r, o, valid_to);
CREATE INDEX IF NOT EXISTS facts_or ON facts(o, r, valid_to);
CREATE INDEX IF NOT EXISTS facts_from ON facts(valid_from);
CREATE INDEX IF NOT EXISTS facts_to ON facts(valid_to) WHERE valid_to < 4611686018427387904;
CREATE TABLE IF NOT EXISTS reads (
    edit_id INTEGER NOT NULL REFERENCES edits(id),
    s INTEGER,
    r TEXT NOT NULL,
    o INTEGER
);
CREATE INDEX IF NOT EXISTS reads_key ON reads(r, s, o);
CREATE TABLE IF NOT EXISTS locks (
    id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    r TEXT,
    o INTEGER REFERENCES entities(id),
    user TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS locks_entity ON locks(entity_id);
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""

_FACT_COLUMNS = (
    "se.name, f.r, oe.name, f.kind, f.edit_id, f.user, f.created_at, f.rule, f.premises, "
    "f.valid_from, f.valid_to"
)
_FACT_FROM = "facts f JOIN entities se ON se.id = f.s JOIN entities oe ON oe.id = f.o"


def _fact(row: Sequence[Any]) -> Fact:
    premises: tuple[Triple, ...] = ()
    if row[8]:
        premises = tuple(Triple(*p) for p in json.loads(row[8]))
    return Fact(
        triple=Triple(row[0], row[1], row[2]),
        kind=FactKind(row[3]),
        edit_id=row[4],
        user=row[5],
        created_at=row[6],
        rule=row[7],
        premises=premises,
        valid_from=row[9],
        valid_to=None if row[10] == LIVE else row[10],
    )


def _edit(row: Sequence[Any]) -> EditRecord:
    return EditRecord(
        id=row[0],
        kind=EditKind(row[1]),
        user=row[2],
        created_at=row[3],
        state=EditState(row[4]),
        request=json.loads(row[5]),
        report=json.loads(row[6]),
        rollback_of=row[7],
        rolled_back_by=row[8],
        batch=row[9],
    )


_EDIT_COLUMNS = (
    "id, kind, user, created_at, state, request, report, rollback_of, rolled_back_by, batch"
)


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Map sqlite3's errors to StoreError, in one place."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreError(
                f"{what}: the database is locked by another writer; try again shortly",
                transient=True,
            ) from exc
        if "unable to open" in text:
            raise StoreError(f"{what}: cannot open the database file ({text})") from exc
        if "readonly" in text:
            raise StoreError(f"{what}: the database file is read-only") from exc
        raise StoreError(f"{what}: {text}") from exc
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"{what}: integrity check failed ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{what}: not a usable knowsync database ({exc})") from exc


class _View:
    """Reads over one connection inside an open transaction."""

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self._ids: dict[str, int] = {}

    # ------------------------------------------------------------------ helpers

    def _folded(self) -> bool:
        schema = self.schema
        return schema is None or schema.entity_keys == "folded"

    def _id_of(self, name: str) -> int | None:
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        row = self._conn.execute("SELECT id FROM entities WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        self._ids[name] = row[0]
        return int(row[0])

    def _ids_of(self, names: Iterable[str]) -> dict[str, int]:
        wanted = [n for n in set(names) if n not in self._ids]
        for chunk in iter_chunks(wanted, _CHUNK):
            marks = ",".join("?" * len(chunk))
            for eid, name in self._conn.execute(
                f"SELECT id, name FROM entities WHERE name IN ({marks})", chunk
            ):
                self._ids[name] = eid
        return self._ids

    def _patterns(self, keys: Iterable[TouchKey]) -> list[tuple[int | None, str, int | None]]:
        """Patterns (s, r, o) in entity ids, without duplicates. A pattern naming an entity
        that does not exist matches nothing and is dropped."""
        keys = list(dict.fromkeys(keys))
        ids = self._ids_of(n for s, _, o in keys for n in (s, o) if n is not None)
        out: list[tuple[int | None, str, int | None]] = []
        for s, r, o in keys:
            sid = ids.get(s) if s is not None else None
            oid = ids.get(o) if o is not None else None
            if (s is None or sid is not None) and (o is None or oid is not None):
                out.append((sid, r, oid))
        return out

    @staticmethod
    def _where(sid: int | None, r: str, oid: int | None, alias: str = "") -> tuple[str, list[Any]]:
        """The condition matching a pattern in ids, and its parameters."""
        cond = [f"{alias}r = ?"]
        params: list[Any] = [r]
        if sid is not None:
            cond.append(f"{alias}s = ?")
            params.append(sid)
        if oid is not None:
            cond.append(f"{alias}o = ?")
            params.append(oid)
        return " AND ".join(cond), params

    # --------------------------------------------------------------------- reads

    @property
    def schema(self) -> Schema | None:
        return self._store._schema_for(self._conn)

    def entities(self, names: Iterable[str]) -> dict[str, Entity]:
        folded = self._folded()
        by_key: dict[str, list[str]] = {}
        for name in names:
            by_key.setdefault(entity_key(name, folded=folded), []).append(name)
        out: dict[str, Entity] = {}
        keys = list(by_key)
        found: dict[str, tuple[int, str, str]] = {}
        has_aliases = self._conn.execute("SELECT 1 FROM aliases LIMIT 1").fetchone() is not None
        for chunk in iter_chunks(keys, _CHUNK):
            marks = ",".join("?" * len(chunk))
            for eid, name, key in self._conn.execute(
                f"SELECT id, name, key FROM entities WHERE key IN ({marks})", chunk
            ):
                found[key] = (eid, name, key)
            if not has_aliases:
                continue
            for key, eid, name, ekey in self._conn.execute(
                f"SELECT a.key, e.id, e.name, e.key FROM aliases a JOIN entities e "
                f"ON e.id = a.entity_id WHERE a.key IN ({marks})",
                chunk,
            ):
                found.setdefault(key, (eid, name, ekey))
        aliases = self._aliases({eid for eid, _, _ in found.values()})
        for key, (eid, name, ekey) in found.items():
            self._ids[name] = eid
            entity = Entity(name=name, key=ekey, aliases=aliases.get(eid, ()))
            for given in by_key[key]:
                out[given] = entity
        return out

    def _aliases(self, ids: set[int]) -> dict[int, tuple[str, ...]]:
        """Aliases of many entities in a few queries (most stores have none)."""
        out: dict[int, list[str]] = {}
        if not ids or self._conn.execute("SELECT 1 FROM aliases LIMIT 1").fetchone() is None:
            return {}
        for chunk in iter_chunks(sorted(ids), _CHUNK):
            marks = ",".join("?" * len(chunk))
            for eid, alias in self._conn.execute(
                f"SELECT entity_id, alias FROM aliases WHERE entity_id IN ({marks}) ORDER BY alias",
                chunk,
            ):
                out.setdefault(eid, []).append(alias)
        return {eid: tuple(names) for eid, names in out.items()}

    def search_entities(self, text: str, limit: int = 20) -> list[Entity]:
        key = entity_key(text, folded=self._folded())
        pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._conn.execute(
            "SELECT id, name, key FROM entities WHERE key LIKE ? ESCAPE '\\' "
            "ORDER BY (key NOT LIKE ? ESCAPE '\\'), length(key), key LIMIT ?",
            (pattern, pattern[1:], limit),
        ).fetchall()
        aliases = self._aliases({i for i, _, _ in rows})
        return [Entity(name=n, key=k, aliases=aliases.get(i, ())) for i, n, k in rows]

    def facts(
        self,
        *,
        subject: str | None = None,
        relation: str | None = None,
        object: str | None = None,
        kinds: Sequence[FactKind] | None = None,
        as_of: int | None = None,
        limit: int | None = None,
    ) -> list[Fact]:
        where: list[str] = []
        params: list[Any] = []
        for column, name in (("f.s", subject), ("f.o", object)):
            if name is not None:
                eid = self._id_of(name)
                if eid is None:
                    return []
                where.append(f"{column} = ?")
                params.append(eid)
        if relation is not None:
            where.append("f.r = ?")
            params.append(relation)
        if kinds:
            where.append(f"f.kind IN ({','.join('?' * len(kinds))})")
            params.extend(k.value for k in kinds)
        if as_of is None:
            where.append(f"f.valid_to = {LIVE}")
        else:
            where.append("f.valid_from <= ? AND f.valid_to > ?")
            params += [as_of, as_of]
        sql = f"SELECT {_FACT_COLUMNS} FROM {_FACT_FROM} WHERE {' AND '.join(where)} ORDER BY f.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_fact(r) for r in self._conn.execute(sql, params)]

    def iter_facts(self, *, as_of: int | None = None) -> Iterator[Fact]:
        # keyset pages over the primary key: no statement stays open between pages
        if as_of is None:
            where, params = f"f.valid_to = {LIVE}", []
        else:
            where, params = "f.valid_from <= ? AND f.valid_to > ?", [as_of, as_of]
        sql = (
            f"SELECT f.id, {_FACT_COLUMNS} FROM {_FACT_FROM} "
            f"WHERE f.id > ? AND {where} ORDER BY f.id LIMIT {_PAGE}"
        )
        after = 0
        while True:
            rows = self._conn.execute(sql, [after, *params]).fetchall()
            for row in rows:
                yield _fact(row[1:])
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def match(self, patterns: Iterable[TouchKey]) -> list[Fact]:
        rows = self._patterns(patterns)
        if not rows:
            return []
        conn = self._conn
        found: dict[int, Fact] = {}
        if len(rows) <= 16:
            for sid, r, oid in rows:
                where, params = self._where(sid, r, oid, "f.")
                for row in conn.execute(
                    f"SELECT f.id, {_FACT_COLUMNS} FROM {_FACT_FROM} "
                    f"WHERE {where} AND f.valid_to = {LIVE}",
                    params,
                ):
                    found[row[0]] = _fact(row[1:])
            return [found[k] for k in sorted(found)]
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS pat (s INTEGER, r TEXT NOT NULL, o INTEGER)")
        conn.execute("DELETE FROM temp.pat")
        conn.executemany("INSERT INTO temp.pat(s, r, o) VALUES (?, ?, ?)", rows)
        # CROSS JOIN keeps SQLite from scanning facts: loop over the patterns, probe the index.
        for join in (
            "p.s IS NOT NULL AND p.o IS NOT NULL AND f.s = p.s AND f.r = p.r AND f.o = p.o",
            "p.o IS NULL AND f.s = p.s AND f.r = p.r",
            "p.s IS NULL AND f.o = p.o AND f.r = p.r",
        ):
            for row in conn.execute(
                f"SELECT DISTINCT f.id, {_FACT_COLUMNS} FROM temp.pat p CROSS JOIN facts f "
                "CROSS JOIN entities se CROSS JOIN entities oe "
                f"WHERE {join} AND f.valid_to = {LIVE} AND se.id = f.s AND oe.id = f.o"
            ):
                found[row[0]] = _fact(row[1:])
        return [found[k] for k in sorted(found)]

    def count_facts(self) -> dict[str, int]:
        out = {k.value: 0 for k in FactKind}
        for kind, n in self._conn.execute(
            f"SELECT kind, count(*) FROM facts WHERE valid_to = {LIVE} GROUP BY kind"
        ):
            out[kind] = n
        out["entities"] = self._conn.execute("SELECT count(*) FROM entities").fetchone()[0]
        return out

    def edit(self, edit_id: int) -> EditRecord:
        row = self._conn.execute(
            f"SELECT {_EDIT_COLUMNS} FROM edits WHERE id = ?", (edit_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no edit with id {edit_id}; see the history for valid ids")
        return _edit(row)

    def edits(
        self,
        *,
        entity: str | None = None,
        user: str | None = None,
        kinds: Sequence[EditKind] | None = None,
        states: Sequence[EditState] | None = None,
        since: str | None = None,
        until: str | None = None,
        batch: str | None = None,
        after: int | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> list[EditRecord]:
        where: list[str] = []
        params: list[Any] = []
        if entity is not None:
            eid = self._id_of(entity)
            if eid is None:
                return []
            where.append(
                "(id IN (SELECT valid_from FROM facts WHERE s = ? OR o = ?) "
                "OR id IN (SELECT valid_to FROM facts WHERE (s = ? OR o = ?) "
                f"AND valid_to < {LIVE}))"
            )
            params += [eid, eid, eid, eid]
        if user is not None:
            where.append("user = ?")
            params.append(user)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(k.value for k in kinds)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(s.value for s in states)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if until is not None:
            where.append("created_at <= ?")
            params.append(until)
        if batch is not None:
            where.append("batch = ?")
            params.append(batch)
        if after is not None:
            where.append("id > ?")
            params.append(after)
        sql = f"SELECT {_EDIT_COLUMNS} FROM edits"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_edit(r) for r in self._conn.execute(sql, params)]

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        added = [
            _fact(r)
            for r in self._conn.execute(
                f"SELECT {_FACT_COLUMNS} FROM {_FACT_FROM} WHERE f.valid_from = ? ORDER BY f.id",
                (edit_id,),
            )
        ]
        retired = [
            _fact(r)
            for r in self._conn.execute(
                f"SELECT {_FACT_COLUMNS} FROM {_FACT_FROM} WHERE f.valid_to = ? "
                f"AND f.valid_to < {LIVE} ORDER BY f.id",  # the bound lets the partial index serve
                (edit_id,),
            )
        ]
        return added, retired

    def touching(self, keys: Iterable[TouchKey], after: int) -> set[int]:
        out: set[int] = set()
        for sid, r, oid in self._patterns(keys):
            c, params = self._where(sid, r, oid)
            for (eid,) in self._conn.execute(
                f"SELECT valid_from FROM facts WHERE {c} AND valid_from > ? "
                f"UNION SELECT valid_to FROM facts WHERE {c} AND valid_to > ? "
                f"AND valid_to < {LIVE} "
                f"UNION SELECT edit_id FROM reads WHERE {c} AND edit_id > ?",
                [*params, after, *params, after, *params, after],
            ):
                out.add(eid)
            # A read recorded as a slot (s, r, None) or (None, r, o) is touched by any fact
            # that fills the slot.
            if sid is not None and oid is not None:
                for (eid,) in self._conn.execute(
                    "SELECT edit_id FROM reads WHERE r = ? AND edit_id > ? AND "
                    "((s = ? AND o IS NULL) OR (s IS NULL AND o = ?))",
                    (r, after, sid, oid),
                ):
                    out.add(eid)
        return out

    def locks(self, entity: str | None = None) -> list[Lock]:
        sql = (
            "SELECT l.id, e.name, l.r, oe.name, l.user, l.reason, l.created_at FROM locks l "
            "JOIN entities e ON e.id = l.entity_id LEFT JOIN entities oe ON oe.id = l.o"
        )
        params: list[Any] = []
        if entity is not None:
            eid = self._id_of(entity)
            if eid is None:
                return []
            sql += " WHERE l.entity_id = ?"
            params.append(eid)
        sql += " ORDER BY l.id"
        return [Lock(*row) for row in self._conn.execute(sql, params)]

    def last_edit_id(self) -> int:
        row = self._conn.execute("SELECT max(id) FROM edits").fetchone()
        return int(row[0] or 0)

    def doc(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT value FROM docs WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def docs(self, kind: str, *, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        rows = self._conn.execute(
            "SELECT key, value FROM docs WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key",
            (kind, len(prefix), prefix),
        )
        return [(k, dict(json.loads(v))) for k, v in rows]


class _Txn(_View):
    """Writes inside one IMMEDIATE transaction."""

    def save_schema(self, schema: Schema) -> None:
        self._conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (schema.to_json(),),
        )

    def create_entities(self, names: Iterable[str]) -> None:
        folded = self._folded()
        now = now_iso()
        rows: dict[str, tuple[str, str, str]] = {}
        for name in names:
            if name not in self._ids:
                rows.setdefault(name, (name, entity_key(name, folded=folded), now))
        if not rows:
            return
        self._conn.executemany(
            "INSERT INTO entities(name, key, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            rows.values(),
        )
        self._ids_of(rows)

    def add_alias(self, entity: str, alias: str) -> None:
        eid = self._id_of(entity)
        if eid is None:
            raise NotFoundError(f"no entity named {entity!r}")
        key = entity_key(alias, folded=self._folded())
        owner = self._conn.execute(
            "SELECT id, name FROM entities WHERE key = ? UNION ALL "
            "SELECT e.id, e.name FROM aliases a JOIN entities e ON e.id = a.entity_id "
            "WHERE a.key = ?",
            (key, key),
        ).fetchone()
        if owner is not None and owner[0] != eid:
            raise InputError(f"alias {alias!r} already names entity {owner[1]!r}", field="alias")
        if owner is None:
            self._conn.execute(
                "INSERT INTO aliases(key, alias, entity_id) VALUES (?, ?, ?)", (key, alias, eid)
            )

    def new_edit(
        self,
        kind: EditKind,
        user: str,
        request: dict[str, Any],
        *,
        state: EditState = EditState.PENDING,
        rollback_of: int | None = None,
        batch: str | None = None,
    ) -> int:
        cur = self._conn.execute(
            "INSERT INTO edits(kind, user, created_at, state, request, rollback_of, batch) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                kind.value,
                user,
                now_iso(),
                state.value,
                json.dumps(request, ensure_ascii=False),
                rollback_of,
                batch,
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update_edit(
        self,
        edit_id: int,
        *,
        state: EditState | None = None,
        report: dict[str, Any] | None = None,
        rolled_back_by: int | None = None,
        clear_rolled_back_by: bool = False,
    ) -> None:
        sets: list[str] = []
        params: list[Any] = []
        if state is not None:
            sets.append("state = ?")
            params.append(state.value)
        if report is not None:
            sets.append("report = ?")
            params.append(json.dumps(report, ensure_ascii=False))
        if rolled_back_by is not None:
            sets.append("rolled_back_by = ?")
            params.append(rolled_back_by)
        if clear_rolled_back_by:
            sets.append("rolled_back_by = NULL")
        if not sets:
            return
        cur = self._conn.execute(
            f"UPDATE edits SET {', '.join(sets)} WHERE id = ?", [*params, edit_id]
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"no edit with id {edit_id}")

    def add_facts(self, facts: Iterable[Fact], edit_id: int) -> None:
        facts = list(facts)
        if not facts:
            return
        ids = self._ids_of(n for f in facts for n in (f.subject, f.object))
        record = self.edit(edit_id)
        rows = []
        for f in facts:
            try:
                sid, oid = ids[f.subject], ids[f.object]
            except KeyError as exc:
                raise StoreError(
                    f"entity {exc.args[0]!r} must be created before its facts"
                ) from None
            rows.append(
                (
                    sid,
                    f.relation,
                    oid,
                    f.kind.value,
                    f.edit_id if f.edit_id is not None else edit_id,
                    f.user or record.user,
                    f.created_at or record.created_at,
                    f.rule,
                    json.dumps([p.as_list() for p in f.premises], ensure_ascii=False)
                    if f.premises
                    else None,
                    edit_id,
                )
            )
        self._conn.executemany(
            "INSERT INTO facts(s, r, o, kind, edit_id, user, created_at, rule, premises, "
            "valid_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def retire_facts(self, triples: Iterable[Triple], edit_id: int) -> None:
        triples = list(triples)
        if not triples:
            return
        ids = self._ids_of(n for t in triples for n in (t.subject, t.object))
        rows = []
        for t in triples:
            sid, oid = ids.get(t.subject), ids.get(t.object)
            if sid is None or oid is None:
                raise StoreError(f"cannot retire {t}: no such fact")
            rows.append((edit_id, sid, t.relation, oid))
        cur = self._conn.executemany(
            f"UPDATE facts SET valid_to = ? WHERE s = ? AND r = ? AND o = ? AND valid_to = {LIVE}",
            rows,
        )
        if cur.rowcount != len(rows):
            raise StoreError(
                f"retiring {len(rows)} facts changed {cur.rowcount} rows; the plan is stale"
            )

    def add_reads(self, edit_id: int, keys: Iterable[TouchKey]) -> None:
        # an entity that does not exist cannot be touched later by name: such keys drop out
        rows = [(edit_id, sid, r, oid) for sid, r, oid in self._patterns(keys)]
        self._conn.executemany("INSERT INTO reads(edit_id, s, r, o) VALUES (?, ?, ?, ?)", rows)

    def add_lock(
        self, entity: str, relation: str | None, object: str | None, user: str, reason: str
    ) -> Lock:
        eid = self._id_of(entity)
        if eid is None:
            raise NotFoundError(f"no entity named {entity!r}")
        oid = None
        if object is not None:
            oid = self._id_of(object)
            if oid is None:
                raise NotFoundError(f"no entity named {object!r}")
        cur = self._conn.execute(
            "INSERT INTO locks(entity_id, r, o, user, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (eid, relation, oid, user, reason, now_iso()),
        )
        assert cur.lastrowid is not None
        return next(lk for lk in self.locks(entity) if lk.id == cur.lastrowid)

    def remove_lock(self, lock_id: int) -> Lock:
        found = [lk for lk in self.locks() if lk.id == lock_id]
        if not found:
            raise NotFoundError(f"no lock with id {lock_id}")
        self._conn.execute("DELETE FROM locks WHERE id = ?", (lock_id,))
        return found[0]

    def put_doc(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO docs(kind, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value",
            (kind, key, json.dumps(value, ensure_ascii=False, sort_keys=True)),
        )

    def delete_doc(self, kind: str, key: str) -> bool:
        cur = self._conn.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))
        return cur.rowcount > 0


class SQLiteStore:
    """A ``GraphStore`` in one SQLite file (or in memory when ``path`` is ``":memory:"``).

    Args:
        path: the database file, created when missing (its folder must exist), or ":memory:".
        create: when False, a missing file is an error instead of a new store.
        timeout: seconds to wait for another process's write lock before giving up.

    Raises:
        StoreError: the file cannot be opened, is locked, or is not a knowsync store.
    """

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 10.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.memory = self.path == ":memory:"
        self.url = "sqlite://" if self.memory else f"sqlite:///{Path(self.path).resolve()}"
        if not self.memory:
            p = Path(self.path)
            if not p.parent.exists():
                raise StoreError(f"cannot create {p}: folder {p.parent} does not exist")
            if not create and not p.exists():
                raise StoreError(
                    f"no knowledge base at {p}; import or edit something first, or check --store"
                )
            if p.is_dir():
                raise StoreError(f"{p} is a folder; give a database file path")
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.RLock()  # serializes writers in this process
        self._schemas = SchemaCache()
        self._shared: sqlite3.Connection | None = None
        with _translated(f"opening {self.path}"):
            conn = self._conn()
            self._init(conn)

    # -------------------------------------------------------------- connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=self.timeout,
            check_same_thread=self.memory is False,
        )
        conn.execute("PRAGMA foreign_keys = ON")
        if not self.memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA cache_size = -65536")
        self._all.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self.memory:
            # One connection shared by all threads: an in-memory database is per connection.
            if self._shared is None:
                self._shared = sqlite3.connect(
                    ":memory:", isolation_level=None, check_same_thread=False
                )
                self._shared.execute("PRAGMA foreign_keys = ON")
                self._all.append(self._shared)
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _init(self, conn: sqlite3.Connection) -> None:
        row = None
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(
                    f"{self.path} is an SQLite database but not a knowsync store"
                ) from None
        if row is not None:
            if row[0] in _UPGRADES:
                self._upgrade(conn)
            elif row[0] != FORMAT:
                raise StoreError(
                    f"{self.path} has format {row[0]!r}; this version reads {FORMAT!r}"
                )
            return
        with self._guard:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _DDL.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('format', ?) ON CONFLICT DO NOTHING",
                    (FORMAT,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Bring an older store up to FORMAT; the upgrades only add tables and indexes."""
        with self._guard:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                if row[0] != FORMAT:
                    for statement in _DDL.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -------------------------------------------------------------------- schema

    def _schema_for(self, conn: sqlite3.Connection) -> Schema | None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            return None
        return self._schemas.parse(row[0])

    # --------------------------------------------------------------- protocol

    @contextlib.contextmanager
    def read(self) -> Iterator[_View]:
        """A consistent snapshot for reading; never waits for the writer (WAL)."""
        if self.memory:
            with self._guard, _translated("reading"):
                yield _View(self, self._conn())
            return
        conn = self._conn()
        with _translated("reading"):
            conn.execute("BEGIN")
        try:
            with _translated("reading"):
                yield _View(self, conn)
        finally:
            conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def write(self) -> Iterator[_Txn]:
        """The one write transaction; commits when the block ends, rolls back on error."""
        with self._guard:
            conn = self._conn()
            with _translated("starting a write"):
                conn.execute("BEGIN IMMEDIATE")
            try:
                with _translated("writing"):
                    yield _Txn(self, conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            with _translated("committing"):
                conn.execute("COMMIT")

    def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._all.clear()
        self._local = threading.local()
        self._shared = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"
