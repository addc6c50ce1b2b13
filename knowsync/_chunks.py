"""Batch imports over HTTP, a chunk at a time, each chunk applied at most once per key.

The HTTP API's import routes hand each chunk, with the client's idempotency key, to
:class:`ChunkImports` (``KnowSync.chunk_imports``), which imports it through the session of the
importing account and keeps each key's state in the store's documents: the interfaces never
touch the store themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg import ConflictPolicy, EditKind, EditState, GraphStore, now_iso
from knowsync._outcomes import ImportReport
from knowsync.client import IdempotencyConflict

if TYPE_CHECKING:
    from knowsync._session import Session

__all__ = ["ChunkImports", "FaultHook"]

FaultHook = Callable[[str], None]
"""Called at named points of a chunk's import (tests inject failures here): ``import.request``
(every import request, first thing), ``import.before`` (a keyed chunk is about to be applied),
``import.applied`` (it is committed, its key not yet marked done: a crash here is the window
the journal check covers) and ``import.after`` (it is applied and its key recorded, the
response not yet sent)."""


class ChunkImports:
    """Batch-import chunks, each applied at most once per (user, idempotency key).

    A key's document (kind ``"import-chunk"``) moves ``started -> done``; ``done`` holds the
    chunk's outcome, returned again for the same key. A ``started`` document found later means
    an attempt died between applying and recording: the journal tells whether its import edit
    committed (the chunk is imported under a source name unique to the key, and the document
    records the journal position before it), so the chunk is applied then or never.

    Concurrent requests with the same key wait for each other (one server process per store,
    which the single-writer design asks for anyway).
    """

    KIND = "import-chunk"

    def __init__(self, store: GraphStore, fault: FaultHook | None = None) -> None:
        self._store = store
        self.fault = fault
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def run(
        self, who: Session, key: str | None, chunk: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Apply a chunk as ``who`` (or return the outcome recorded for its key).

        Args:
            who: the session of the importing account: the rows are imported through it.
            key: the client's idempotency key for the chunk, or None.
            chunk: the chunk as the client sent it, checked: ``{"rows": [{"subject",
                "relation", "object", "line"}], "policy", "source", "allow_new_relations"}``
                (its fingerprint tells a retry from another chunk under the same key).

        Returns the import report as a dict, and whether it was replayed from the key.

        Raises:
            IdempotencyConflict: the key was used before with other rows or options.
            InputError, StoreError: as :meth:`KnowSync.import_file`.
        """
        if self.fault is not None:
            self.fault("import.request")
        fingerprint = hashlib.sha256(
            json.dumps(dict(chunk), sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        if key is None:
            return self._apply(who, chunk, _source_name(chunk.get("source"), fingerprint)), False
        user = who.user
        doc_key = f"{user}\x1f{key}"
        with self._key_lock(doc_key):
            with self._store.read() as view:
                doc = view.doc(self.KIND, doc_key)
                after = view.last_edit_id()
            if doc is not None and doc.get("fingerprint") != fingerprint:
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was used before with another payload; "
                    "use a new key for new rows"
                )
            if doc is not None and doc.get("state") == "done":
                return dict(doc["result"]), True
            if doc is not None:  # started: did that attempt commit?
                found = self._committed(user, doc)
                if found is not None:
                    self._record(doc_key, {**doc, "state": "done", "result": found})
                    return found, True
                after = int(doc["after"])
            source = _source_name(chunk.get("source"), hashlib.sha256(doc_key.encode()).hexdigest())
            started = {
                "state": "started",
                "fingerprint": fingerprint,
                "after": after,
                "source": source,
                "created_at": now_iso(),
            }
            self._record(doc_key, started)
            if self.fault is not None:
                self.fault("import.before")
            result = self._apply(who, chunk, source)
            if self.fault is not None:
                self.fault("import.applied")
            self._record(doc_key, {**started, "state": "done", "result": result})
            if self.fault is not None:
                self.fault("import.after")
            return result, False

    def _record(self, doc_key: str, value: dict[str, Any]) -> None:
        with self._store.write() as tx:
            tx.put_doc(self.KIND, doc_key, value)

    def _committed(self, user: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """The outcome of an earlier attempt whose import edits committed, rebuilt from the
        journal, or None when nothing of it committed."""
        with self._store.read() as view:
            edits = [
                e
                for e in view.edits(
                    user=user,
                    kinds=[EditKind.IMPORT],
                    after=int(doc["after"]),
                    limit=None,
                    newest_first=False,
                )
                if e.request.get("source") == doc["source"]
                and e.state in (EditState.APPLIED, EditState.REFUSED)
            ]
        if not edits:
            return None
        out = ImportReport(batch=edits[0].batch or "")
        for e in edits:
            rep = e.report
            out.rows += int(e.request.get("rows", 0))
            if e.state is EditState.REFUSED:
                out.failed = "; ".join(rep.get("refusals", [])[:5]) or "refused"
                continue
            out.edits.append(e.id)
            out.added += int(rep.get("added", 0))
            out.derived += int(rep.get("derived", 0))
            out.duplicates += int(rep.get("duplicates", 0))
            out.superseded += len(rep.get("superseded", []))
            out.skipped += [
                {"line": s.get("row"), "triple": s.get("triple"), "reason": s.get("reason")}
                for s in rep.get("skipped", [])
            ]
        return out.to_dict()

    def _apply(self, who: Session, chunk: Mapping[str, Any], source: str) -> dict[str, Any]:
        """Import the rows through ``who``'s session (under the rules an edit by that account
        meets) as one JSONL chunk, keeping the client's line numbers (blank lines pad the file; the
        reader skips them)."""
        rows: list[Mapping[str, Any]] = list(chunk["rows"])
        lines = [int(r.get("line") or 0) for r in rows]
        keep_lines = all(lines) and all(a < b for a, b in itertools.pairwise(lines))
        with tempfile.TemporaryDirectory(prefix="knowsync-import-") as tmp:
            path = Path(tmp) / source
            with path.open("w", encoding="utf-8") as fh:
                at = 1
                for i, row in enumerate(rows, start=1):
                    target = lines[i - 1] if keep_lines else i
                    fh.write("\n" * (target - at))
                    at = target + 1
                    record = {"subject": row["subject"], "relation": row["relation"]}
                    record["object"] = row["object"]
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            report = who.import_file(
                path,
                policy=chunk.get("policy", ConflictPolicy.SKIP),
                chunk_size=len(rows),
                fmt="jsonl",
                allow_new_relations=bool(chunk.get("allow_new_relations", False)),
            )
        return report.to_dict()


def _source_name(source: str | None, digest: str) -> str:
    """A file name for the journal: the client's file name and a tag unique to the chunk."""
    base = Path(source or "rows").name.strip().replace("\x00", "")[:100] or "rows"
    return f"{base} #{digest[:10]}"
