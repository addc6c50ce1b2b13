"""The Neo4j backend: the same graph, journal and locks in a Neo4j 5 database over Bolt, through
the official driver. Every statement lives in ``kg._cypher``; values travel as parameters."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from kg import _cypher as q
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

__all__ = ["Neo4jStore"]

_ROWS = 1000  # rows per UNWIND


@contextlib.contextmanager
def _translated(what: str, url: str) -> Iterator[None]:
    """Map the driver's errors to StoreError, in one place."""
    from neo4j import exceptions as ne

    try:
        yield
    except ne.AuthError as exc:
        raise StoreError(f"{what}: {url} refused the credentials; check user and password") from exc
    except ne.ServiceUnavailable as exc:
        raise StoreError(f"{what}: cannot reach {url} ({exc}); is the server running?") from exc
    except ne.SessionExpired as exc:
        raise StoreError(
            f"{what}: the connection to {url} was lost; nothing was half-written"
        ) from exc
    except ne.TransientError as exc:
        raise StoreError(
            f"{what}: transient server error, try again ({exc.code})", transient=True
        ) from exc
    except ne.ClientError as exc:
        if "database" in str(exc).lower() and "not" in str(exc).lower():
            raise StoreError(f"{what}: the database does not exist on {url} ({exc})") from exc
        raise StoreError(f"{what}: {exc.code or ''} {exc.message or exc}") from exc
    except ne.DriverError as exc:
        raise StoreError(f"{what}: {exc}") from exc
    except ne.Neo4jError as exc:
        raise StoreError(f"{what}: {exc.code or ''} {exc.message or exc}") from exc


def _fact(rec: Any) -> Fact:
    premises: tuple[Triple, ...] = ()
    if rec["premises"]:
        premises = tuple(Triple(*p) for p in json.loads(rec["premises"]))
    return Fact(
        triple=Triple(rec["s"], rec["r"], rec["o"]),
        kind=FactKind(rec["kind"]),
        edit_id=rec["edit_id"],
        user=rec["user"],
        created_at=rec["created_at"],
        rule=rec["rule"],
        premises=premises,
        valid_from=rec["valid_from"],
        valid_to=None if rec["valid_to"] == q.LIVE else rec["valid_to"],
    )


def _edit(rec: Any) -> EditRecord:
    return EditRecord(
        id=rec["id"],
        kind=EditKind(rec["kind"]),
        user=rec["user"],
        created_at=rec["created_at"],
        state=EditState(rec["state"]),
        request=json.loads(rec["request"]),
        report=json.loads(rec["report"]),
        rollback_of=rec["rollback_of"],
        rolled_back_by=rec["rolled_back_by"],
        batch=rec["batch"],
    )


def _key_rows(keys: Iterable[TouchKey]) -> list[dict[str, str | None]]:
    return [{"s": s, "r": r, "o": o} for s, r, o in dict.fromkeys(keys)]


def _doc_id(kind: str, key: str) -> str:
    return f"{kind}\x00{key}"


class _View:
    def __init__(self, store: Neo4jStore, tx: Any) -> None:
        self._store = store
        self._tx = tx

    def _run(self, statement: str, **params: Any) -> list[Any]:
        return list(self._tx.run(statement, **params))

    def _folded(self) -> bool:
        schema = self.schema
        return schema is None or schema.entity_keys == "folded"

    @property
    def schema(self) -> Schema | None:
        rows = self._run(q.GET_META, key="schema")
        if not rows:
            return None
        return self._store._schemas.parse(rows[0]["value"])

    def entities(self, names: Iterable[str]) -> dict[str, Entity]:
        folded = self._folded()
        by_key: dict[str, list[str]] = {}
        for name in names:
            by_key.setdefault(entity_key(name, folded=folded), []).append(name)
        found: dict[str, tuple[str, str]] = {}
        has_aliases = bool(self._run(q.ANY_ALIAS))
        for chunk in iter_chunks(list(by_key), _ROWS):
            for rec in self._run(q.ENTITIES_BY_KEY, keys=list(chunk)):
                found[rec["key"]] = (rec["name"], rec["key"])
            if has_aliases:
                for rec in self._run(q.ALIASES_BY_KEY, keys=list(chunk)):
                    found.setdefault(rec["key"], (rec["name"], rec["ekey"]))
        aliases = self._aliases({name for name, _ in found.values()}) if has_aliases else {}
        out: dict[str, Entity] = {}
        for key, (name, ekey) in found.items():
            entity = Entity(name=name, key=ekey, aliases=aliases.get(name, ()))
            for given in by_key[key]:
                out[given] = entity
        return out

    def _aliases(self, names: set[str]) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for rec in self._run(q.ALIASES_OF, names=sorted(names)):
            out.setdefault(rec["name"], []).append(rec["alias"])
        return {k: tuple(v) for k, v in out.items()}

    def search_entities(self, text: str, limit: int = 20) -> list[Entity]:
        key = entity_key(text, folded=self._folded())
        rows = self._run(q.SEARCH_ENTITIES, text=key, limit=limit)
        rows.sort(key=lambda r: (not r["key"].startswith(key), len(r["key"]), r["key"]))
        aliases = self._aliases({r["name"] for r in rows}) if self._run(q.ANY_ALIAS) else {}
        return [
            Entity(name=r["name"], key=r["key"], aliases=aliases.get(r["name"], ())) for r in rows
        ]

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
        statement = q.facts_query(
            subject=subject is not None,
            relation=relation is not None,
            object=object is not None,
            kinds=bool(kinds),
            as_of=as_of is not None,
            limit=limit is not None,
        )
        return [
            _fact(r)
            for r in self._run(
                statement,
                subject=subject,
                relation=relation,
                object=object,
                kinds=[k.value for k in kinds or ()],
                as_of=as_of,
                limit=limit,
            )
        ]

    def iter_facts(self, *, as_of: int | None = None) -> Iterator[Fact]:
        # one statement whose records the driver pulls a page (fetch_size) at a time
        statement = q.all_facts_query(as_of=as_of is not None)
        for rec in self._tx.run(statement, as_of=as_of):
            yield _fact(rec)

    def match(self, patterns: Iterable[TouchKey]) -> list[Fact]:
        pats = list(dict.fromkeys(patterns))
        by_subject = [{"s": s, "r": r, "o": o} for s, r, o in pats if s is not None]
        by_object = [{"r": r, "o": o} for s, r, o in pats if s is None and o is not None]
        found: dict[tuple[int, Triple], Fact] = {}
        for statement, rows in ((q.MATCH_BY_SUBJECT, by_subject), (q.MATCH_BY_OBJECT, by_object)):
            for chunk in iter_chunks(rows, _ROWS):
                for rec in self._run(statement, pats=list(chunk)):
                    f = _fact(rec)
                    found[(rec["seq"], f.triple)] = f
        return [found[k] for k in sorted(found)]

    def count_facts(self) -> dict[str, int]:
        out = {k.value: 0 for k in FactKind}
        for rec in self._run(q.COUNT_FACTS):
            out[rec["kind"]] = rec["n"]
        out["entities"] = self._run(q.COUNT_ENTITIES)[0]["n"]
        return out

    def edit(self, edit_id: int) -> EditRecord:
        rows = self._run(q.GET_EDIT, id=edit_id)
        if not rows:
            raise NotFoundError(f"no edit with id {edit_id}; see the history for valid ids")
        return _edit(rows[0])

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
        ids: list[int] | None = None
        if entity is not None:
            rows = self._run(q.EDIT_IDS_OF_ENTITY, name=entity)
            ids = (
                sorted({i for i in [*rows[0]["a"], *rows[0]["b"]] if i is not None}) if rows else []
            )
            if not ids:
                return []
        statement = q.edits_query(
            ids=ids is not None,
            user=user is not None,
            kinds=bool(kinds),
            states=bool(states),
            since=since is not None,
            until=until is not None,
            batch=batch is not None,
            after=after is not None,
            limit=limit is not None,
            newest_first=newest_first,
        )
        return [
            _edit(r)
            for r in self._run(
                statement,
                ids=ids,
                user=user,
                kinds=[k.value for k in kinds or ()],
                states=[s.value for s in states or ()],
                since=since,
                until=until,
                batch=batch,
                after=after,
                limit=limit,
            )
        ]

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        added = [_fact(r) for r in self._run(q.FACTS_FROM, edit_id=edit_id)]
        retired = [_fact(r) for r in self._run(q.FACTS_TO, edit_id=edit_id)]
        return added, retired

    def touching(self, keys: Iterable[TouchKey], after: int) -> set[int]:
        rows = _key_rows(keys)
        by_subject = [k for k in rows if k["s"] is not None]
        by_object = [k for k in rows if k["s"] is None and k["o"] is not None]
        out: set[int] = set()
        for statement, part in (
            (q.TOUCHING_FACTS_BY_SUBJECT, by_subject),
            (q.TOUCHING_FACTS_BY_OBJECT, by_object),
        ):
            for chunk in iter_chunks(part, _ROWS):
                for rec in self._run(statement, keys=list(chunk), after=after):
                    for eid in (rec["a"], rec["b"]):
                        if eid is not None and after < eid < q.LIVE:
                            out.add(eid)
        for chunk in iter_chunks(rows, _ROWS):
            for rec in self._run(q.TOUCHING_READS, keys=list(chunk), after=after):
                out.add(rec["id"])
        return out

    def locks(self, entity: str | None = None) -> list[Lock]:
        return [
            Lock(
                r["id"],
                r["entity"],
                r["relation"],
                r["object"],
                r["user"],
                r["reason"],
                r["created_at"],
            )
            for r in self._run(q.LOCKS, entity=entity)
        ]

    def last_edit_id(self) -> int:
        rows = self._run(q.LAST_EDIT)
        return int(rows[0]["id"] or 0) if rows else 0

    def doc(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = self._run(q.GET_DOC, id=_doc_id(kind, key))
        return dict(json.loads(rows[0]["value"])) if rows else None

    def docs(self, kind: str, *, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        rows = self._run(q.DOCS, kind=kind, prefix=prefix)
        return [(r["key"], dict(json.loads(r["value"]))) for r in rows]


class _Txn(_View):
    def _next(self, counter: str, n: int = 1) -> int:
        """Reserve ``n`` ids of a counter; returns the last one."""
        rows = self._run(
            "MERGE (m:KnowsyncMeta {key: $counter}) "
            "SET m.value = coalesce(m.value, 0) + $n RETURN m.value AS id",
            counter=counter,
            n=n,
        )
        return int(rows[0]["id"])

    def save_schema(self, schema: Schema) -> None:
        self._run(q.SET_META, key="schema", value=schema.to_json())

    def create_entities(self, names: Iterable[str]) -> None:
        folded = self._folded()
        now = now_iso()
        rows = {
            n: {"name": n, "key": entity_key(n, folded=folded), "created_at": now} for n in names
        }
        for chunk in iter_chunks(list(rows.values()), _ROWS):
            self._run(q.CREATE_ENTITIES, rows=list(chunk))

    def add_alias(self, entity: str, alias: str) -> None:
        if not self._run(q.ENTITY_NAMES, names=[entity]):
            raise NotFoundError(f"no entity named {entity!r}")
        key = entity_key(alias, folded=self._folded())
        rows = self._run(q.OWNER_OF_KEY, key=key)
        owner = rows[0]["entity"] or rows[0]["alias_of"] if rows else None
        if owner is not None and owner != entity:
            raise InputError(f"alias {alias!r} already names entity {owner!r}", field="alias")
        if owner is None:
            self._run(q.ADD_ALIAS, key=key, alias=alias, entity=entity)

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
        edit_id = self._next("edit_seq")
        self._run(
            q.NEW_EDIT,
            id=edit_id,
            kind=kind.value,
            user=user,
            created_at=now_iso(),
            state=state.value,
            request=json.dumps(request, ensure_ascii=False),
            rollback_of=rollback_of,
            batch=batch,
        )
        return edit_id

    def update_edit(
        self,
        edit_id: int,
        *,
        state: EditState | None = None,
        report: dict[str, Any] | None = None,
        rolled_back_by: int | None = None,
        clear_rolled_back_by: bool = False,
    ) -> None:
        current = self.edit(edit_id)  # raises NotFoundError
        self._run(
            "MATCH (e:Edit {id: $id}) SET e.state = $state, e.report = $report, "
            "e.rolled_back_by = $rolled_back_by",
            id=edit_id,
            state=(state or current.state).value,
            report=json.dumps(report if report is not None else current.report, ensure_ascii=False),
            rolled_back_by=None
            if clear_rolled_back_by
            else (rolled_back_by if rolled_back_by is not None else current.rolled_back_by),
        )

    def add_facts(self, facts: Iterable[Fact], edit_id: int) -> None:
        facts = list(facts)
        if not facts:
            return
        record = self.edit(edit_id)
        first = self._next("fact_seq", len(facts)) - len(facts) + 1
        rows = []
        for i, f in enumerate(facts):
            row: dict[str, Any] = {"s": f.subject, "r": f.relation, "o": f.object, "i": i}
            if f.kind is not FactKind.ASSERTED:
                row["kind"] = f.kind.value
            if f.edit_id is not None and f.edit_id != edit_id:
                row["edit_id"] = f.edit_id
            if f.user and f.user != record.user:
                row["user"] = f.user
            if f.created_at and f.created_at != record.created_at:
                row["created_at"] = f.created_at
            if f.rule:
                row["rule"] = f.rule
            if f.premises:
                row["premises"] = json.dumps([p.as_list() for p in f.premises], ensure_ascii=False)
            rows.append(row)
        for chunk in iter_chunks(rows, _ROWS):
            created = sum(
                r["n"]
                for r in self._run(
                    q.ADD_FACTS,
                    rows=list(chunk),
                    edit_id=edit_id,
                    user=record.user,
                    created_at=record.created_at,
                    first_seq=first,
                )
            )
            if created != len(chunk):  # a row whose entity is missing matches nothing
                names = sorted({n for r in chunk for n in (r["s"], r["o"])})
                known = {r["name"] for r in self._run(q.ENTITY_NAMES, names=names)}
                missing = sorted(set(names) - known) or ["?"]
                raise StoreError(f"entity {missing[0]!r} must be created before its facts")

    def retire_facts(self, triples: Iterable[Triple], edit_id: int) -> None:
        rows = [{"s": t.subject, "r": t.relation, "o": t.object} for t in triples]
        changed = 0
        for chunk in iter_chunks(rows, _ROWS):
            result = self._run(q.RETIRE_FACTS, rows=list(chunk), edit_id=edit_id)
            changed += sum(r["n"] for r in result)
        if changed != len(rows):
            raise StoreError(
                f"retiring {len(rows)} facts changed {changed} rows; the plan is stale"
            )

    def add_reads(self, edit_id: int, keys: Iterable[TouchKey]) -> None:
        rows = _key_rows(keys)
        for chunk in iter_chunks(rows, _ROWS):
            self._run(q.ADD_READS, rows=list(chunk), edit_id=edit_id)

    def add_lock(
        self, entity: str, relation: str | None, object: str | None, user: str, reason: str
    ) -> Lock:
        wanted = [entity] + ([object] if object is not None else [])
        known = {r["name"] for r in self._run(q.ENTITY_NAMES, names=wanted)}
        for name in wanted:
            if name not in known:
                raise NotFoundError(f"no entity named {name!r}")
        lock_id = self._next("lock_seq")
        self._run(
            q.ADD_LOCK,
            id=lock_id,
            entity=entity,
            relation=relation,
            object=object,
            user=user,
            reason=reason,
            created_at=now_iso(),
        )
        return next(lk for lk in self.locks(entity) if lk.id == lock_id)

    def remove_lock(self, lock_id: int) -> Lock:
        found = [lk for lk in self.locks() if lk.id == lock_id]
        if not found:
            raise NotFoundError(f"no lock with id {lock_id}")
        self._run(q.REMOVE_LOCK, id=lock_id)
        return found[0]

    def put_doc(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self._run(
            q.PUT_DOC,
            id=_doc_id(kind, key),
            kind=kind,
            key=key,
            value=json.dumps(value, ensure_ascii=False, sort_keys=True),
        )

    def delete_doc(self, kind: str, key: str) -> bool:
        rows = self._run(q.DELETE_DOC, id=_doc_id(kind, key))
        return bool(rows and rows[0]["n"])


def _port(parts: SplitResult) -> int | None:
    """The port of a store URL, None when it names none.

    Raises:
        InputError: the port is not a number from 0 to 65535 (the message leaves out the
            password the URL may carry).
    """
    try:
        return parts.port
    except ValueError:
        host_port = parts.netloc.rpartition("@")[2]
        given = host_port.rpartition("]")[2].partition(":")[2]
        raise InputError(
            f"store URL {parts.scheme}://{host_port}/...: the port must be a "
            f"number from 0 to 65535, not {given!r}",
            field="store",
        ) from None


class Neo4jStore:
    """A ``GraphStore`` in a Neo4j 5 database (or a server speaking Bolt and Cypher).

    Args:
        url: ``neo4j://user:password@host:7687/database`` (also ``bolt://``, ``neo4j+s://``,
            ``bolt+s://``); the database defaults to ``neo4j``.
        timeout: seconds to wait for the server when connecting.

    Raises:
        InputError: the URL is malformed.
        StoreError: the server cannot be reached, refuses the credentials, or has no such
            database.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise InputError(f"store URL {url!r} names no host", field="store")
        port = _port(parts)
        self.database = unquote(parts.path.strip("/")) or "neo4j"
        user = unquote(parts.username or "neo4j")
        password = unquote(parts.password or "")
        netloc = parts.hostname + (f":{port}" if port else "")

        import neo4j  # the URL is checked first: a malformed one needs no driver

        self._address = f"{parts.scheme}://{netloc}"
        self.url = f"{parts.scheme}://{user}@{netloc}/{self.database}"  # no password
        self._schemas = SchemaCache()
        self._driver = neo4j.GraphDatabase.driver(
            self._address,
            auth=(user, password),
            connection_timeout=timeout,
            max_transaction_retry_time=timeout,
        )
        try:
            with _translated("connecting", self.url):
                self._driver.verify_connectivity()
                with self._driver.session(database=self.database) as session:
                    session.run("RETURN 1").consume()
                    for statement in q.CONSTRAINTS:
                        session.run(statement).consume()
        except BaseException:
            self._driver.close()
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[_View]:
        import neo4j

        with (
            _translated("reading", self.url),
            self._driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session,
        ):
            tx = session.begin_transaction()
            try:
                yield _View(self, tx)
            finally:
                tx.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[_Txn]:
        """One explicit write transaction: everything inside commits together or not at all.
        Touching the writer latch first serializes writers across processes."""
        with (
            _translated("writing", self.url),
            self._driver.session(database=self.database) as session,
        ):
            tx = session.begin_transaction()
            try:
                tx.run(q.LATCH, now=now_iso()).consume()
                yield _Txn(self, tx)
            except BaseException:
                tx.rollback()
                raise
            tx.commit()

    def close(self) -> None:
        self._driver.close()

    def __repr__(self) -> str:
        return f"Neo4jStore({self.url!r})"
