"""The Python client of the knowsync HTTP API: the same operations, the same results and the
same exceptions as :class:`knowsync.KnowSync`, against a server.

::

    from knowsync import Client

    with Client("http://127.0.0.1:7860", token) as kb:
        kb.edit([("America", "president", "Joe Biden")])
        kb.import_file("people.csv")            # chunked, resumable, never applied twice

Errors come back as the classes the local API raises (the server sends a code; see
``ui/api.py`` ``ERROR_STATUS``): ``InputError`` (with ``field``), ``UnknownRelationError``,
``NotFoundError``, ``EditRefused``, ``RollbackRefused``, ``SchemaError``, ``StoreError``,
``AuthError`` (401), ``PermissionDenied`` (403), and two of the client's own:
:class:`IdempotencyConflict` (a key reused with another payload) and :class:`ServerError` (the
server could not be reached, or failed, after the retries).

Retries: connection failures, 429 and 503 are retried with exponential backoff (honouring
``Retry-After``); other 5xx answers and read timeouts are retried only for requests that are
safe to repeat (reads, and writes carrying an idempotency key, which every edit and import
chunk sent by this client does).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import logging
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import httpx
from tqdm import tqdm

from kg import (
    BackendError,
    ConflictPolicy,
    EditKind,
    EditRecord,
    EditRefused,
    EditState,
    Fact,
    FactKind,
    InputError,
    KnowsyncError,
    Lock,
    NotFoundError,
    RollbackRefused,
    Schema,
    SchemaError,
    StoreError,
    Triple,
    UnknownRelationError,
)
from kg._io import BadRow, ExportRowCounter, export_format, read_rows, replacing
from knowsync._outcomes import (
    ACCOUNT,
    EDIT_RESULT,
    IMPORT_REPORT,
    NOTICE,
    SUBMISSION,
    Account,
    Answer,
    AuthError,
    EditResult,
    ImportReport,
    Notice,
    PermissionDenied,
    Role,
    Submission,
)

__all__ = [
    "CHECKPOINT_SUFFIX",
    "Client",
    "IdempotencyConflict",
    "RemoteImportReport",
    "ServerError",
]

_log = logging.getLogger("knowsync.client")

API_PREFIX = "/api/v1"
CHECKPOINT_SUFFIX = ".knowsync-import.json"
_CHECKPOINT_VERSION = 1
_MAX_CHUNK = 50_000  # the server's limit per request (ui/api.py MAX_IMPORT_ROWS)

RawTriple = Sequence[str]


class HTTPSession(Protocol):
    """What the client needs of an HTTP session (``httpx.Client`` has it)."""

    def request(
        self, method: str, url: str, *, params: Any = None, json: Any = None, headers: Any = None
    ) -> Any: ...

    def stream(
        self, method: str, url: str, *, params: Any = None, headers: Any = None
    ) -> AbstractContextManager[Any]: ...

    def close(self) -> None: ...


class IdempotencyConflict(KnowsyncError):
    """An idempotency key was sent again with a different payload (HTTP 409)."""


class ServerError(KnowsyncError):
    """The server could not be reached, or failed, even after the retries.

    Attributes:
        status: the HTTP status of the last answer, None when there was no answer.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------ conversions


def _triple(items: Sequence[str]) -> Triple:
    return Triple(str(items[0]), str(items[1]), str(items[2]))


def fact_from_dict(d: Mapping[str, Any]) -> Fact:
    """A :class:`Fact` from its JSON form (``Fact.to_dict``)."""
    return Fact(
        _triple((d["subject"], d["relation"], d["object"])),
        kind=FactKind(d.get("kind", "asserted")),
        edit_id=d.get("edit_id"),
        user=d.get("user", ""),
        created_at=d.get("created_at", ""),
        rule=d.get("rule"),
        premises=tuple(_triple(p) for p in d.get("premises", [])),
        valid_from=d.get("valid_from"),
        valid_to=d.get("valid_to"),
    )


def edit_from_dict(d: Mapping[str, Any]) -> EditRecord:
    """An :class:`EditRecord` from its JSON form."""
    return EditRecord(
        id=int(d["id"]),
        kind=EditKind(d["kind"]),
        user=d["user"],
        created_at=d["created_at"],
        state=EditState(d["state"]),
        request=dict(d.get("request") or {}),
        report=dict(d.get("report") or {}),
        rollback_of=d.get("rollback_of"),
        rolled_back_by=d.get("rolled_back_by"),
        batch=d.get("batch"),
    )


def lock_from_dict(d: Mapping[str, Any]) -> Lock:
    return Lock(
        id=int(d["id"]),
        entity=d["entity"],
        relation=d.get("relation"),
        object=d.get("object"),
        user=d["user"],
        reason=d.get("reason", ""),
        created_at=d["created_at"],
    )


def account_from_dict(d: Mapping[str, Any]) -> Account:
    return ACCOUNT.validate_python(dict(d))


def answer_from_dict(d: Mapping[str, Any]) -> Answer:
    return Answer(
        question=d["question"],
        subject=d.get("subject"),
        relation=d.get("relation"),
        graph=list(d.get("graph", [])),
        facts=[fact_from_dict(f) for f in d.get("facts", [])],
        model=d.get("model"),
        agree=d.get("agree"),
        unclear=d.get("unclear"),
        path=list(d.get("path", [])),
        chain=list(d.get("chain", [])),
        missing=d.get("missing"),
        model_in_context=d.get("model_in_context"),
    )


def submission_from_dict(d: Mapping[str, Any]) -> Submission:
    """A :class:`Submission` from its JSON (``Submission.to_dict``), checked by its type; the
    answer to a question is read with :func:`answer_from_dict`."""
    answer = d.get("answer")
    return SUBMISSION.validate_python(
        {**d, "answer": None if answer is None else answer_from_dict(answer)}
    )


def notice_from_dict(d: Mapping[str, Any]) -> Notice:
    """A :class:`Notice` from its JSON (``Notice.to_dict``), checked by its type."""
    return NOTICE.validate_python(dict(d))


def result_from_dict(d: Mapping[str, Any]) -> EditResult:
    """An :class:`EditResult` from ``EditResult.to_dict`` (the report's keys at top level),
    checked by its type."""
    return EDIT_RESULT.validate_python(dict(d))


def _import_report(d: Mapping[str, Any]) -> ImportReport:
    """An :class:`ImportReport` from its JSON (other keys, such as a chunk's, are left out),
    checked by its type."""
    return IMPORT_REPORT.validate_python(dict(d))


def error_from_response(status: int, body: Any) -> KnowsyncError:
    """The exception an error answer stands for (the inverse of the server's mapping)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        text = str(body)[:300] if body else f"HTTP {status}"
        if status in (401, 403):
            return (AuthError if status == 401 else PermissionDenied)(text)
        if status == 404:
            return NotFoundError(text)
        return ServerError(f"the server answered {status}: {text}", status=status)
    code = str(err.get("code", ""))
    message = str(err.get("message", f"HTTP {status}"))
    fld = err.get("field")
    if code == "unauthorized":
        return AuthError(message)
    if code == "forbidden":
        return PermissionDenied(message)
    if code == "unknown_relation":
        return UnknownRelationError(str(err.get("relation", "")), list(err.get("suggestions", [])))
    if code in ("invalid_input", "invalid_payload"):
        return InputError(message, field=fld, line=err.get("line"))
    if code == "not_found" or status == 404:
        return NotFoundError(message)
    if code == "rollback_refused":
        return RollbackRefused(
            int(err.get("edit_id", 0)), list(err.get("dependants", [])), err.get("blocked")
        )
    if code == "edit_refused":
        return EditRefused(list(err.get("reasons", [message])), err.get("edit_id"))
    if code == "idempotency_conflict":
        return IdempotencyConflict(message)
    if code == "schema_error":
        return SchemaError(message)
    if code in ("store_error", "store_busy"):
        return StoreError(message, transient=code == "store_busy")
    if code == "backend_error":
        return BackendError(message)
    if status < 500:
        return KnowsyncError(message)
    return ServerError(f"the server failed ({status}): {message}", status=status)


# ---------------------------------------------------------------------- reports


@dataclass
class RemoteImportReport(ImportReport):
    """An :class:`ImportReport` of a chunked import through the API.

    Attributes:
        batches: the server's batch id of every chunk (each chunk is its own batch; ``batch``
            is the first one). ``Client.rollback_batch`` undoes one.
        chunks: how many chunks the file made.
        resumed_from: the chunk this run started at (0 unless a checkpoint was resumed).
        replayed: chunks the server had applied already (a retried or re-sent key): their
            counts are the ones recorded the first time, and nothing was applied again.
        key: the import's id: the prefix of every chunk's idempotency key.
    """

    batches: list[str] = field(default_factory=list)
    chunks: int = 0
    resumed_from: int = 0
    replayed: int = 0
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "batches": self.batches,
            "chunks": self.chunks,
            "resumed_from": self.resumed_from,
            "replayed": self.replayed,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RemoteImportReport:
        base = _import_report(d)
        return cls(
            **{k: getattr(base, k) for k in base.to_dict()},
            batches=list(d.get("batches", [])),
            chunks=int(d.get("chunks", 0)),
            resumed_from=int(d.get("resumed_from", 0)),
            replayed=int(d.get("replayed", 0)),
            key=str(d.get("key", "")),
        )

    def merge(self, chunk: Mapping[str, Any]) -> None:
        """Add one chunk's answer to the totals."""
        if chunk.get("batch"):
            self.batches.append(chunk["batch"])
            if not self.batch:
                self.batch = chunk["batch"]
        self.added += int(chunk.get("added", 0))
        self.derived += int(chunk.get("derived", 0))
        self.duplicates += int(chunk.get("duplicates", 0))
        self.superseded += int(chunk.get("superseded", 0))
        self.skipped += list(chunk.get("skipped", []))
        self.bad_rows += list(chunk.get("bad_rows", []))
        self.edits += [int(e) for e in chunk.get("edits", [])]
        self.derived_rows += int(chunk.get("derived_rows", 0))
        self.replayed += 1 if chunk.get("replayed") else 0


def _body(response: Any) -> Any:
    """An error answer's JSON body, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    return digest.hexdigest()


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))


def _chunks(path: Path, fmt: str | None, size: int) -> Iterator[tuple[list[Any], int]]:
    """The file's rows in chunks of ``size`` rows (good and bad alike, so the boundaries
    depend only on the file), each with its count of rows."""
    chunk: list[Any] = []
    for row in read_rows(path, fmt):
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk, len(chunk)
            chunk = []
    if chunk:
        yield chunk, len(chunk)


# ----------------------------------------------------------------------- client


class Client:
    """A knowsync server, used like a local :class:`knowsync.KnowSync`.

    Args:
        url: the server's base URL (``http://127.0.0.1:7860``); ``/api/v1`` is added.
        token: an API token (``knowsync users add`` prints one).
        timeout: seconds to wait for an answer (an edit with a model can take a while).
        retries: how often a failed request is tried again (see the module docstring).
        backoff: the first pause between tries, in seconds; it doubles each time (at most
            30 s), or follows the server's ``Retry-After``.
        http: an ``httpx.Client`` (or anything with its ``request`` and ``close``) to send
            through instead of a new one; tests pass FastAPI's TestClient. Its base URL is
            used as is.

    The user of every operation is the token's account: there is no ``user`` argument.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30,
        retries: int = 5,
        backoff: float = 0.5,
        http: HTTPSession | None = None,
    ) -> None:
        if retries < 0 or backoff < 0:
            raise InputError("retries and backoff must not be negative", field="retries")
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._own = http is None
        self._http: HTTPSession = http or httpx.Client(base_url=self.url, timeout=timeout)
        self._auth = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        """Close the connection pool (when this client made it)."""
        if self._own:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- transport

    def _pause(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(self.backoff * (2**attempt), 30.0)
        if response is not None:
            with contextlib.suppress(TypeError, ValueError):
                delay = max(delay, min(float(response.headers.get("Retry-After", "")), 60.0))
        time.sleep(delay * (1 + random.random() / 10))

    def _request(
        self,
        method: str,
        path: str,
        *,
        safe: bool,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request, retrying what is safe to retry; returns the decoded JSON.

        Args:
            safe: the request may be repeated (a read, or a write with an idempotency key).

        Raises:
            KnowsyncError: the mapped error of the server's answer, or ServerError.
        """
        url = f"{API_PREFIX}{path}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(
                    method,
                    url,
                    params=query,
                    json=json_body,
                    headers={**self._auth, **(headers or {})},
                )
            except httpx.TransportError as exc:
                # a refused connection never reached the server: always safe to try again
                if not last and (safe or isinstance(exc, httpx.ConnectError)):
                    _log.info("%s %s: %s; trying again", method, path, exc)
                    self._pause(attempt, None)
                    continue
                raise ServerError(f"cannot reach {self.url}: {exc}") from exc
            status = response.status_code
            if status < 400:
                return response.json() if response.content else None
            transient = status in (429, 503) or (safe and status >= 500)
            if transient and not last:
                _log.info("%s %s: HTTP %d; trying again", method, path, status)
                self._pause(attempt, response)
                continue
            raise error_from_response(status, _body(response))
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(
        self, path: str, params: Mapping[str, Any], write: Callable[[bytes], object], fmt: str
    ) -> int:
        """Stream a GET's body into ``write``; returns the export rows it held. Retried like a
        read until the first byte is written; a body that breaks off after that is an error.

        Raises:
            KnowsyncError: the mapped error of the server's answer, or ServerError.
        """
        url = f"{API_PREFIX}{path}"
        query = {k: v for k, v in params.items() if v is not None}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            counter = ExportRowCounter(fmt)
            received = 0
            try:
                with self._http.stream("GET", url, params=query, headers=self._auth) as response:
                    status = response.status_code
                    if status >= 400:
                        response.read()
                        if (status in (429, 503) or status >= 500) and not last:
                            _log.info("GET %s: HTTP %d; trying again", path, status)
                            self._pause(attempt, response)
                            continue
                        raise error_from_response(status, _body(response))
                    for block in response.iter_bytes():
                        write(block)
                        counter.feed(block)
                        received += len(block)
                    return counter.rows
            except httpx.TransportError as exc:
                if received:
                    raise ServerError(
                        f"the download from {self.url} broke off after {received} bytes: {exc}"
                    ) from exc
                if not last:
                    _log.info("GET %s: %s; trying again", path, exc)
                    self._pause(attempt, None)
                    continue
                raise ServerError(f"cannot reach {self.url}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, safe=True, params=params)

    # ------------------------------------------------------------------ meta

    def health(self) -> dict[str, Any]:
        """The server's liveness answer (no token needed).

        Raises:
            ServerError: the server cannot be reached.
        """
        return dict(self._get("/health"))

    def whoami(self) -> Account:
        """The account of this client's token.

        Raises:
            AuthError: the token is unknown or its account disabled.
        """
        return account_from_dict(self._get("/whoami"))

    # ----------------------------------------------------------------- edits

    def submit(self, text: str, *, new_names: bool = False) -> Submission:
        """Act on a sentence: an edit, a retraction or a question (``KnowSync.submit``).

        Args:
            text: the sentence.
            new_names: confirm the names of the edit that are new to the graph; without it
                (and without double quotes around them) such an edit is answered
                needs_clarification and changes nothing.

        Raises:
            InputError: the text is empty or too long.
            PermissionDenied: the account may not submit.
        """
        body: dict[str, Any] = {"text": text}
        if new_names:  # sent only when set: a server from before the flag knows no such field
            body["new_names"] = True
        return submission_from_dict(self._request("POST", "/submit", safe=False, json_body=body))

    def submit_triples(
        self,
        assert_: Iterable[RawTriple] = (),
        retract: Iterable[RawTriple] = (),
        *,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """Assert and retract triples as one edit (``KnowSync.submit_triples``).

        A key is made when none is given, so a retried request is never applied twice.

        Raises:
            InputError, UnknownRelationError: a malformed triple or unknown relation.
            PermissionDenied: the account may not submit.
        """
        body = {
            "assert": [list(t) for t in assert_],
            "retract": [list(t) for t in retract],
            "dry_run": dry_run,
        }
        key = idempotency_key or f"edit-{uuid.uuid4().hex}"
        return submission_from_dict(
            self._request(
                "POST", "/triples", safe=True, json_body=body, headers={"Idempotency-Key": key}
            )
        )

    def edit(
        self,
        assert_: Sequence[RawTriple] = (),
        retract: Sequence[RawTriple] = (),
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> EditResult:
        """Assert and retract triples as one edit, answered like ``KnowSync.edit``.

        The decision may also be ``needs_review`` (a curator decides; see ``review_queue``).

        Raises:
            InputError: nothing to edit, or a malformed triple.
            UnknownRelationError: a relation the schema does not know.
            PermissionDenied: the account may not submit.
        """
        if not assert_ and not retract:
            raise InputError("nothing to edit: give at least one triple to assert or retract")
        sub = self.submit_triples(
            assert_, retract, idempotency_key=idempotency_key, dry_run=dry_run
        )
        return sub.as_edit_result(dry_run=dry_run)

    def rollback(self, edit_id: int, *, cascade: bool = False) -> list[EditResult]:
        """Undo an edit exactly (``KnowSync.rollback``).

        Raises:
            NotFoundError: no edit has that id.
            RollbackRefused: later edits depend on it (and no cascade was asked).
            EditRefused: the rollback would break a rule (a lock).
            PermissionDenied: the account may not roll back that edit.
        """
        data = self._request(
            "POST", f"/edits/{int(edit_id)}/rollback", safe=False, json_body={"cascade": cascade}
        )
        return [result_from_dict(r) for r in data]

    def rollback_batch(self, batch: str) -> list[EditResult]:
        """Undo every edit of an import batch (``KnowSync.rollback_batch``).

        Raises:
            NotFoundError: no edit belongs to that batch.
            PermissionDenied: the account may not roll back those edits.
        """
        data = self._request("POST", f"/batches/{_segment(batch)}/rollback", safe=False)
        return [result_from_dict(r) for r in data]

    # ---------------------------------------------------------------- import

    def import_rows(
        self,
        rows: Iterable[Sequence[str] | Mapping[str, Any]],
        *,
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        source: str | None = None,
        idempotency_key: str | None = None,
        allow_new_relations: bool = False,
    ) -> RemoteImportReport:
        """Import one chunk of rows (``(s, r, o)`` or ``{"subject", "relation", "object",
        "line"}``) in one request; with a key, sending it again applies nothing.

        Raises:
            InputError: no rows, too many for one request, or a malformed row.
            IdempotencyConflict: the key was used before for other rows.
            PermissionDenied: the account may not submit.
        """
        payload_rows = [
            dict(r)
            if isinstance(r, Mapping)
            else {"subject": r[0], "relation": r[1], "object": r[2]}
            for r in rows
        ]
        body = {
            "rows": payload_rows,
            "policy": ConflictPolicy(policy).value,
            "source": source,
            "allow_new_relations": allow_new_relations,
        }
        key = idempotency_key or f"rows-{uuid.uuid4().hex}"
        data = self._request(
            "POST", "/imports", safe=True, json_body=body, headers={"Idempotency-Key": key}
        )
        report = RemoteImportReport(batch="", rows=len(payload_rows), chunks=1, key=key)
        report.merge(data)
        if data.get("failed"):
            report.failed = data["failed"]
        return report

    def import_file(
        self,
        path: str | Path,
        *,
        chunk_size: int = 1000,
        progress: bool = True,
        checkpoint: str | Path | Literal[False] | None = None,
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        fmt: str | None = None,
        allow_new_relations: bool = False,
    ) -> RemoteImportReport:
        """Import a CSV or JSONL file of any size through the API, in chunks.

        Each chunk carries an idempotency key derived from the file's SHA-256 and the chunk's
        index, so a retried or re-sent chunk is applied once at most. After each chunk a
        checkpoint file (default ``<file>.knowsync-import.json``; ``checkpoint=False`` for
        none) records the progress: running the same import again after an interruption
        resumes at the first unfinished chunk (a checkpoint made for another file content,
        chunk size, policy or server is ignored). The checkpoint is removed when the import
        completes. Bad rows are found here and reported with their line numbers; they are not
        sent, nor are rows marked as derived facts (an export's, which the rules derive again).
        Under ``policy='fail'`` a refused chunk stops the import and the chunks already
        applied are rolled back, as a local import does.

        Args:
            progress: show a progress bar on stderr.

        Raises:
            InputError: the file cannot be read or has no usable header; bad arguments.
            ServerError: the server failed or could not be reached even after the retries
                (run the import again to resume).
            AuthError, PermissionDenied: the token may not import.
        """
        p = Path(path)
        policy = ConflictPolicy(policy)
        if not 1 <= chunk_size <= _MAX_CHUNK:
            raise InputError(f"chunk_size must be 1 to {_MAX_CHUNK}", field="chunk_size")
        sha = _file_sha256(p)
        ck_path = (
            None
            if checkpoint is False
            else Path(checkpoint)
            if checkpoint is not None
            else p.with_name(p.name + CHECKPOINT_SUFFIX)
        )
        identity = {
            "version": _CHECKPOINT_VERSION,
            "sha256": sha,
            "chunk_size": chunk_size,
            "policy": policy.value,
            "allow_new_relations": allow_new_relations,
            "server": self.url,
        }
        state = self._load_checkpoint(ck_path, identity)
        generation = int(state.get("generation", 0))
        start = int(state.get("next_chunk", 0))
        base = f"import-{sha[:32]}-{chunk_size}-{policy.value}-g{generation}"
        report = (
            RemoteImportReport.from_dict(state["report"])
            if start and "report" in state
            else RemoteImportReport(batch="", key=base)
        )
        report.resumed_from = start
        report.key = base
        total = _count_lines(p)
        bar = tqdm(
            total=max(total - (1 if p.suffix.lower() == ".csv" else 0), 1),
            initial=min(report.rows, total),
            unit="row",
            file=sys.stderr,
            disable=not progress,
            desc=f"importing {p.name}",
        )
        index = -1
        try:
            for index, (chunk, count) in enumerate(_chunks(p, fmt, chunk_size)):
                if index < start:
                    continue
                bad = [{"line": r.line, "reason": r.reason} for r in chunk if isinstance(r, BadRow)]
                rows = [r for r in chunk if not isinstance(r, BadRow)]
                # an export's derived rows stay here: the rules derive them again
                good = [
                    {
                        "subject": r.subject,
                        "relation": r.relation,
                        "object": r.object,
                        "line": r.line,
                    }
                    for r in rows
                    if not r.kind.derived
                ]
                report.rows += count
                report.bad_rows += bad
                report.derived_rows += len(rows) - len(good)
                if good:
                    body = {
                        "rows": good,
                        "policy": policy.value,
                        "source": p.name,
                        "allow_new_relations": allow_new_relations,
                    }
                    data = self._request(
                        "POST",
                        "/imports",
                        safe=True,
                        json_body=body,
                        headers={"Idempotency-Key": f"{base}-{index}"},
                    )
                    report.merge(data)
                    if data.get("failed"):
                        report.failed = str(data["failed"])
                        self._undo(report)
                        self._save_checkpoint(
                            ck_path, {**identity, "generation": generation + 1, "next_chunk": 0}
                        )
                        return report
                self._save_checkpoint(
                    ck_path,
                    {
                        **identity,
                        "generation": generation,
                        "next_chunk": index + 1,
                        "report": report.to_dict(),
                    },
                )
                bar.update(count)
        finally:
            bar.close()
        report.chunks = index + 1
        if ck_path is not None:
            with contextlib.suppress(FileNotFoundError):
                ck_path.unlink()
        return report

    def _undo(self, report: RemoteImportReport) -> None:
        """Roll back the chunks of a failed import (as a local import under policy fail)."""
        for batch in reversed(report.batches):
            with contextlib.suppress(NotFoundError):
                self.rollback_batch(batch)

    @staticmethod
    def _load_checkpoint(path: Path | None, identity: Mapping[str, Any]) -> dict[str, Any]:
        """The checkpoint's state when it is for this very import, else a fresh state."""
        if path is None or not path.exists():
            return {}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
            return {}
        if not isinstance(state, dict) or any(state.get(k) != v for k, v in identity.items()):
            _log.info("checkpoint %s is for another file or options; starting over", path)
            return {}
        return state

    @staticmethod
    def _save_checkpoint(path: Path | None, state: Mapping[str, Any]) -> None:
        """Write the checkpoint atomically (a crash leaves the old one or the new one)."""
        if path is None:
            return
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(
                f"cannot write the import checkpoint {path}: {exc.strerror or exc} (pass "
                "checkpoint=PATH somewhere writable, or checkpoint=False)",
                field="checkpoint",
            ) from None

    # ----------------------------------------------------------------- reads

    def ask(self, question: str) -> Answer:
        """Answer a question from the graph and from the edited model (``KnowSync.ask``).

        Raises:
            InputError: the question is empty or too long.
        """
        return answer_from_dict(
            self._request("POST", "/ask", safe=True, json_body={"question": question})
        )

    def facts(
        self,
        entity: str,
        *,
        as_of: int | None = None,
        derived: bool = True,
        incoming: bool = False,
    ) -> list[Fact]:
        """The facts about an entity (``KnowSync.facts``).

        Raises:
            NotFoundError: no entity has that name.
        """
        data = self._get(
            f"/entities/{_segment(entity)}/facts",
            as_of=as_of,
            derived=derived,
            incoming=incoming,
        )
        return [fact_from_dict(f) for f in data]

    def neighbourhood(
        self, entity: str, *, hops: int | None = None, fanout: int | None = None
    ) -> list[Fact]:
        """A deterministic sample of the facts around an entity.

        Raises:
            NotFoundError: no entity has that name.
        """
        data = self._get(f"/entities/{_segment(entity)}/neighbourhood", hops=hops, fanout=fanout)
        return [fact_from_dict(f) for f in data]

    def path(self, source: str, target: str, *, max_hops: int = 4) -> list[Fact]:
        """A shortest chain of facts linking two entities.

        Raises:
            NotFoundError: an entity does not exist, or no chain within ``max_hops``.
        """
        data = self._get("/path", source=source, target=target, max_hops=max_hops)
        return [fact_from_dict(f) for f in data]

    def history(
        self,
        entity: str | None = None,
        *,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 50,
    ) -> list[EditRecord]:
        """Journal entries, newest first (``KnowSync.history``); ``limit=None`` asks for the
        most the server gives (10,000).

        Raises:
            NotFoundError: the entity does not exist.
        """
        data = self._get(
            "/edits",
            entity=entity,
            user=user,
            since=since,
            until=until,
            limit=10_000 if limit is None else limit,
        )
        return [edit_from_dict(e) for e in data]

    def show(self, edit_id: int) -> tuple[EditRecord, list[Fact], list[Fact]]:
        """One journal entry with the facts it put in force and those it retired.

        Raises:
            NotFoundError: no edit has that id.
        """
        data = self._get(f"/edits/{int(edit_id)}")
        return (
            edit_from_dict(data),
            [fact_from_dict(f) for f in data.get("put_in_force", [])],
            [fact_from_dict(f) for f in data.get("retired", [])],
        )

    def get_edit(self, edit_id: int) -> EditRecord:
        """One journal entry (``KnowSync.get_edit``).

        Raises:
            NotFoundError: no edit has that id.
        """
        return self.show(edit_id)[0]

    def wait_for_model(self, edit_id: int, timeout: float = 600.0) -> EditRecord:
        """The journal entry once the server's model has caught up with it (its report's
        ``model_state`` no longer ``pending``: the server answers an edit as soon as the graph
        has it), polling every second; as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        record = self.get_edit(edit_id)
        while record.report.get("model_state") == "pending" and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            record = self.get_edit(edit_id)
        return record

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        """The facts an edit put in force and those it retired (``KnowSync.edit_changes``).

        Raises:
            NotFoundError: no edit has that id.
        """
        _, added, retired = self.show(edit_id)
        return added, retired

    def stats(self) -> dict[str, int]:
        """Counts of entities, facts by kind, edits and relations."""
        return dict(self._get("/stats"))

    def schema(self) -> Schema:
        """The relation library in force on the server."""
        return Schema.from_dict(self._get("/schema"))

    def export(
        self,
        target: str | Path | TextIO,
        *,
        format: str | None = None,
        as_of: int | None = None,
        with_provenance: bool = False,
    ) -> int:
        """Download the facts in force (or in force just after edit ``as_of``) as CSV or JSONL
        (``KnowSync.export``): the same rows, streamed to the target as they arrive. A file is
        written under a temporary name and renamed once complete, so a failed download leaves
        no half file.

        Args:
            target: a file path, or a text stream (``sys.stdout``) to write to.
            format: ``csv`` or ``jsonl``; None: told by the file's suffix (csv for a stream).
            as_of: an edit id: the state just after that edit.
            with_provenance: add ``edit_id``, ``user``, ``created_at``, ``rule``, ``premises``.

        Returns:
            The number of facts written.

        Raises:
            InputError: an unknown format, a suffix that tells none, an as_of below 1, or a
                file that cannot be written.
            NotFoundError: no edit has the id ``as_of``.
            ServerError: the server failed or could not be reached, or the download broke off.
            AuthError: the token is unknown or its account disabled.
        """
        fmt = export_format(format, Path(target) if isinstance(target, (str, Path)) else None)
        params = {
            "format": fmt,
            "as_of": as_of,
            "with_provenance": "true" if with_provenance else None,
        }
        if isinstance(target, (str, Path)):
            with replacing(Path(target)) as handle:
                return self._download("/export", params, handle.write, fmt)
        decoder = codecs.getincrementaldecoder("utf-8")()
        rows = self._download("/export", params, lambda b: target.write(decoder.decode(b)), fmt)
        target.write(decoder.decode(b"", final=True))
        return rows

    # ---------------------------------------------------------------- review

    def review_queue(self) -> list[EditRecord]:
        """Edits waiting for a curator, oldest first.

        Raises:
            PermissionDenied: the account is not a curator.
        """
        return [edit_from_dict(e) for e in self._get("/review")]

    def approve(self, edit_id: int, *, reason: str = "") -> Submission:
        """Release a held edit.

        Raises:
            NotFoundError: no edit has that id.
            InputError: the edit is not waiting for review.
            PermissionDenied: the account is not a curator.
        """
        return submission_from_dict(
            self._request(
                "POST", f"/review/{int(edit_id)}/approve", safe=False, json_body={"reason": reason}
            )
        )

    def reject(self, edit_id: int, *, reason: str) -> Submission:
        """Refuse a held edit, with the reason.

        Raises:
            NotFoundError: no edit has that id.
            InputError: no reason, or the edit is not waiting for review.
            PermissionDenied: the account is not a curator.
        """
        return submission_from_dict(
            self._request(
                "POST", f"/review/{int(edit_id)}/reject", safe=False, json_body={"reason": reason}
            )
        )

    def notices(self, *, include_seen: bool = False, limit: int = 50) -> list[Notice]:
        """The curators' decisions on this account's held edits, newest first: those not yet
        marked seen, or with ``include_seen`` the latest ones.

        Raises:
            InputError: a bad ``limit``.
        """
        data = self._get("/notices", include_seen=include_seen, limit=limit)
        return [notice_from_dict(n) for n in data]

    def mark_notices_seen(self, up_to: str | None = None) -> str:
        """Mark the decisions made until ``up_to`` (an ISO time; None: now) as seen; returns
        the mark in force (it never moves back, so repeating it is safe).

        Raises:
            InputError: ``up_to`` is not an ISO time.
        """
        data = self._request("POST", "/notices/seen", safe=True, json_body={"up_to": up_to})
        return str(data["seen_up_to"])

    def locks(self, entity: str | None = None) -> list[Lock]:
        """Locks, all or those on one entity."""
        return [lock_from_dict(lk) for lk in self._get("/locks", entity=entity)]

    def lock(
        self,
        entity: str,
        relation: str | None = None,
        object: str | None = None,
        *,
        reason: str = "",
    ) -> Lock:
        """Protect an entity or one fact (``KnowSync.lock``).

        Raises:
            NotFoundError: the entity or fact does not exist.
            PermissionDenied: the account is not a curator.
        """
        body = {"entity": entity, "relation": relation, "object": object, "reason": reason}
        return lock_from_dict(self._request("POST", "/locks", safe=False, json_body=body))

    def unlock(self, lock_id: int) -> Lock:
        """Remove a lock.

        Raises:
            NotFoundError: no lock has that id.
            PermissionDenied: the account is not a curator.
        """
        return lock_from_dict(self._request("DELETE", f"/locks/{int(lock_id)}", safe=False))

    # ----------------------------------------------------------------- users

    def users(self) -> list[Account]:
        """Every account (admin).

        Raises:
            PermissionDenied: the account is not an admin.
        """
        return [account_from_dict(a) for a in self._get("/users")]

    def get_user(self, name: str) -> Account:
        """One account (admin).

        Raises:
            NotFoundError: no account has that name.
        """
        return account_from_dict(self._get(f"/users/{_segment(name)}"))

    def add_user(self, name: str, role: Role | str = Role.VIEWER) -> tuple[Account, str]:
        """Add an account (admin); returns it with its first token, shown once.

        Raises:
            InputError: a malformed name, or the name is taken.
            PermissionDenied: the account is not an admin.
        """
        data = self._request(
            "POST", "/users", safe=False, json_body={"name": name, "role": Role(role).value}
        )
        return account_from_dict(data["account"]), str(data["token"])

    def set_role(self, name: str, role: Role | str) -> Account:
        """Change an account's role (admin).

        Raises:
            NotFoundError: no account has that name.
        """
        data = self._request(
            "PUT", f"/users/{_segment(name)}/role", safe=True, json_body={"role": Role(role).value}
        )
        return account_from_dict(data)

    def disable_user(self, name: str) -> Account:
        """Disable an account; its tokens stop working (admin).

        Raises:
            NotFoundError: no account has that name.
        """
        return account_from_dict(
            self._request("POST", f"/users/{_segment(name)}/disable", safe=True)
        )

    def enable_user(self, name: str) -> Account:
        """Enable a disabled account again; it needs a new token (admin).

        Raises:
            NotFoundError: no account has that name.
        """
        return account_from_dict(
            self._request("POST", f"/users/{_segment(name)}/enable", safe=True)
        )

    def new_token(self, name: str, *, label: str = "") -> str:
        """A new API token for an account (admin, or the account itself), shown once.

        Raises:
            NotFoundError: no account has that name.
        """
        data = self._request(
            "POST", f"/users/{_segment(name)}/tokens", safe=False, json_body={"label": label}
        )
        return str(data["token"])

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of an account (admin, or the account itself); returns how many.

        Raises:
            NotFoundError: no account has that name.
        """
        data = self._request("DELETE", f"/users/{_segment(name)}/tokens", safe=True)
        return int(data["revoked"])


def _segment(text: str) -> str:
    """A path segment: entity names may hold any character but '/' must not split it."""
    from urllib.parse import quote

    return quote(text, safe="")
