"""The HTTP API: FastAPI, versioned under ``/api/v1``, a thin layer over the one door,
:class:`knowsync._session.Session`.

Every endpoint opens the session of its bearer token's account (``Session.signed_in``), calls
one of the session's methods in a thread (the endpoints are plain ``def``: the knowledge base
blocks), and returns a pydantic model; the session authorizes what it does and applies the
service's rules, so no route has a rule of its own. Reads run in the threadpool
every sync endpoint shares; writes in threads of their own (:class:`ui._guards.WritePool`), so
that writes waiting for the store never keep reads waiting. Errors leave as JSON
``{"error": {"code", "message", "field", ...}}``, mapped from the exception tree in one place
(:data:`ERROR_STATUS`): the Python client (:mod:`knowsync.client`) maps the codes back to the
same classes.

Before a route sees a request, its body is bounded (:class:`ui._guards.BodyLimit`: 413 from the
Content-Length, or as soon as a chunked body passes the limit), and a body sent to a route that
needs a token is not read until the token is good; an address that keeps presenting bad tokens
is paused (:class:`ui._guards.SignInThrottle`, 429 with Retry-After).

Batch imports are idempotent per chunk: the key a client sends with a chunk is recorded in the
store's documents together with the chunk's outcome; the same key again returns that outcome
and applies nothing (see :class:`knowsync._chunks.ChunkImports`).

``/docs`` is an API reference rendered on the server from the OpenAPI schema, so it works with
no internet; ``/docs/swagger`` is the interactive Swagger UI, whose script the browser loads from
a CDN; ``/openapi.json`` is the schema itself.
"""

import contextlib
import html
import importlib
import importlib.util
import queue
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Annotated, Any, Literal

import fastapi
from fastapi import (
    Body,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Query,
    Request,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from controller import ConflictPolicy, EditRefused, RollbackRefused
from editor._errors import EditorError
from interpreter import MAX_TEXT_LENGTH, BackendError
from kg import (
    EditRecord,
    Fact,
    InputError,
    KnowsyncError,
    Lock,
    NotFoundError,
    SchemaError,
    StoreError,
    UnknownRelationError,
)
from kg._io import BadRow, detect_format, read_rows
from knowsync import KnowSync, __version__
from knowsync._api import EditResult, ImportReport
from knowsync._chunks import FaultHook
from knowsync._inbox import MAX_NOTICES
from knowsync._outcomes import (
    Account,
    Answer,
    AuthError,
    ModelState,
    Notice,
    PermissionDenied,
    Role,
    Submission,
)
from knowsync._session import Session
from knowsync.client import IdempotencyConflict
from ui._guards import (
    BodyLimit,
    BodyTooLarge,
    SignInThrottle,
    TooManyAttempts,
    WritePool,
)

__all__ = [
    "API_PREFIX",
    "ERROR_STATUS",
    "MAX_BODY_BYTES",
    "MAX_IMPORT_ROWS",
    "MAX_UPLOAD_BYTES",
    "create_app",
    "error_body",
]

API_PREFIX = "/api/v1"
MAX_IMPORT_ROWS = 50_000
"""The most rows one import request may carry; a client sends a large file in chunks."""
MAX_BODY_BYTES = 16 << 20
"""The default limit on a request body (JSON), in bytes."""
MAX_UPLOAD_BYTES = 64 << 20
"""The default limit on the body of a file upload (``/imports/upload``), in bytes."""
WRITE_THREADS = 4
"""The default number of writes handled at once (see :class:`ui._guards.WritePool`)."""
SIGN_IN_FAILURES = 5
"""The default number of failed authentications per minute and address before a pause."""
_UPLOAD_PATH = f"{API_PREFIX}/imports/upload"
_PUBLIC_PATHS = frozenset({f"{API_PREFIX}/health"})
_ADMITTED = "knowsync.account"
"""The scope key under which a token checked before the body was read leaves its account."""

# The exception tree, mapped to status codes and error codes, most specific first. The client
# maps the codes back (knowsync/client.py ``error_from_response`` is the inverse).
ERROR_STATUS: list[tuple[type[BaseException], int, str]] = [
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (TooManyAttempts, 429, "too_many_attempts"),
    (AuthError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (UnknownRelationError, 400, "unknown_relation"),
    (InputError, 400, "invalid_input"),
    (NotFoundError, 404, "not_found"),
    (RollbackRefused, 409, "rollback_refused"),
    (EditRefused, 409, "edit_refused"),
    (SchemaError, 400, "schema_error"),
    (StoreError, 500, "store_error"),
    (BackendError, 502, "backend_error"),
    (EditorError, 500, "editor_error"),
    (KnowsyncError, 400, "error"),
]


# ----------------------------------------------------------------------- errors


def error_body(
    code: str, message: str, *, field: str | None = None, **details: Any
) -> dict[str, Any]:
    """The JSON body of every error response."""
    err: dict[str, Any] = {"code": code, "message": message, "field": field}
    err.update({k: v for k, v in details.items() if v is not None})
    return {"error": err}


def _error_response(exc: KnowsyncError) -> JSONResponse:
    status, code = 400, "error"
    for cls, st, cd in ERROR_STATUS:
        if isinstance(exc, cls):
            status, code = st, cd
            break
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InputError):
        details["line"] = exc.line
    if isinstance(exc, UnknownRelationError):
        details["relation"] = exc.relation
        details["suggestions"] = exc.suggestions
    if isinstance(exc, EditRefused):
        details["reasons"] = exc.reasons
        details["edit_id"] = exc.edit_id
    if isinstance(exc, RollbackRefused):
        details["edit_id"] = exc.edit_id
        details["dependants"] = exc.dependants
        details["blocked"] = exc.blocked
    if isinstance(exc, StoreError) and exc.transient:
        status, code = 503, "store_busy"
        headers["Retry-After"] = "1"
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    field = getattr(exc, "field", None)
    return JSONResponse(
        error_body(code, str(exc), field=field, **details), status_code=status, headers=headers
    )


def _too_large(exc: BodyTooLarge) -> JSONResponse:
    """The answer to a request body over its limit."""
    return JSONResponse(
        error_body("payload_too_large", str(exc.detail), limit=exc.limit), status_code=413
    )


def _validation_field(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


# ------------------------------------------------------------------------ models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


Name = Annotated[str, Field(min_length=1, max_length=500)]


class TripleIn(_Strict):
    """A triple: ``{"subject", "relation", "object"}``, or the list ``["S", "R", "O"]``."""

    subject: Name
    relation: Name
    object: Name

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            if len(value) != 3:
                raise ValueError(
                    f"a triple is [subject, relation, object]: 3 strings, not {len(value)}"
                )
            return {"subject": value[0], "relation": value[1], "object": value[2]}
        return value

    def raw(self) -> tuple[str, str, str]:
        return (self.subject, self.relation, self.object)


class SubmitText(_Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, description="a sentence to act on")
    new_names: bool = Field(
        False,
        description="confirm the names of the edit that are new to the graph; without it (and "
        "without double quotes around them) the answer is needs_clarification naming them, and "
        "nothing changes",
    )


class SubmitTriples(_Strict):
    assert_: list[TripleIn] = Field(default_factory=list, alias="assert", max_length=10_000)
    retract: list[TripleIn] = Field(default_factory=list, max_length=10_000)
    dry_run: bool = Field(False, description="show the decision, write nothing")


class AskIn(_Strict):
    question: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)


class ImportRow(_Strict):
    subject: str
    relation: str
    object: str
    line: int | None = Field(None, ge=1, description="the row's line in the client's file")


class ImportRows(_Strict):
    rows: list[ImportRow] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)
    policy: ConflictPolicy = ConflictPolicy.SKIP
    source: str | None = Field(
        None, max_length=200, description="the file the rows come from (for the journal)"
    )
    allow_new_relations: bool = False


class RollbackIn(_Strict):
    cascade: bool = Field(False, description="first undo the later edits that depend on it")


class ApproveIn(_Strict):
    reason: str = Field("", max_length=2000)


class RejectIn(_Strict):
    reason: str = Field(min_length=1, max_length=2000)


class NewUser(_Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.VIEWER


class RoleIn(_Strict):
    role: Role


class TokenIn(_Strict):
    label: str = Field("", max_length=200)


class SeenIn(_Strict):
    up_to: str | None = Field(
        None,
        max_length=64,
        description="an ISO time: the `at` of the newest notice shown (null: now)",
    )


class SeenOut(BaseModel):
    user: str
    seen_up_to: str = Field(description="decisions made until this time are seen")


class LockIn(_Strict):
    entity: Name
    relation: str | None = None
    object: str | None = None
    reason: str = Field("", max_length=2000)


class FactOut(_Open):
    subject: str
    relation: str
    object: str
    kind: str
    edit_id: int | None
    user: str
    created_at: str


class EditOut(BaseModel):
    id: int
    kind: str
    user: str
    created_at: str
    state: str
    request: dict[str, Any]
    report: dict[str, Any]
    rollback_of: int | None
    rolled_back_by: int | None
    batch: str | None


class EditDetail(EditOut):
    put_in_force: list[FactOut]
    retired: list[FactOut]


class AnswerOut(BaseModel):
    question: str
    subject: str | None
    relation: str | None
    graph: list[str]
    facts: list[FactOut]
    model: str | None
    agree: bool | None
    unclear: dict[str, Any] | None
    path: list[str] = []
    chain: list[dict[str, Any]] = []
    missing: dict[str, Any] | None = None
    model_in_context: str | None = None


@pydantic_dataclass
class ImportOut(ImportReport):
    """An import request's report (:class:`knowsync.ImportReport`), and whether its key had
    been seen."""

    replayed: Annotated[
        bool, Field(description="the key was seen before: nothing was applied now")
    ] = False


class NewUserOut(BaseModel):
    account: Account
    token: str = Field(description="shown once; only its hash is stored")


class TokenOut(BaseModel):
    user: str
    token: str


class RevokedOut(BaseModel):
    user: str
    revoked: int


class LockOut(BaseModel):
    id: int
    entity: str
    relation: str | None
    object: str | None
    user: str
    reason: str
    created_at: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    model: bool = Field(description="whether a language model is kept in agreement")
    model_state: ModelState = Field(
        description="where the model stands: none (graph only), loading (the graph serves "
        "meanwhile; edits reach the model once it is ready), ready, or failed"
    )
    model_label: str = Field(description="the model and editing method, once loaded")
    model_backlog: int = Field(
        0, description="changes in the graph the model's weights do not reflect yet"
    )
    model_syncing: bool = Field(
        False, description="whether the model is being brought up to date in the background"
    )


class ErrorDetail(_Open):
    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut, "description": d}
    for s, d in (
        (400, "invalid input (code says which kind)"),
        (401, "missing, unknown or disabled token"),
        (403, "the account's role does not allow this"),
        (404, "no such entity, edit or user"),
        (409, "refused by the rules, or an idempotency key reused with another payload"),
        (413, "the request body is over the server's limit; `limit` says it in bytes"),
        (422, "malformed payload; `field` names the offending field"),
        (429, "too many failed sign-ins from this address; retry after the Retry-After header"),
        (503, "the store is busy; retry after the Retry-After header"),
    )
}


def _fact(f: Fact) -> FactOut:
    return FactOut.model_validate(f.to_dict())


def _edit(e: EditRecord) -> EditOut:
    return EditOut.model_validate(e.to_dict())


def _answer(a: Answer) -> AnswerOut:
    return AnswerOut.model_validate(a.to_dict())


def _uploaded_rows(
    path: Path, fmt: str, name: str
) -> tuple[list[ImportRow], list[dict[str, Any]], int]:
    """The rows of an uploaded file: the good ones to import, the bad ones (line, reason) and
    how many were marked derived (an export's, which the rules derive again). Reading stops
    at the first row past :data:`MAX_IMPORT_ROWS`, so a file of any length costs at most
    that many rows of memory.

    Raises:
        InputError: the file has more rows than one request takes, cannot be read, is not
            UTF-8 or has no usable header (the messages name the upload, never the server's
            copy of it).
    """
    rows: list[ImportRow] = []
    bad: list[dict[str, Any]] = []
    derived_rows = 0
    for count, row in enumerate(read_rows(path, fmt, name=name), start=1):
        if count > MAX_IMPORT_ROWS:
            raise InputError(
                f"{name} has more than {MAX_IMPORT_ROWS} rows, the most one upload takes: "
                "split it into smaller files, or import it with the Python client "
                "(Client.import_file) or `knowsync --server URL import FILE`, which send it "
                "in chunks",
                field="file",
            )
        if isinstance(row, BadRow):
            bad.append({"line": row.line, "reason": row.reason})
        elif row.kind.derived:  # an export's derived row: the rules derive it again
            derived_rows += 1
        else:
            rows.append(
                ImportRow(
                    subject=row.subject, relation=row.relation, object=row.object, line=row.line
                )
            )
    return rows, bad, derived_rows


# ------------------------------------------------------------------------- docs


def _reference_html(spec: dict[str, Any]) -> str:
    """A static API reference from the OpenAPI schema: no script, no CDN."""
    esc = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(spec['info']['title'])} API reference</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;"
        "padding:0 1em;line-height:1.4}code,pre{background:#f4f4f4;padding:1px 4px}"
        "h2{border-bottom:1px solid #ccc;margin-top:2em}.op{margin:1.2em 0}"
        ".m{display:inline-block;min-width:4em;font-weight:bold}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;"
        "text-align:left;vertical-align:top}</style></head><body>",
        f"<h1>{esc(spec['info']['title'])} {esc(spec['info'].get('version', ''))}</h1>",
        f"<p>{esc(spec['info'].get('description', ''))}</p>",
        "<p>Machine-readable schema: <a href='/openapi.json'>/openapi.json</a>. Interactive "
        "Swagger UI (the browser loads its script from a CDN): "
        "<a href='/docs/swagger'>/docs/swagger</a>. Authenticate with "
        "<code>Authorization: Bearer TOKEN</code>.</p><h2>Endpoints</h2>",
    ]

    def ref_name(schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            return f"<a href='#schema-{esc(name)}'>{esc(name)}</a>"
        if "anyOf" in schema:
            return " | ".join(ref_name(s) for s in schema["anyOf"])
        if schema.get("type") == "array":
            return f"list[{ref_name(schema.get('items', {}))}]"
        return esc(str(schema.get("type", "any")))

    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            out.append(
                f"<div class='op'><span class='m'>{esc(method.upper())}</span> "
                f"<code>{esc(path)}</code> — {esc(op.get('summary', ''))}"
            )
            if op.get("description"):
                out.append(f"<p>{esc(op['description'])}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th></tr>")
                for p in params:
                    req = " (required)" if p.get("required") else ""
                    out.append(
                        f"<tr><td>{esc(p['name'])}{req}</td><td>{esc(p['in'])}</td>"
                        f"<td>{ref_name(p.get('schema', {}))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {})
            for ctype, media in body.items():
                out.append(f"<p>body ({esc(ctype)}): {ref_name(media.get('schema', {}))}</p>")
            ok = op.get("responses", {})
            codes = ", ".join(esc(str(c)) for c in ok)
            out.append(f"<p>responses: {codes}</p></div>")
    out.append("<h2>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out.append(f"<h3 id='schema-{esc(name)}'>{esc(name)}</h3>")
        if schema.get("description"):
            out.append(f"<p>{esc(schema['description'])}</p>")
        props = schema.get("properties", {})
        if props:
            required = set(schema.get("required", []))
            out.append("<table><tr><th>field</th><th>type</th><th>about</th></tr>")
            for pname, p in props.items():
                star = " *" if pname in required else ""
                out.append(
                    f"<tr><td>{esc(pname)}{star}</td><td>{ref_name(p)}</td>"
                    f"<td>{esc(p.get('description', ''))}</td></tr>"
                )
            out.append("</table>")
        elif "enum" in schema:
            out.append(f"<p>one of: {esc(', '.join(map(str, schema['enum'])))}</p>")
    out.append("</body></html>")
    return "\n".join(out)


# ------------------------------------------------------------------------ export

_EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_PAGE_BYTES = 1 << 16  # the body is sent in pieces of about this size
_PAGES_AHEAD = 4  # pieces drawn ahead of the client
_STALLED_S = 300.0  # a client that takes nothing for this long has gone: stop reading


class _Abandoned(Exception):
    """The response stopped taking pieces (the client went away, or stalled)."""


async def _drawn_in_one_thread(lines: Generator[str, None, None]) -> AsyncIterator[bytes]:
    """The body of a streamed response: ``lines`` drawn in a thread of their own, handed on as
    UTF-8 pieces of about :data:`_PAGE_BYTES`.

    The lines read the store through one view, and a view belongs to the thread that opened
    it, so one thread draws them all (a plain iterator would be drawn piece by piece in any
    threadpool thread). At most :data:`_PAGES_AHEAD` pieces wait, so memory stays bounded; when
    the response stops taking pieces, the thread closes ``lines`` (and with it the view). An
    error while drawing reaches the response, which then breaks off: the client sees an
    incomplete body, never a short one that looks whole.
    """
    pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_PAGES_AHEAD)
    stop = threading.Event()

    def hand_on(item: bytes | BaseException | None) -> None:
        waited = 0.0
        while not stop.is_set() and waited < _STALLED_S:
            try:
                pieces.put(item, timeout=0.5)
                return
            except queue.Full:
                waited += 0.5
        raise _Abandoned

    def draw() -> None:
        try:
            page: list[str] = []
            size = 0
            for line in lines:
                page.append(line)
                size += len(line)
                if size >= _PAGE_BYTES:
                    hand_on("".join(page).encode("utf-8"))
                    page, size = [], 0
            if page:
                hand_on("".join(page).encode("utf-8"))
            hand_on(None)
        except _Abandoned:
            pass
        except BaseException as exc:  # handed to the response, which raises it
            with contextlib.suppress(_Abandoned):
                hand_on(exc)
        finally:
            lines.close()

    threading.Thread(target=draw, name="knowsync-export", daemon=True).start()
    try:
        while True:
            try:
                item = await run_in_threadpool(pieces.get, True, 0.5)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


# -------------------------------------------------------------------------- app


def create_app(
    ks: KnowSync,
    *,
    web: bool = True,
    fault: FaultHook | None = None,
    open_web: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    write_threads: int = WRITE_THREADS,
    sign_in_failures: int = SIGN_IN_FAILURES,
) -> FastAPI:
    """The HTTP API over one knowledge base (and, with ``web``, the web app at ``/``).

    Args:
        ks: the knowledge base every request acts on.
        web: mount the web app from ``ui.web.mount(app, ks)`` at ``/`` when that module
            exists; otherwise ``/`` redirects to ``/docs``.
        fault: a hook called at named points (tests inject failures; see :data:`FaultHook`).
        open_web: while the knowledge base has no accounts, the web app opens without sign-in,
            acting as the local user (for a server only this machine reaches).
        max_body_bytes: the largest request body an API route takes (413 beyond it, refused
            before it is read: at once from its Content-Length, or as soon as a chunked body
            passes it).
        max_upload_bytes: the same for ``/imports/upload``, and for the web app's routes
            (which check their own uploads too).
        write_threads: how many writes are handled at once; more wait without holding a
            thread, and reads are answered meanwhile (see :class:`ui._guards.WritePool`).
        sign_in_failures: failed token authentications one client address may make per
            minute before it is answered 429 with Retry-After (0: no limit).

    Returns:
        The application, for uvicorn or a test client.

    Raises:
        ValueError: a limit that is not a positive number (``sign_in_failures`` may be 0).
    """
    if max_body_bytes < 1 or max_upload_bytes < 1:
        raise ValueError("the body limits must be positive numbers of bytes")
    app = FastAPI(
        title="knowsync",
        version=__version__,
        description="A knowledge graph and a language model kept in agreement, edited in plain "
        "language. Every operation is journaled, attributed and can be rolled back.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ks = ks
    imports = ks.chunk_imports(fault)
    bearer = HTTPBearer(auto_error=False, description="an API token (knowsync users token)")
    writes = WritePool(write_threads)
    throttle = SignInThrottle(sign_in_failures, 60.0)
    app.state.sign_in_throttle = throttle  # for other sign-in doors served by this app

    # ---------------------------------------------------------------- errors

    @app.exception_handler(KnowsyncError)
    def _on_knowsync(request: Request, exc: KnowsyncError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _validation_field(tuple(e.get("loc", ()))), "message": str(e.get("msg"))}
            for e in exc.errors()
        ] or [{"field": "", "message": "invalid request"}]
        field = details[0]["field"]
        message = f"{field}: {details[0]['message']}" if field else details[0]["message"]
        return JSONResponse(
            error_body("invalid_payload", message, field=field or None, errors=details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLarge):
            return _too_large(exc)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", f"internal error: {type(exc).__name__}"),
            status_code=500,
        )

    # ------------------------------------------------------------------ auth

    def authenticated(scope: Scope, token: str | None) -> Session:
        """The session of a request's token, failures counted per client address.

        Raises:
            AuthError: no token, or one that is unknown, revoked or of a disabled account.
            TooManyAttempts: the address has failed too often lately.
        """
        if not token:
            raise AuthError("send an API token: 'Authorization: Bearer TOKEN'")
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        throttle.check(address)
        try:
            return Session.signed_in(ks, token)
        except AuthError:
            throttle.failed(address)
            raise

    def account(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Session:
        admitted = request.scope.get(_ADMITTED)
        if isinstance(admitted, Session):  # checked before the body was read
            return admitted
        return authenticated(request.scope, credentials.credentials if credentials else None)

    async def admit(scope: Scope, path: str) -> Response | None:
        """A request with a body to a route that needs a token: the token is checked before
        the body is read, so that nobody without one makes the server take a body."""
        if not path.startswith(f"{API_PREFIX}/") or path in _PUBLIC_PATHS:
            return None
        scheme, token = get_authorization_scheme_param(Request(scope).headers.get("authorization"))
        try:
            who = await run_in_threadpool(
                authenticated, scope, token if scheme.lower() == "bearer" else None
            )
        except KnowsyncError as exc:
            return _error_response(exc)
        scope[_ADMITTED] = who
        return None

    def body_limit(path: str) -> int:
        if path == _UPLOAD_PATH:
            return max_upload_bytes
        if path.startswith(API_PREFIX):
            return max_body_bytes
        return max(max_body_bytes, max_upload_bytes)  # the web app checks its own uploads

    app.add_middleware(BodyLimit, limit_for=body_limit, refuse=_too_large, admit=admit)

    # Each route acts through the session of its token's account (the one door); the role
    # checks below only answer 403 before a route reads its body or starts a stream: the
    # session's own methods authorize what they do.
    Me = Annotated[Session, Depends(account)]

    def allowed(action: str) -> Any:
        def check(who: Me) -> Session:
            who.authorize(action)
            return who

        return Depends(check)

    Viewer = Annotated[Session, allowed("read")]
    Asker = Annotated[Session, allowed("ask")]
    Editor = Annotated[Session, allowed("submit")]
    Curator = Annotated[Session, allowed("review")]
    Locker = Annotated[Session, allowed("lock")]
    Admin = Annotated[Session, allowed("admin")]
    Key = Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="the same key again returns the first outcome and applies nothing",
        ),
    ]
    EditId = Annotated[int, fastapi.Path(ge=1)]

    v1 = API_PREFIX

    # ---------------------------------------------------------------- public

    @app.get(f"{v1}/health", tags=["meta"], summary="liveness; no token needed")
    def health() -> HealthOut:
        status = ks.model_status
        sync = ks.model_sync_state()
        return HealthOut(
            status="ok",
            version=__version__,
            model=ks.model is not None,
            model_state=status.state,
            model_label=status.label,
            model_backlog=sync["backlog"],
            model_syncing=sync["syncing"],
        )

    @app.get(f"{v1}/whoami", tags=["meta"], summary="the account of the token", responses=_ERRORS)
    def whoami(who: Me) -> Account:
        return who.whoami()

    # ----------------------------------------------------------------- edits

    @app.post(
        f"{v1}/submit",
        tags=["edits"],
        summary="act on a sentence (an edit, a retraction or a question)",
        description="An edit that names entities new to the graph, written without double "
        "quotes, is answered needs_clarification: the question names them, the suggestions "
        "hold the sentence with them quoted (quoted names count as confirmed), and nothing "
        "changes; new_names: true confirms them.",
        responses=_ERRORS,
    )
    @writes.endpoint
    def submit(body: SubmitText, who: Me) -> Submission:
        # what the sentence asks decides the role it needs (ask, submit, rollback): the
        # service authorizes it once it has read the sentence
        return who.submit(body.text, new_names=body.new_names)

    @app.post(
        f"{v1}/triples",
        tags=["edits"],
        summary="assert and retract triples as one edit",
        description="With an Idempotency-Key header, a retried request returns the first "
        "outcome and applies nothing again. dry_run shows the decision and writes nothing.",
        responses=_ERRORS,
    )
    @writes.endpoint
    def submit_triples(body: SubmitTriples, who: Editor, key: Key = None) -> Submission:
        assert_ = [t.raw() for t in body.assert_]
        retract = [t.raw() for t in body.retract]
        if not assert_ and not retract:
            raise InputError("give at least one triple to assert or retract", field="assert")
        sub = who.submit_triples(
            assert_,
            retract,
            idempotency_key=None if body.dry_run else key,
            dry_run=body.dry_run,
        )
        return sub

    @app.post(
        f"{v1}/imports",
        tags=["edits"],
        summary="import a chunk of rows (JSON), idempotent per Idempotency-Key",
        responses=_ERRORS,
    )
    @writes.endpoint
    def import_rows(body: ImportRows, who: Editor, key: Key = None) -> ImportOut:
        if body.allow_new_relations:
            who.authorize("schema")
        result, replayed = imports.run(who, key, body.model_dump(mode="json"))
        return ImportOut(**result, replayed=replayed)

    @app.post(
        f"{v1}/imports/upload",
        tags=["edits"],
        summary="import an uploaded CSV or JSONL file (or chunk), idempotent per key",
        responses=_ERRORS,
    )
    @writes.endpoint
    def import_upload(
        who: Editor,
        file: Annotated[UploadFile, File(description="head,relation,tail CSV, or JSONL")],
        policy: Annotated[ConflictPolicy, Form()] = ConflictPolicy.SKIP,
        format: Annotated[Literal["csv", "jsonl"] | None, Form()] = None,
        allow_new_relations: Annotated[bool, Form()] = False,
        key: Key = None,
    ) -> ImportOut:
        name = Path(file.filename or "upload").name[:200] or "upload"
        fmt = detect_format(Path(name), format)
        with tempfile.TemporaryDirectory(prefix="knowsync-upload-") as tmp:
            path = Path(tmp) / f"upload.{fmt}"
            with path.open("wb") as fh:  # the body limit bounds it (create_app)
                shutil.copyfileobj(file.file, fh, 1 << 20)
            rows, bad, derived_rows = _uploaded_rows(path, fmt, name)
        if not rows:
            report = ImportReport(
                batch="", rows=len(bad) + derived_rows, bad_rows=bad, derived_rows=derived_rows
            )
            return ImportOut(**report.to_dict(), replayed=False)
        if allow_new_relations:
            who.authorize("schema")
        body = ImportRows(
            rows=rows, policy=policy, source=name, allow_new_relations=allow_new_relations
        )
        result, replayed = imports.run(who, key, body.model_dump(mode="json"))
        result["bad_rows"] = sorted(bad + result["bad_rows"], key=lambda b: b["line"])
        result["rows"] += len(bad) + derived_rows
        result["derived_rows"] = derived_rows
        return ImportOut(**result, replayed=replayed)

    @app.post(
        f"{v1}/edits/{{edit_id}}/rollback",
        tags=["edits"],
        summary="undo an edit exactly (with cascade: the later edits that depend on it first)",
        responses=_ERRORS,
    )
    @writes.endpoint
    def rollback(
        edit_id: EditId, who: Me, body: Annotated[RollbackIn | None, Body()] = None
    ) -> list[EditResult]:
        cascade = body.cascade if body is not None else False
        # every edit a rollback undoes, however deep a cascade goes, is checked in its
        # transaction
        results = who.rollback(edit_id, cascade=cascade)
        return results

    @app.post(
        f"{v1}/batches/{{batch}}/rollback",
        tags=["edits"],
        summary="undo every edit of an import batch",
        responses=_ERRORS,
    )
    @writes.endpoint
    def rollback_batch(
        batch: Annotated[str, fastapi.Path(min_length=1, max_length=100)], who: Me
    ) -> list[EditResult]:
        results = who.rollback_batch(batch)
        return results

    # ----------------------------------------------------------------- reads

    @app.post(
        f"{v1}/ask",
        tags=["reads"],
        summary="answer a question from the graph and from the edited model",
        responses=_ERRORS,
    )
    def ask(body: AskIn, who: Asker) -> AnswerOut:
        return _answer(who.ask(body.question))

    @app.get(
        f"{v1}/entities/{{entity:path}}/facts",
        tags=["reads"],
        summary="the facts about an entity",
        responses=_ERRORS,
    )
    def facts(
        entity: str,
        who: Viewer,
        as_of: Annotated[int | None, Query(ge=0, description="as just after this edit")] = None,
        derived: bool = True,
        incoming: Annotated[bool, Query(description="also facts with it as object")] = False,
    ) -> list[FactOut]:
        return [
            _fact(f) for f in who.facts(entity, as_of=as_of, derived=derived, incoming=incoming)
        ]

    @app.get(
        f"{v1}/entities/{{entity:path}}/neighbourhood",
        tags=["reads"],
        summary="a deterministic sample of the facts around an entity",
        responses=_ERRORS,
    )
    def neighbourhood(
        entity: str,
        who: Viewer,
        hops: Annotated[int | None, Query(ge=1, le=6)] = None,
        fanout: Annotated[int | None, Query(ge=1, le=200)] = None,
    ) -> list[FactOut]:
        return [_fact(f) for f in who.neighbourhood(entity, hops=hops, fanout=fanout)]

    @app.get(
        f"{v1}/path",
        tags=["reads"],
        summary="a shortest chain of facts linking two entities",
        responses=_ERRORS,
    )
    def path(
        source: Annotated[str, Query(min_length=1)],
        target: Annotated[str, Query(min_length=1)],
        who: Viewer,
        max_hops: Annotated[int, Query(ge=1, le=8)] = 4,
    ) -> list[FactOut]:
        return [_fact(f) for f in who.path(source, target, max_hops=max_hops)]

    @app.get(
        f"{v1}/edits",
        tags=["reads"],
        summary="the journal, newest first (history)",
        responses=_ERRORS,
    )
    def history(
        who: Viewer,
        user: str | None = None,
        entity: str | None = None,
        since: Annotated[str | None, Query(description="ISO time")] = None,
        until: Annotated[str | None, Query(description="ISO time")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    ) -> list[EditOut]:
        return [
            _edit(e) for e in who.history(entity, user=user, since=since, until=until, limit=limit)
        ]

    @app.get(
        f"{v1}/edits/{{edit_id}}",
        tags=["reads"],
        summary="one journal entry with the facts it put in force and retired",
        responses=_ERRORS,
    )
    def get_edit(edit_id: EditId, who: Viewer) -> EditDetail:
        record, added, retired = who.show(edit_id)
        return EditDetail.model_validate(
            {
                **record.to_dict(),
                "put_in_force": [f.to_dict() for f in added],
                "retired": [f.to_dict() for f in retired],
            }
        )

    @app.get(f"{v1}/stats", tags=["reads"], summary="counts", responses=_ERRORS)
    def stats(who: Viewer) -> dict[str, int]:
        return who.stats()

    @app.get(f"{v1}/schema", tags=["reads"], summary="the relation library", responses=_ERRORS)
    def schema(who: Viewer) -> dict[str, Any]:
        return who.schema().to_dict()

    @app.get(
        f"{v1}/export",
        tags=["reads"],
        summary="the facts in force (or as of an edit) as CSV or JSONL, streamed",
        description="One row per fact: subject, relation, object and kind (asserted, inverse, "
        "composed); with_provenance adds edit_id, user, created_at, rule and premises. The "
        "file imports again (POST /imports/upload, `knowsync import`): derived rows are left "
        "to the rules, which derive them again.",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "the export, streamed",
                "content": {media: {} for media in _EXPORT_MEDIA.values()},
            },
            **_ERRORS,
        },
    )
    def export(
        who: Viewer,
        format: Literal["csv", "jsonl"] = "csv",
        as_of: Annotated[int | None, Query(ge=1, description="as just after this edit")] = None,
        with_provenance: Annotated[
            bool, Query(description="add edit_id, user, created_at, rule, premises")
        ] = False,
    ) -> StreamingResponse:
        lines = who.export_lines(format=format, as_of=as_of, with_provenance=with_provenance)
        name = f"knowsync-export{f'-as-of-{as_of}' if as_of is not None else ''}.{format}"
        return StreamingResponse(
            _drawn_in_one_thread(lines),
            media_type=_EXPORT_MEDIA[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # ---------------------------------------------------------------- review

    @app.get(
        f"{v1}/review",
        tags=["review"],
        summary="edits waiting for a curator, oldest first",
        responses=_ERRORS,
    )
    def review_queue(who: Curator) -> list[EditOut]:
        return [_edit(e) for e in who.review_queue()]

    @app.post(
        f"{v1}/review/{{edit_id}}/approve",
        tags=["review"],
        summary="release a held edit (it is planned against the graph as it is now)",
        responses=_ERRORS,
    )
    @writes.endpoint
    def approve(
        edit_id: EditId, who: Curator, body: Annotated[ApproveIn | None, Body()] = None
    ) -> Submission:
        reason = body.reason if body is not None else ""
        return who.approve(edit_id, reason=reason)

    @app.post(
        f"{v1}/review/{{edit_id}}/reject",
        tags=["review"],
        summary="refuse a held edit, with the reason",
        responses=_ERRORS,
    )
    @writes.endpoint
    def reject(edit_id: EditId, body: RejectIn, who: Curator) -> Submission:
        return who.reject(edit_id, reason=body.reason)

    @app.get(
        f"{v1}/notices",
        tags=["review"],
        summary="the curators' decisions on your held edits, newest first",
        description="Read from the journal. By default only the decisions not yet marked "
        "seen; include_seen=true gives the latest ones with their `seen` flag.",
        responses=_ERRORS,
    )
    def notices(
        who: Asker,
        include_seen: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_NOTICES)] = 50,
    ) -> list[Notice]:
        return who.notices(include_seen=include_seen, limit=limit)

    @app.post(
        f"{v1}/notices/seen",
        tags=["review"],
        summary="mark the decisions made until a time as seen",
        responses=_ERRORS,
    )
    @writes.endpoint
    def mark_notices_seen(who: Asker, body: Annotated[SeenIn | None, Body()] = None) -> SeenOut:
        mark = who.mark_notices_seen(body.up_to if body is not None else None)
        return SeenOut(user=who.user, seen_up_to=mark)

    @app.get(f"{v1}/locks", tags=["review"], summary="locks", responses=_ERRORS)
    def locks(who: Viewer, entity: str | None = None) -> list[LockOut]:
        return [_lock(lk) for lk in who.locks(entity)]

    @app.post(f"{v1}/locks", tags=["review"], summary="lock an entity or fact", responses=_ERRORS)
    @writes.endpoint
    def lock(body: LockIn, who: Locker) -> LockOut:
        lk = who.lock(body.entity, body.relation, body.object, reason=body.reason)
        return _lock(lk)

    @app.delete(
        f"{v1}/locks/{{lock_id}}", tags=["review"], summary="remove a lock", responses=_ERRORS
    )
    @writes.endpoint
    def unlock(lock_id: Annotated[int, fastapi.Path(ge=1)], who: Locker) -> LockOut:
        return _lock(who.unlock(lock_id))

    # ----------------------------------------------------------------- users

    @app.get(f"{v1}/users", tags=["users"], summary="every account", responses=_ERRORS)
    def users(who: Admin) -> list[Account]:
        return who.users()

    @app.post(
        f"{v1}/users",
        tags=["users"],
        summary="add an account; its first token is in the answer, once",
        status_code=201,
        responses=_ERRORS,
    )
    @writes.endpoint
    def add_user(body: NewUser, who: Admin) -> NewUserOut:
        acct, token = who.add_user(body.name, body.role)
        return NewUserOut(account=acct, token=token)

    @app.get(f"{v1}/users/{{name:path}}", tags=["users"], summary="one account", responses=_ERRORS)
    def get_user(name: str, who: Admin) -> Account:
        return who.get_user(name)

    @app.put(
        f"{v1}/users/{{name:path}}/role", tags=["users"], summary="change a role", responses=_ERRORS
    )
    @writes.endpoint
    def set_role(name: str, body: RoleIn, who: Admin) -> Account:
        return who.set_role(name, body.role)

    @app.post(
        f"{v1}/users/{{name:path}}/disable",
        tags=["users"],
        summary="disable an account (its tokens stop working)",
        responses=_ERRORS,
    )
    @writes.endpoint
    def disable_user(name: str, who: Admin) -> Account:
        return who.disable_user(name)

    @app.post(
        f"{v1}/users/{{name:path}}/enable",
        tags=["users"],
        summary="enable a disabled account again (it needs a new token)",
        responses=_ERRORS,
    )
    @writes.endpoint
    def enable_user(name: str, who: Admin) -> Account:
        return who.enable_user(name)

    @app.post(
        f"{v1}/users/{{name:path}}/tokens",
        tags=["users"],
        summary="a new API token for an account, shown once (admin, or the account itself)",
        status_code=201,
        responses=_ERRORS,
    )
    @writes.endpoint
    def new_token(name: str, who: Me, body: Annotated[TokenIn | None, Body()] = None) -> TokenOut:
        label = body.label if body is not None else ""
        return TokenOut(user=name, token=who.new_token(name, label=label))

    @app.delete(
        f"{v1}/users/{{name:path}}/tokens",
        tags=["users"],
        summary="revoke every token of an account (admin, or the account itself)",
        responses=_ERRORS,
    )
    @writes.endpoint
    def revoke_tokens(name: str, who: Me) -> RevokedOut:
        return RevokedOut(user=name, revoked=who.revoke_tokens(name))

    # ---------------------------------------------------------- docs and web

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_reference_html(app.openapi()))

    @app.get("/docs/swagger", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="knowsync API")

    @app.get(API_PREFIX, include_in_schema=False)
    def api_root() -> RedirectResponse:
        return RedirectResponse("/docs")

    if not (web and _mount_web(app, ks, open_web)):

        @app.get("/", include_in_schema=False)
        def root() -> Response:
            return RedirectResponse("/docs")

    return app


def _lock(lk: Lock) -> LockOut:
    return LockOut.model_validate(lk.to_dict())


def _mount_web(app: FastAPI, ks: KnowSync, open_web: bool) -> bool:
    """Mount the web app (``ui.web.mount``) at ``/`` when it exists; whether it was."""
    if importlib.util.find_spec("ui.web") is None:
        return False
    module = importlib.import_module("ui.web")
    mount = getattr(module, "mount", None)
    if mount is None:
        return False
    mount(app, ks, open_mode=open_web)
    return True
