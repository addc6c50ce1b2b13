"""Every Cypher statement of the Neo4j backend, in one place. Values always travel as
parameters; no statement is built from user data.

The graph as a DBA sees it:

* ``(:Entity {name, key, created_at})``: one node per entity, unique ``key`` (folded name)
  and unique ``name``;
* ``(:Entity)-[:FACT {relation, kind, edit_id, user, created_at, rule, premises, valid_from,
  valid_to}]->(:Entity)``: one relationship per fact row; rows in force have ``valid_to`` =
  LIVE, retired rows keep the edit that retired them, so history stays queryable;
* ``(:Edit {id, kind, user, created_at, state, request, report, rollback_of, rolled_back_by,
  batch})``: the journal (JSON text in ``request`` and ``report``);
* ``(:Alias {key, alias, entity})``, ``(:EditRead {edit_id, s, r, o})``,
  ``(:ProtectLock {id, entity, relation, object, user, reason, created_at})``,
  ``(:KnowsyncMeta {key, value})`` (the schema, the id counters, the writer latch).

One relationship type and a ``relation`` property, rather than one type per relation: a type
cannot be a query parameter, and nothing the user types may become Cypher text.
"""

from __future__ import annotations

__all__ = ["CONSTRAINTS"]

LIVE = 1 << 62

CONSTRAINTS = (
    "CREATE CONSTRAINT ks_entity_key IF NOT EXISTS FOR (n:Entity) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT ks_entity_name IF NOT EXISTS FOR (n:Entity) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT ks_edit_id IF NOT EXISTS FOR (n:Edit) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT ks_alias_key IF NOT EXISTS FOR (n:Alias) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT ks_meta_key IF NOT EXISTS FOR (n:KnowsyncMeta) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT ks_lock_id IF NOT EXISTS FOR (n:ProtectLock) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT ks_doc_id IF NOT EXISTS FOR (n:KnowsyncDoc) REQUIRE n.id IS UNIQUE",
    # history and dependency lookups: an edit's rows, and the reads of later edits
    "CREATE INDEX ks_fact_from IF NOT EXISTS FOR ()-[f:FACT]-() ON (f.valid_from)",
    "CREATE INDEX ks_fact_to IF NOT EXISTS FOR ()-[f:FACT]-() ON (f.valid_to)",
    "CREATE INDEX ks_read_r IF NOT EXISTS FOR (n:EditRead) ON (n.r)",
)

GET_META = "MATCH (m:KnowsyncMeta {key: $key}) RETURN m.value AS value"
SET_META = "MERGE (m:KnowsyncMeta {key: $key}) SET m.value = $value"
# Touching the latch node takes its write lock until commit: one writer at a time.
LATCH = "MERGE (m:KnowsyncMeta {key: 'writer'}) SET m.value = $now"
NEXT_ID = (
    "MERGE (m:KnowsyncMeta {key: $counter}) "
    "SET m.value = coalesce(m.value, 0) + 1 RETURN m.value AS id"
)

ENTITIES_BY_KEY = "UNWIND $keys AS k MATCH (e:Entity {key: k}) RETURN e.key AS key, e.name AS name"
ALIASES_BY_KEY = (
    "UNWIND $keys AS k MATCH (a:Alias {key: k}) MATCH (e:Entity {name: a.entity}) "
    "RETURN a.key AS key, e.name AS name, e.key AS ekey"
)
ALIASES_OF = (
    "UNWIND $names AS n MATCH (a:Alias {entity: n}) RETURN a.entity AS name, a.alias AS alias "
    "ORDER BY alias"
)
ANY_ALIAS = "MATCH (a:Alias) RETURN a.key AS key LIMIT 1"
SEARCH_ENTITIES = (
    "MATCH (e:Entity) WHERE e.key CONTAINS $text "
    "RETURN e.name AS name, e.key AS key ORDER BY size(e.key), e.key LIMIT $limit"
)
CREATE_ENTITIES = (
    "UNWIND $rows AS row MERGE (e:Entity {key: row.key}) "
    "ON CREATE SET e.name = row.name, e.created_at = row.created_at"
)
ENTITY_NAMES = "UNWIND $names AS n MATCH (e:Entity {name: n}) RETURN e.name AS name"
OWNER_OF_KEY = (
    "OPTIONAL MATCH (e:Entity {key: $key}) OPTIONAL MATCH (a:Alias {key: $key}) "
    "RETURN e.name AS entity, a.entity AS alias_of"
)
ADD_ALIAS = "CREATE (:Alias {key: $key, alias: $alias, entity: $entity})"

_FACT_RETURN = (
    "RETURN s.name AS s, f.relation AS r, o.name AS o, f.kind AS kind, f.edit_id AS edit_id, "
    "f.user AS user, f.created_at AS created_at, f.rule AS rule, f.premises AS premises, "
    "f.valid_from AS valid_from, f.valid_to AS valid_to, f.seq AS seq"
)


def facts_query(
    *, subject: bool, relation: bool, object: bool, kinds: bool, as_of: bool, limit: bool
) -> str:
    """The statement for GraphView.facts with the given filters present (shape only: every
    value is a parameter)."""
    start = (
        "MATCH (s:Entity {name: $subject})-[f:FACT]->(o:Entity)"
        if subject
        else (
            "MATCH (s:Entity)-[f:FACT]->(o:Entity {name: $object})"
            if object
            else "MATCH (s:Entity)-[f:FACT]->(o:Entity)"
        )
    )
    where = ["f.valid_from <= $as_of AND f.valid_to > $as_of" if as_of else f"f.valid_to = {LIVE}"]
    if subject and object:
        where.append("o.name = $object")
    if relation:
        where.append("f.relation = $relation")
    if kinds:
        where.append("f.kind IN $kinds")
    q = f"{start} WHERE {' AND '.join(where)} {_FACT_RETURN} ORDER BY seq"
    return q + (" LIMIT $limit" if limit else "")


def all_facts_query(*, as_of: bool) -> str:
    """The statement for GraphView.iter_facts: every fact row in force (with ``as_of``: in
    force just after edit ``$as_of``), in the order the rows were written."""
    return facts_query(
        subject=False, relation=False, object=False, kinds=False, as_of=as_of, limit=False
    )


MATCH_BY_SUBJECT = (
    "UNWIND $pats AS p MATCH (s:Entity {name: p.s})-[f:FACT]->(o:Entity) "
    f"WHERE f.relation = p.r AND f.valid_to = {LIVE} AND (p.o IS NULL OR o.name = p.o) "
    + _FACT_RETURN
)
# anchored on the object node: written the other way round, some servers scan every entity
MATCH_BY_OBJECT = (
    "UNWIND $pats AS p MATCH (o:Entity {name: p.o})<-[f:FACT]-(s:Entity) "
    f"WHERE f.relation = p.r AND f.valid_to = {LIVE} " + _FACT_RETURN
)
COUNT_FACTS = (
    f"MATCH ()-[f:FACT]->() WHERE f.valid_to = {LIVE} RETURN f.kind AS kind, count(*) AS n"
)
COUNT_ENTITIES = "MATCH (e:Entity) RETURN count(e) AS n"

# Provenance shared by the rows (the edit's id, user and time) travels once as parameters; a
# row carries only what differs (half the bytes to pack and send for an import).
ADD_FACTS = (
    "UNWIND $rows AS row MATCH (s:Entity {name: row.s}) MATCH (o:Entity {name: row.o}) "
    "CREATE (s)-[:FACT {relation: row.r, kind: coalesce(row.kind, 'asserted'), "
    "edit_id: coalesce(row.edit_id, $edit_id), user: coalesce(row.user, $user), "
    "created_at: coalesce(row.created_at, $created_at), rule: row.rule, "
    f"premises: row.premises, valid_from: $edit_id, valid_to: {LIVE}, "
    "seq: $first_seq + row.i}]->(o)"
    " RETURN count(*) AS n"
)
RETIRE_FACTS = (
    "UNWIND $rows AS row MATCH (s:Entity {name: row.s})-[f:FACT]->(o:Entity {name: row.o}) "
    f"WHERE f.relation = row.r AND f.valid_to = {LIVE} SET f.valid_to = $edit_id "
    "RETURN count(f) AS n"
)
FACTS_FROM = (
    "MATCH (s:Entity)-[f:FACT]->(o:Entity) WHERE f.valid_from = $edit_id "
    + _FACT_RETURN
    + " ORDER BY seq"
)
FACTS_TO = (
    "MATCH (s:Entity)-[f:FACT]->(o:Entity) WHERE f.valid_to = $edit_id "
    + _FACT_RETURN
    + " ORDER BY seq"
)
# Edits later than $after whose fact rows or recorded reads match a key (s, r, o), where s or
# o may be null (a slot).
TOUCHING_FACTS_BY_SUBJECT = (
    "UNWIND $keys AS k MATCH (s:Entity {name: k.s})-[f:FACT]->(o:Entity) "
    "WHERE f.relation = k.r AND (k.o IS NULL OR o.name = k.o) "
    f"AND (f.valid_from > $after OR (f.valid_to > $after AND f.valid_to < {LIVE})) "
    "RETURN f.valid_from AS a, f.valid_to AS b"
)
TOUCHING_FACTS_BY_OBJECT = (
    "UNWIND $keys AS k MATCH (o:Entity {name: k.o})<-[f:FACT]-(s:Entity) "
    "WHERE f.relation = k.r "
    f"AND (f.valid_from > $after OR (f.valid_to > $after AND f.valid_to < {LIVE})) "
    "RETURN f.valid_from AS a, f.valid_to AS b"
)
# A read matches a key on every part the key gives; a slot read (s or o null) also matches
# a whole triple that fills the slot.
TOUCHING_READS = (
    "UNWIND $keys AS k MATCH (x:EditRead) WHERE x.r = k.r AND x.edit_id > $after AND ("
    "((k.s IS NULL OR x.s = k.s) AND (k.o IS NULL OR x.o = k.o)) OR "
    "(k.s IS NOT NULL AND k.o IS NOT NULL AND "
    "((x.s = k.s AND x.o IS NULL) OR (x.s IS NULL AND x.o = k.o)))) "
    "RETURN DISTINCT x.edit_id AS id"
)
ADD_READS = (
    "UNWIND $rows AS row CREATE (:EditRead {edit_id: $edit_id, s: row.s, r: row.r, o: row.o})"
)

_EDIT_RETURN = (
    "RETURN e.id AS id, e.kind AS kind, e.user AS user, e.created_at AS created_at, "
    "e.state AS state, e.request AS request, e.report AS report, e.rollback_of AS rollback_of, "
    "e.rolled_back_by AS rolled_back_by, e.batch AS batch"
)
GET_EDIT = "MATCH (e:Edit {id: $id}) " + _EDIT_RETURN
NEW_EDIT = (
    "CREATE (e:Edit {id: $id, kind: $kind, user: $user, created_at: $created_at, state: $state, "
    "request: $request, report: '{}', rollback_of: $rollback_of, rolled_back_by: null, "
    "batch: $batch})"
)
LAST_EDIT = "MATCH (e:Edit) RETURN max(e.id) AS id"
EDIT_IDS_OF_ENTITY = (
    "MATCH (n:Entity {name: $name})-[f:FACT]-() "
    f"RETURN collect(DISTINCT f.valid_from) AS a, "
    f"collect(DISTINCT CASE WHEN f.valid_to < {LIVE} THEN f.valid_to END) AS b"
)


def edits_query(
    *,
    ids: bool,
    user: bool,
    kinds: bool,
    states: bool,
    since: bool,
    until: bool,
    batch: bool,
    after: bool,
    limit: bool,
    newest_first: bool,
) -> str:
    """The statement for GraphView.edits with the given filters present."""
    where = []
    if ids:
        where.append("e.id IN $ids")
    if user:
        where.append("e.user = $user")
    if kinds:
        where.append("e.kind IN $kinds")
    if states:
        where.append("e.state IN $states")
    if since:
        where.append("e.created_at >= $since")
    if until:
        where.append("e.created_at <= $until")
    if batch:
        where.append("e.batch = $batch")
    if after:
        where.append("e.id > $after")
    q = "MATCH (e:Edit)" + (f" WHERE {' AND '.join(where)}" if where else "") + " " + _EDIT_RETURN
    q += " ORDER BY id DESC" if newest_first else " ORDER BY id"
    return q + (" LIMIT $limit" if limit else "")


LOCKS = (
    "MATCH (l:ProtectLock) WHERE $entity IS NULL OR l.entity = $entity "
    "RETURN l.id AS id, l.entity AS entity, l.relation AS relation, l.object AS object, "
    "l.user AS user, l.reason AS reason, l.created_at AS created_at ORDER BY id"
)
ADD_LOCK = (
    "CREATE (:ProtectLock {id: $id, entity: $entity, relation: $relation, object: $object, "
    "user: $user, reason: $reason, created_at: $created_at})"
)
REMOVE_LOCK = "MATCH (l:ProtectLock {id: $id}) DELETE l"

# Documents: one node per (kind, key), found through ``id`` = kind + NUL + key (unique).
GET_DOC = "MATCH (d:KnowsyncDoc {id: $id}) RETURN d.value AS value"
DOCS = (
    "MATCH (d:KnowsyncDoc) WHERE d.kind = $kind AND d.key STARTS WITH $prefix "
    "RETURN d.key AS key, d.value AS value ORDER BY key"
)
PUT_DOC = "MERGE (d:KnowsyncDoc {id: $id}) SET d.kind = $kind, d.key = $key, d.value = $value"
DELETE_DOC = "MATCH (d:KnowsyncDoc {id: $id}) DELETE d RETURN count(*) AS n"
