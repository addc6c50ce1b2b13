"""The service half of ``KnowSync``: sentences in, decisions out; accounts, roles and review.

``ServiceMixin`` is mixed into :class:`knowsync.KnowSync`; it uses the graph half (``edit``,
``rollback``, ``facts``, the store) and the optional model half (``self.model``, a
:class:`knowsync.ModelSide` or None). Everything here is also what the HTTP API and the web app
call: no interface has logic of its own.

State kept in the store's documents (``GraphTxn.put_doc``), in the same transactions as the
journal:
- kind ``"account"``, key = user name: ``{"role", "created_at", "created_by", "disabled"}``;
- kind ``"token"``, key = SHA-256 hex of the token: ``{"user", "created_at", "label"}``
  (tokens are never stored in clear);
- kind ``"idempotency"``, key = the user name and the client-chosen key (``_key_doc``: each
  user's keys are their own): ``{"user", "fingerprint", "edit_ids": [...], "result": {...}}``.

Review: an edit that needs a curator is journaled with state ``held`` (``EditState.HELD``) and
its request; it changes nothing until approved (held -> pending -> applied, through the same
path as any edit, re-planned against the graph as it is then) or rejected (held -> refused).
Who decided and why is kept in the entry's report (``"review": {"by", "at", "decision",
"reason"}``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from controller import EditRefused, RollbackRefused, ToxicFilter, ToxicVerdict, Verdict
from interpreter import (
    EditIntent,
    Intent,
    Interpreter,
    LocalModelBackend,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Unclear,
)
from kg import (
    ConflictPolicy,
    EditKind,
    EditRecord,
    EditState,
    Fact,
    FactKind,
    GraphView,
    InputError,
    NotFoundError,
    Schema,
    StoreError,
    now_iso,
)
from knowsync._model_side import ModelSide
from knowsync._outcomes import (
    Account,
    Answer,
    AuthError,
    Decision,
    ImportReport,
    PermissionDenied,
    Role,
    Submission,
)
from knowsync._questions import graph_answer, with_model_answer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from controller import RawTriple
    from kg import GraphStore
    from knowsync._api import EditResult, Screen, Stop

_T = TypeVar("_T")

__all__ = [
    "ACTIONS",
    "Account",
    "Answer",
    "AuthError",
    "ImportRules",
    "PermissionDenied",
    "Role",
    "ServiceMixin",
    "Submission",
    "check_user_name",
]


@dataclass(frozen=True)
class ImportRules:
    """The service's rules over a batch import by one account (see ``ServiceMixin``).

    Attributes:
        row: a row's verdict before planning: None to import it, or (``"bad"`` or
            ``"skip"``, the reason) to keep it out.
        keep: an asserted fact in force that the import may not supersede: the reason its
            row is skipped instead, or None.
    """

    row: Callable[[RawTriple], tuple[str, str] | None]
    keep: Callable[[Fact], str | None]

    def screen(
        self, rows: list[tuple[int, RawTriple]], report: ImportReport
    ) -> list[tuple[int, RawTriple]]:
        """The rows that may go on to planning; the others go to the report."""
        out: list[tuple[int, RawTriple]] = []
        for line, raw in rows:
            verdict = self.row(raw)
            if verdict is None:
                out.append((line, raw))
            elif verdict[0] == "bad":
                report.bad_rows.append({"line": line, "reason": verdict[1]})
            else:
                report.skipped.append({"line": line, "triple": list(raw), "reason": verdict[1]})
        return out


# --------------------------------------------------------------------------- helpers

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._@-]{0,63}$")
_ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.CURATOR, Role.ADMIN)

#: The least role each action needs. ``rollback`` of another user's edit needs curator.
ACTIONS: dict[str, Role] = {
    "ask": Role.VIEWER,
    "read": Role.VIEWER,
    "submit": Role.EDITOR,
    "rollback": Role.EDITOR,
    "review": Role.CURATOR,
    "lock": Role.CURATOR,
    "admin": Role.ADMIN,
    "schema": Role.ADMIN,
}

_MAX_TOKEN = 512
_MAX_KEY = 200
_MAX_REASON = 2000


def _includes(have: Role, need: Role) -> bool:
    return _ROLE_ORDER.index(have) >= _ROLE_ORDER.index(need)


def check_user_name(name: object) -> str:
    """An account name: a letter, then up to 63 letters, digits or ``. _ @ -``.

    Raises:
        InputError: the name does not fit.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"{name!r} is not a usable account name: start with a letter, then up to 63 "
            "letters, digits or . _ @ -",
            field="name",
        )
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(
            f"unknown role {role!r}; use one of {', '.join(r.value for r in Role)}", field="role"
        ) from None


def _text(value: object, what: str, *, required: bool, limit: int = _MAX_REASON) -> str:
    """A free-text field (a reason, a label): a string without control characters."""
    if (
        not isinstance(value, str)
        or len(value) > limit
        or any(ord(c) < 32 and c not in "\t" for c in value)
    ):
        raise InputError(
            f"{what} must be text of at most {limit} characters, on one line", field=what
        )
    value = value.strip()
    if required and not value:
        raise InputError(f"give a {what}", field=what)
    return value


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _account(name: str, doc: dict[str, Any]) -> Account:
    return Account(
        name=name,
        role=Role(doc["role"]),
        created_at=str(doc.get("created_at", "")),
        created_by=doc.get("created_by"),
        disabled=bool(doc.get("disabled", False)),
    )


def _fold(text: str) -> str:
    """A name or answer for comparison: lower case, underscores and punctuation as spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _names_one_of(answer: str, objects: Sequence[str]) -> bool:
    said = f" {_fold(answer)} "
    return any(f" {_fold(o)} " in said for o in objects if _fold(o))


def _triples(items: Sequence[Sequence[str]], what: str) -> list[tuple[str, str, str]]:
    if isinstance(items, (str, bytes)):
        raise InputError(f"{what}: give a list of (subject, relation, object)", field=what)
    out: list[tuple[str, str, str]] = []
    for item in items:
        if (
            isinstance(item, (str, bytes))
            or len(item) != 3
            or not all(isinstance(p, str) for p in item)
        ):
            raise InputError(
                f"{what}: each triple needs exactly a subject, a relation and an object, as "
                f"text (got {item!r})",
                field=what,
            )
        out.append((item[0], item[1], item[2]))
    return out


def _key_doc(user: str, key: str) -> str:
    """The document key of an idempotency key: the user's name and the key, so that one
    user's keys never meet another's (a user name holds no control character)."""
    return f"{user}\x1f{key}"


def _fingerprint(user: str, assert_: list[tuple[str, str, str]], retract: list[Any]) -> str:
    body = json.dumps([user, assert_, retract], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _plan_summary(report: dict[str, Any]) -> tuple[Any, ...]:
    """What a plan changes, for telling whether a re-plan differs from the held one."""

    def triples(key: str) -> list[tuple[str, str, str]]:
        return sorted((f["subject"], f["relation"], f["object"]) for f in report.get(key, []) if f)

    old = sorted(
        tuple(s["old"][k] for k in ("subject", "relation", "object"))
        for s in report.get("superseded", [])
    )
    return (
        triples("added"),
        triples("retracted"),
        old,
        sorted(map(tuple, report.get("duplicates", []))),
    )


def _submission(record: EditRecord, intent: dict[str, Any]) -> Submission:
    """A submission rebuilt from its journal entry (an idempotent retry after a crash)."""
    decision = {
        EditState.APPLIED: "accepted",
        EditState.HELD: "needs_review",
        EditState.PENDING: "needs_review",
    }.get(record.state, "rejected")
    refusals = record.report.get("refusals") or []
    return Submission(
        decision=decision,
        intent=intent,
        edit_id=record.id,
        report=record.report,
        reason="; ".join(refusals) if decision == "rejected" and refusals else None,
        model=list(record.report.get("model", [])),
        toxicity=record.report.get("toxicity"),
    )


def _decided(
    intent: dict[str, Any],
    edit_id: int | None,
    decision: Decision,
    report: dict[str, Any],
    toxicity: dict[str, Any] | None,
) -> Submission:
    """The submission of an edit the service decided (applied, held, refused, or a dry run)."""
    if decision is Decision.NEEDS_REVIEW:
        reason: str | None = "; ".join(report.get("held", {}).get("reasons", []))
    else:
        reason = "; ".join(report.get("refusals", [])) or None
    return Submission(
        decision.value,
        intent=intent,
        edit_id=edit_id,
        report=report,
        reason=reason,
        model=list(report.get("model", [])),
        toxicity=toxicity,
    )


def _from_dict(data: dict[str, Any]) -> Submission:
    """A stored submission (as ``Submission.to_dict`` wrote it; a stored answer is dropped:
    questions are never stored)."""
    return Submission(
        decision=str(data["decision"]),
        intent=dict(data.get("intent") or {}),
        edit_id=data.get("edit_id"),
        report=dict(data.get("report") or {}),
        reason=data.get("reason"),
        question=data.get("question"),
        suggestions=list(data.get("suggestions") or []),
        model=list(data.get("model") or []),
        toxicity=data.get("toxicity"),
    )


# --------------------------------------------------------------------------- the mixin


class ServiceMixin:
    """Submit, ask, review and accounts; see the module docstring for the stored state.

    Methods (implemented by the service work; signatures are the contract the HTTP API and
    the web app code against):

    - ``submit(text, *, user) -> Submission``
    - ``submit_triples(assert_=(), retract=(), *, user, idempotency_key=None) -> Submission``
    - ``ask(question, *, user=None) -> Answer``
    - ``review_queue() -> list[EditRecord]`` (held entries, oldest first)
    - ``approve(edit_id, *, user, reason="") -> Submission``
    - ``reject(edit_id, *, user, reason) -> Submission``
    - ``add_user(name, role, *, by=None) -> tuple[Account, str]`` (the token, shown once)
    - ``users() -> list[Account]``, ``get_user(name) -> Account``
    - ``set_role(name, role, *, by)``, ``disable_user(name, *, by)``
    - ``new_token(name, *, label="") -> str``, ``revoke_tokens(name) -> int``
    - ``authenticate(token) -> Account`` (raises AuthError)
    - ``authorize(user, action, *, edit_id=None) -> Account`` (raises PermissionDenied);
      actions: "ask", "read", "submit", "rollback", "review", "lock", "admin", "schema".

    Who acts: ``user`` and ``by`` name accounts. A store without any account is in *open
    mode* (a single person using the library or the CLI on their own store): every name acts
    as an admin. Once one account exists, only accounts act, with their roles. ``by=None``
    on the account methods is the local, trusted path (the CLI on the store file: whoever can
    open the store can change it anyway); the HTTP API always passes the authenticated user.

    Decisions for an edit (``submit``/``submit_triples``):

    - toxic (the filter, ``self.toxic_filter`` or the default :class:`controller.ToxicFilter`)
      -> rejected, journaled as refused with the verdict;
    - refused by the controller (a contradiction, an unknown fact to retract) -> rejected,
      journaled as refused with the controller's reasons;
    - doubtful, touching a locked fact, or superseding (or retracting) a fact another user
      asserted -> needs_review, journaled as held with the reasons (a curator's or an admin's
      own edits are not held for the last reason: they could approve them anyway);
    - otherwise -> applied (graph, then model).

    The decision is taken once, on the plan the edit is applied with (inside the transaction
    that applies it); a dry run takes the same decision on a read view and writes nothing.

    Concurrency: the write paths here run under one lock per ``KnowSync`` (``_service_lock``),
    so a submission's decision and application are not interleaved with another
    submission's: of two users racing for the same functional fact, the first applies and the
    second supersedes the first one's fact, so it is held for review. Reads take no lock.
    """

    if TYPE_CHECKING:  # what the mixin uses of the graph half (``KnowSync``)
        store: GraphStore
        allow_new_relations: bool

        def _schema(self, view: GraphView) -> Schema: ...

        def _retrying(self, op: Callable[[], _T]) -> _T: ...

        _write_lock: threading.RLock

        def _apply_journaled(self, edit_id: int, *, screen: Screen | None = None) -> EditResult: ...

        def _apply_edit(
            self,
            assert_: Sequence[RawTriple],
            retract: Sequence[RawTriple],
            user: str,
            allow: bool,
            *,
            extra: dict[str, Any] | None = None,
            screen: Screen | None = None,
        ) -> EditResult: ...

        def import_file(
            self,
            path: str | Path,
            *,
            user: str = "importer",
            policy: ConflictPolicy | str = ConflictPolicy.SKIP,
            chunk_size: int = 5000,
            fmt: str | None = None,
            allow_new_relations: bool | None = None,
            progress: Callable[[int], None] | None = None,
            rules: ImportRules | None = None,
        ) -> ImportReport: ...

        def _validate(
            self,
            view: GraphView,
            assert_: Sequence[RawTriple],
            retract: Sequence[RawTriple],
            allow: bool,
        ) -> None: ...

        def _decide(
            self,
            view: GraphView,
            assert_: Sequence[RawTriple],
            retract: Sequence[RawTriple],
            allow: bool,
            screen: Screen | None,
        ) -> tuple[Any, Any, Any, dict[str, Any], Stop | None]: ...

        def get_edit(self, edit_id: int) -> EditRecord: ...

        def edit(
            self,
            assert_: Sequence[RawTriple] = (),
            retract: Sequence[RawTriple] = (),
            *,
            user: str = "anonymous",
            dry_run: bool = False,
            allow_new_relations: bool | None = None,
        ) -> EditResult: ...

        def rollback(
            self, edit_id: int, *, user: str = "anonymous", cascade: bool = False
        ) -> list[EditResult]: ...

    # ------------------------------------------------------------------ plumbing

    def _service_guard(self) -> threading.RLock:
        lock = self.__dict__.get("_service_lock")
        if lock is None:  # dict.setdefault is atomic: two threads get the same lock
            lock = self.__dict__.setdefault("_service_lock", threading.RLock())
        return cast(threading.RLock, lock)

    def _interpreter(self, view: GraphView) -> Interpreter:
        """The interpreter for the store's schema as it is now (built again when the schema
        changes). What the rules cannot read goes to ``self.chat_backend`` when one is set,
        else to the knowledge base's model when it has one; a graph-only knowledge base reads
        with the rules alone."""
        schema = self._schema(view)
        backend = getattr(self, "chat_backend", None)
        model = getattr(self, "model", None)
        if backend is None and isinstance(model, ModelSide):
            # the knowledge base's own (edited) model reads what the rules cannot
            backend = self.__dict__.get("_local_backend")
            if backend is None:
                backend = LocalModelBackend(loaded=model.loaded)
                self.__dict__["_local_backend"] = backend
        cached = self.__dict__.get("_service_interpreter")
        if cached is not None and cached[0] is schema and cached[1] is backend:
            return cast(Interpreter, cached[2])
        interp = Interpreter(schema, backend=backend)
        self.__dict__["_service_interpreter"] = (schema, backend, interp)
        return interp

    def _toxic_filter(self) -> ToxicFilter:
        custom = getattr(self, "toxic_filter", None)
        if isinstance(custom, ToxicFilter):
            return custom
        default = self.__dict__.get("_service_toxic")
        if default is None:
            default = self.__dict__.setdefault("_service_toxic", ToxicFilter())
        return cast(ToxicFilter, default)

    def _read(self, text: str) -> Intent:
        with self.store.read() as view:
            return self._interpreter(view).read(text, view)

    def parse(self, text: str) -> Intent:
        """What the interpreter reads in ``text`` against the graph as it is now: an edit, a
        retraction, a question, a rollback, or ``Unclear`` with what is missing. Nothing is
        decided or changed.

        Raises:
            InputError: text that cannot be read at all (empty, too long, control characters).
        """
        return self._read(text)

    # ------------------------------------------------------------------ accounts

    def _acting(self, view: GraphView, user: str | Account) -> Account:
        """The account acting as ``user``, as stored now (open mode: an implicit admin).

        Raises:
            PermissionDenied: no account by that name (while accounts exist), or disabled.
        """
        name = user.name if isinstance(user, Account) else user
        if not isinstance(name, str) or not name.strip():
            raise InputError("user must be a non-empty account name", field="user")
        doc = view.doc("account", name)
        if doc is None:
            if view.docs("account"):
                raise PermissionDenied(f"no account named {name!r}")
            return Account(name=name, role=Role.ADMIN, created_at="")
        account = _account(name, doc)
        if account.disabled:
            raise PermissionDenied(f"the account {name!r} is disabled")
        return account

    def _authorize(
        self, view: GraphView, user: str | Account, action: str, edit_id: int | None = None
    ) -> Account:
        need = ACTIONS.get(action)
        if need is None:
            raise InputError(
                f"unknown action {action!r}; use one of {', '.join(ACTIONS)}", field="action"
            )
        account = self._acting(view, user)
        if action == "rollback" and edit_id is not None:
            owner = view.edit(edit_id).user
            if owner != account.name:
                need = Role.CURATOR
                if not _includes(account.role, need):
                    raise PermissionDenied(
                        f"{account.name} ({account.role.value}) may roll back only their own "
                        f"edits; edit {edit_id} is {owner}'s (a curator can undo it)"
                    )
        if not _includes(account.role, need):
            raise PermissionDenied(
                f"{account.name} is a {account.role.value}; {action!r} needs the role "
                f"{need.value} or higher"
            )
        return account

    def authorize(self, user: str | Account, action: str, *, edit_id: int | None = None) -> Account:
        """Check that ``user`` may do ``action`` (on edit ``edit_id`` for a rollback).

        Returns the account as stored now.

        Raises:
            PermissionDenied: the role does not allow it, the account is disabled, or there is
                no such account.
            InputError: an unknown action.
            NotFoundError: ``edit_id`` names no edit.
        """
        with self.store.read() as view:
            return self._authorize(view, user, action, edit_id)

    def add_user(
        self, name: str, role: Role | str, *, by: str | Account | None = None
    ) -> tuple[Account, str]:
        """Create an account with a first API token.

        Returns the account and its token, which is shown only now (the store keeps its
        SHA-256).

        Raises:
            InputError: a bad name or role, or the name is taken.
            PermissionDenied: ``by`` is not an admin.
        """
        name = check_user_name(name)
        wanted = _role(role)
        token = secrets.token_urlsafe(32)
        with self._service_guard(), self.store.write() as tx:
            by_name = None if by is None else self._authorize(tx, by, "admin").name
            if tx.doc("account", name) is not None:
                raise InputError(f"an account named {name!r} exists already", field="name")
            now = now_iso()
            tx.put_doc(
                "account",
                name,
                {"role": wanted.value, "created_at": now, "created_by": by_name, "disabled": False},
            )
            tx.put_doc(
                "token", _token_hash(token), {"user": name, "created_at": now, "label": "first"}
            )
        return Account(name, wanted, now, by_name), token

    def users(self) -> list[Account]:
        """Every account, by name."""
        with self.store.read() as view:
            return [_account(k, v) for k, v in view.docs("account")]

    def get_user(self, name: str) -> Account:
        """One account.

        Raises:
            NotFoundError: no account has that name.
        """
        with self.store.read() as view:
            doc = view.doc("account", name)
        if doc is None:
            raise NotFoundError(f"no account named {name!r}")
        return _account(name, doc)

    def _change_account(
        self, name: str, by: str | Account | None, change: dict[str, Any]
    ) -> Account:
        with self._service_guard(), self.store.write() as tx:
            by_name = None if by is None else self._authorize(tx, by, "admin").name
            doc = tx.doc("account", name)
            if doc is None:
                raise NotFoundError(f"no account named {name!r}")
            new = {**doc, **change, "changed_at": now_iso(), "changed_by": by_name}
            was_admin = doc["role"] == Role.ADMIN.value and not doc.get("disabled")
            stays_admin = new["role"] == Role.ADMIN.value and not new.get("disabled")
            if was_admin and not stays_admin:
                others = [
                    k
                    for k, v in tx.docs("account")
                    if k != name and v["role"] == Role.ADMIN.value and not v.get("disabled")
                ]
                if not others:
                    raise InputError(
                        f"{name!r} is the last active admin; make another admin first",
                        field="name",
                    )
            tx.put_doc("account", name, new)
            if new.get("disabled"):
                for key, tok in tx.docs("token"):
                    if tok.get("user") == name:
                        tx.delete_doc("token", key)
            return _account(name, new)

    def set_role(self, name: str, role: Role | str, *, by: str | Account | None) -> Account:
        """Give an account another role.

        Raises:
            NotFoundError: no such account.
            InputError: an unknown role, or it would leave no active admin.
            PermissionDenied: ``by`` is not an admin.
        """
        return self._change_account(name, by, {"role": _role(role).value})

    def disable_user(self, name: str, *, by: str | Account | None) -> Account:
        """Disable an account and revoke its tokens (its journal entries stay, attributed).

        Raises:
            NotFoundError: no such account.
            InputError: it is the last active admin.
            PermissionDenied: ``by`` is not an admin.
        """
        return self._change_account(name, by, {"disabled": True})

    def enable_user(self, name: str, *, by: str | Account | None) -> Account:
        """Enable a disabled account again (it needs a new token: the old ones were revoked).

        Raises:
            NotFoundError: no such account.
            PermissionDenied: ``by`` is not an admin.
        """
        return self._change_account(name, by, {"disabled": False})

    def new_token(self, name: str, *, label: str = "", by: str | Account | None = None) -> str:
        """Issue another API token for an account; returns it (shown only now).

        Args:
            by: who asks (None: the local, trusted path); someone other than the account
                itself must be an admin.

        Raises:
            NotFoundError: no such account.
            PermissionDenied: the account is disabled, or ``by`` may not do it.
            InputError: a bad label.
        """
        label = _text(label, "label", required=False, limit=100)
        token = secrets.token_urlsafe(32)
        with self._service_guard(), self.store.write() as tx:
            if by is not None:
                actor = self._acting(tx, by)
                if actor.name != name:
                    self._authorize(tx, actor, "admin")
            doc = tx.doc("account", name)
            if doc is None:
                raise NotFoundError(f"no account named {name!r}")
            if doc.get("disabled"):
                raise PermissionDenied(f"the account {name!r} is disabled")
            tx.put_doc(
                "token", _token_hash(token), {"user": name, "created_at": now_iso(), "label": label}
            )
        return token

    def revoke_tokens(self, name: str, *, by: str | Account | None = None) -> int:
        """Revoke every token of an account; returns how many there were.

        Raises:
            NotFoundError: no such account.
            PermissionDenied: ``by`` is neither the account itself nor an admin.
        """
        with self._service_guard(), self.store.write() as tx:
            if by is not None:
                actor = self._acting(tx, by)
                if actor.name != name:
                    self._authorize(tx, actor, "admin")
            if tx.doc("account", name) is None:
                raise NotFoundError(f"no account named {name!r}")
            keys = [k for k, v in tx.docs("token") if v.get("user") == name]
            for key in keys:
                tx.delete_doc("token", key)
            return len(keys)

    def authenticate(self, token: str) -> Account:
        """The account an API token belongs to.

        Raises:
            AuthError: no token, an unknown or revoked one, or a disabled account.
        """
        if not isinstance(token, str) or not token.strip() or len(token) > _MAX_TOKEN:
            raise AuthError("give an API token")
        with self.store.read() as view:
            doc = view.doc("token", _token_hash(token.strip()))
            if doc is None:
                raise AuthError("unknown or revoked token")
            account_doc = view.doc("account", str(doc.get("user")))
        if account_doc is None:
            raise AuthError("the token's account no longer exists")
        account = _account(str(doc["user"]), account_doc)
        if account.disabled:
            raise AuthError(f"the account {account.name!r} is disabled")
        return account

    # ------------------------------------------------------------------ submit

    def submit(self, text: str, *, user: str) -> Submission:
        """Read a sentence and act on it: an edit or removal goes through the filter, the
        conflict rules and review (see the class docstring); a question is answered; an undo
        rolls back (the user's last edit still in force, or one by id); an unclear request
        asks back.

        Raises:
            InputError: the text is empty, too long, or has control characters; a triple the
                interpreter produced is malformed.
            PermissionDenied: the user's role does not allow what the sentence asks.
            NotFoundError: an undo names an edit that does not exist.
            BackendError: a configured chat backend failed.
        """
        intent = self._read(text)
        data = {"type": intent.kind, **intent.model_dump(mode="json")}
        if isinstance(intent, EditIntent):
            return self._submit_edit(intent.as_triples(), [], user=user, sentence=text, intent=data)
        if isinstance(intent, RetractIntent):
            return self._submit_edit([], intent.as_triples(), user=user, sentence=text, intent=data)
        if isinstance(intent, QueryIntent):
            self.authorize(user, "ask")
            return Submission("accepted", intent=data, answer=self._answer(intent))
        if isinstance(intent, RollbackIntent):
            return self._submit_rollback(intent, user=user, intent_data=data)
        self.authorize(user, "ask")
        return Submission(
            "needs_clarification",
            intent=data,
            question=intent.message,
            suggestions=self._rewrites(text, intent),
            reason=f"missing: {intent.missing}",
        )

    def _rewrites(self, text: str, intent: Unclear) -> list[str]:
        """Clickable answers to a clarifying question: the request rewritten with each
        suggestion in place of the words not understood, kept only when the rules then read
        it (for a name, last, the name as written in quotes: a new entity); the bare
        suggestions when the words are not known."""
        span = intent.span
        if not span or span not in text:
            return list(intent.suggestions)
        with self.store.read() as view:
            rules = Interpreter(self._schema(view), backend=None)
            out: list[str] = []
            for suggestion in intent.suggestions:
                said = suggestion.replace("_", " ") if intent.missing == "relation" else suggestion
                shapes = [text.replace(span, said, 1)]
                if intent.missing == "relation":  # "X frobnicates Y" -> "X's nickname is Y"
                    shapes.append(text.replace(f" {span} ", f"'s {said} is ", 1))
                for shape in shapes:
                    if shape not in out and not isinstance(rules.read(shape, view), Unclear):
                        out.append(shape)
                        break
            if intent.missing == "entity" and intent.suggestions and '"' not in span:
                # none of them: the name as written, quoted, is a new entity
                quoted = text.replace(span, f'"{span}"', 1)
                if not isinstance(rules.read(quoted, view), Unclear):
                    out.append(quoted)
        return out or list(intent.suggestions)

    def submit_triples(
        self,
        assert_: Sequence[Sequence[str]] = (),
        retract: Sequence[Sequence[str]] = (),
        *,
        user: str,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """Like ``submit`` for an edit given as triples (no interpreter). With ``dry_run``,
        the same decision (toxic filter, rules, hold rules) is returned and nothing written.

        With ``idempotency_key``, a key already seen for the same user and triples returns
        the stored outcome and applies nothing. Outcomes that journal an entry held or
        refused by this module store the key in the same transaction; an applied edit
        reserves the key first and records the outcome after ``KnowSync.edit`` returns; if
        the process dies in between, the retry finds the entry by the reservation (the first
        journal entry after it, by that user, with those triples) instead of applying again.
        Keys are kept until the store is wiped.

        Raises:
            InputError: no triples, a malformed one, an unknown relation, a bad key, or a key
                already used for another request.
            PermissionDenied: the user may not submit edits.
        """
        a = _triples(assert_, "assert")
        r = _triples(retract, "retract")
        if not a and not r:
            raise InputError("nothing to edit: give at least one triple to assert or retract")
        intent: dict[str, Any] = {
            "type": "triples",
            "assert": [list(t) for t in a],
            "retract": [list(t) for t in r],
        }
        return self._submit_edit(
            a,
            r,
            user=user,
            sentence=None,
            intent=intent,
            idempotency_key=idempotency_key,
            dry_run=dry_run,
        )

    def _submit_edit(
        self,
        assert_: list[tuple[str, str, str]],
        retract: list[tuple[str, str, str]],
        *,
        user: str,
        sentence: str | None,
        intent: dict[str, Any],
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """The one decision on an edit (the toxic filter, the rules, the hold rules), applied,
        or with ``dry_run`` only shown: a dry run cannot disagree with the real call."""
        key = (
            None
            if idempotency_key is None
            else _text(idempotency_key, "idempotency_key", required=True, limit=_MAX_KEY)
        )
        with self._service_guard():
            account = self.authorize(user, "submit")
            name = account.name
            fingerprint = _fingerprint(name, assert_, retract)
            if key is not None and not dry_run:
                seen = self._seen_key(key, name, fingerprint, intent)
                if seen is not None:
                    return seen
            verdict = self._toxic_filter().check(assert_, sentence) if assert_ else None
            toxicity = None if verdict is None else verdict.to_dict()
            screen = self._screen(account, verdict)
            allow = self.allow_new_relations
            if dry_run:
                with self.store.read() as view:
                    *_, report, stop = self._decide(view, assert_, retract, allow, screen)
                decision = Decision.ACCEPTED if stop is None else stop[1]
                if stop is not None:
                    report.update(stop[2])
                return _decided(intent, None, decision, report, toxicity)
            with self.store.read() as view:  # bad input is refused before it is journaled
                self._validate(view, assert_, retract, allow)
            extra: dict[str, Any] = {}
            if sentence is not None:
                extra["sentence"] = sentence
            if key is not None:
                extra["idempotency_key"] = key
                with self.store.write() as tx:  # the retry of a lost answer finds the entry
                    tx.put_doc(
                        "idempotency",
                        _key_doc(name, key),
                        {
                            "user": name,
                            "fingerprint": fingerprint,
                            "after": tx.last_edit_id(),
                            "edit_ids": [],
                        },
                    )
            with self._write_lock:
                result = self._retrying(
                    lambda: self._apply_edit(
                        assert_, retract, name, allow, extra=extra, screen=screen
                    )
                )
            out = _decided(intent, result.edit_id, result.decision, result.report, toxicity)
            if key is not None:
                self._remember(key, name, fingerprint, out)
            return out

    def import_as(
        self,
        user: str,
        path: str | Path,
        *,
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        chunk_size: int = 5000,
        fmt: str | None = None,
        allow_new_relations: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import a file as ``user``, under the rules an edit by that account meets: rows the
        toxic filter calls toxic are bad rows; rows it is unsure of, and (for non-curators)
        rows that would supersede a fact another user asserted, are skipped with the reason
        (a curator reviews them when they are stated as edits).

        Raises:
            PermissionDenied: the account may not submit (or, for new relations, change the
                schema).
            InputError: as for ``KnowSync.import_file``.
        """
        account = self.authorize(user, "submit")
        if allow_new_relations:
            self.authorize(user, "schema")
        return self.import_file(
            path,
            user=account.name,
            policy=policy,
            chunk_size=chunk_size,
            fmt=fmt,
            allow_new_relations=allow_new_relations or None,
            progress=progress,
            rules=self._import_rules(account),
        )

    def _import_rules(self, account: Account) -> ImportRules:
        toxic = self._toxic_filter()
        curator = _includes(account.role, Role.CURATOR)

        def row(raw: RawTriple) -> tuple[str, str] | None:
            verdict = toxic.check([raw])
            if verdict.verdict is Verdict.TOXIC:
                return "bad", "refused by the toxic-edit filter: " + "; ".join(verdict.reasons)
            if verdict.verdict is Verdict.DOUBTFUL:
                return "skip", (
                    "held back: the toxic-edit filter is unsure ("
                    + "; ".join(verdict.reasons)
                    + "); state it as an edit so that a curator reviews it"
                )
            return None

        def keep(fact: Fact) -> str | None:
            if curator or fact.kind is not FactKind.ASSERTED or fact.user == account.name:
                return None
            return (
                f"it would supersede {'|'.join(fact.triple)}, asserted by "
                f"{fact.user or 'someone else'}: only a curator may (state it as an edit to "
                "have it reviewed)"
            )

        return ImportRules(row, keep)

    def _screen(self, account: Account, verdict: ToxicVerdict | None) -> Screen:
        """The service's rules over a planned edit by ``account``: refused when the toxic
        filter says toxic; held for a curator when it is unsure, when only locks refuse it,
        or when it supersedes or removes what another user asserted (for non-curators)."""
        toxicity = None if verdict is None else verdict.to_dict()

        def screen(view: GraphView, report: dict[str, Any]) -> Stop | None:
            if verdict is not None and verdict.verdict is Verdict.TOXIC:
                reason = "refused by the toxic-edit filter: " + "; ".join(verdict.reasons)
                return (
                    EditState.REFUSED,
                    Decision.REJECTED,
                    {"refusals": [reason], "toxicity": toxicity},
                )
            held = self._hold_reasons(account, report, verdict, view)
            if held is None:
                return None
            reasons, kinds = held
            return (
                EditState.HELD,
                Decision.NEEDS_REVIEW,
                {
                    "held": {"reasons": reasons, "kinds": kinds, "at": now_iso()},
                    "toxicity": toxicity,
                },
            )

        return screen

    def _hold_reasons(
        self,
        account: Account,
        report: dict[str, Any],
        verdict: ToxicVerdict | None,
        view: GraphView,
    ) -> tuple[list[str], list[str]] | None:
        """Why an edit must wait for a curator (reasons, kinds), or None."""
        reasons: list[str] = []
        kinds: list[str] = []
        if verdict is not None and verdict.verdict is Verdict.DOUBTFUL:
            reasons.append("the toxic-edit filter is unsure: " + "; ".join(verdict.reasons))
            kinds.append("doubtful")
        refusals = list(report.get("refusals", []))
        if refusals:
            locks = view.locks()
            locked = [r for r in refusals if any(f"lock #{lk.id} " in r for lk in locks)]
            if len(locked) < len(refusals):
                return None  # refused anyway: apply() journals the controller's reasons
            reasons += locked
            kinds.append("locked")
        if not _includes(account.role, Role.CURATOR):
            others: list[str] = []
            for s in report.get("superseded", []):
                old = s["old"]
                if old.get("kind") == "asserted" and old.get("user") != account.name:
                    others.append(
                        f"it supersedes {old['subject']}|{old['relation']}|{old['object']}, "
                        f"asserted by {old.get('user') or 'someone else'}"
                    )
            for old in report.get("retracted", []):
                if old.get("kind") == "asserted" and old.get("user") != account.name:
                    others.append(
                        f"it removes {old['subject']}|{old['relation']}|{old['object']}, "
                        f"asserted by {old.get('user') or 'someone else'}"
                    )
            if others:
                reasons += others
                kinds.append("supersedes")
        return (reasons, kinds) if reasons else None

    def _seen_key(
        self, key: str, user: str, fingerprint: str, intent: dict[str, Any]
    ) -> Submission | None:
        """The stored outcome of an idempotency key, or None when it is new (or its first
        attempt never reached the journal)."""
        with self.store.read() as view:
            doc = view.doc("idempotency", _key_doc(user, key))
            if doc is None:  # a key stored before keys were kept per user
                legacy = view.doc("idempotency", key)
                doc = legacy if legacy is not None and legacy.get("user") == user else None
            if doc is None:
                return None
            if doc.get("user") != user or doc.get("fingerprint") != fingerprint:
                raise InputError(
                    f"the idempotency key {key!r} was used for another request; use a new key",
                    field="idempotency_key",
                )
            if "result" in doc:
                return _from_dict(doc["result"])
            # Reserved, but the outcome was never recorded: the process died mid-way. The
            # first journal entry after the reservation by this user with these triples is
            # the attempt.
            for record in view.edits(
                user=user,
                kinds=[EditKind.EDIT],
                after=int(doc["after"]),
                limit=None,
                newest_first=False,
            ):
                if (
                    _fingerprint(
                        user,
                        [tuple(t) for t in record.request.get("assert", [])],
                        [tuple(t) for t in record.request.get("retract", [])],
                    )
                    == fingerprint
                    and record.state is not EditState.ABORTED
                ):
                    found = _submission(record, intent)
                    break
            else:
                return None
        self._remember(key, user, fingerprint, found)
        return found

    def _remember(self, key: str, user: str, fingerprint: str, out: Submission) -> None:
        with self.store.write() as tx:
            tx.put_doc(
                "idempotency",
                _key_doc(user, key),
                {
                    "user": user,
                    "fingerprint": fingerprint,
                    "edit_ids": [] if out.edit_id is None else [out.edit_id],
                    "result": out.to_dict(),
                },
            )

    def _submit_rollback(
        self, intent: RollbackIntent, *, user: str, intent_data: dict[str, Any]
    ) -> Submission:
        with self._service_guard():
            account = self.authorize(user, "rollback")
            if intent.target == "last":
                with self.store.read() as view:
                    mine = [
                        r
                        for r in view.edits(
                            user=account.name,
                            kinds=[EditKind.EDIT],
                            states=[EditState.APPLIED],
                            limit=None,
                        )
                        if r.rolled_back_by is None
                    ]
                if not mine:
                    return Submission(
                        "rejected",
                        intent=intent_data,
                        reason=f"{account.name} has no edit in force to undo",
                    )
                target = mine[0].id
            else:
                assert intent.edit_id is not None  # the intent's validator guarantees it
                target = intent.edit_id
            self.authorize(account, "rollback", edit_id=target)
            try:
                results = self.rollback(target, user=account.name)
            except RollbackRefused as exc:
                return Submission(
                    "rejected",
                    intent=intent_data,
                    reason=str(exc),
                    report={"rollback_of": target, "dependants": exc.dependants},
                )
            except EditRefused as exc:
                return Submission(
                    "rejected",
                    intent=intent_data,
                    reason=str(exc),
                    report={"rollback_of": target, "refusals": exc.reasons},
                )
            except InputError as exc:  # not applied, already rolled back
                return Submission(
                    "rejected", intent=intent_data, reason=str(exc), report={"rollback_of": target}
                )
        last = results[-1]
        return Submission(
            "accepted",
            intent=intent_data,
            edit_id=last.edit_id,
            report=last.report,
            model=list(last.report.get("model", [])),
        )

    # ------------------------------------------------------------------ ask

    def ask(self, question: str, *, user: str | None = None) -> Answer:
        """Answer a question from the graph (with the facts used) and from the edited model.

        Raises:
            InputError: the question is empty, too long, or has control characters.
            PermissionDenied: ``user`` is given and may not ask.
            BackendError: a configured chat backend failed.
        """
        if user is not None:
            self.authorize(user, "ask")
        intent = self._read(question)
        if isinstance(intent, QueryIntent):
            return self._answer(intent)
        if isinstance(intent, Unclear):
            return Answer(
                question,
                unclear={
                    "missing": intent.missing,
                    "message": intent.message,
                    "suggestions": list(intent.suggestions),
                },
            )
        try:
            if user is not None:
                self.authorize(user, "submit")
            advice = "submit it as an edit, or ask"
        except PermissionDenied:  # a viewer cannot submit: do not tell them to
            advice = "your role can ask and read, not change the graph; ask"
        return Answer(
            question,
            unclear={
                "missing": "intent",
                "message": f"This reads as a request ({intent.kind}), not a question; {advice} "
                'something like "Who is the president of America?"',
                "suggestions": [],
            },
        )

    def _answer(self, intent: QueryIntent) -> Answer:
        with self.store.read() as view:
            schema = self._schema(view)
            answer = graph_answer(intent, view)
        return with_model_answer(answer, getattr(self, "model", None), schema)

    # ------------------------------------------------------------------ review

    def review_queue(self) -> list[EditRecord]:
        """Edits waiting for a curator, oldest first."""
        with self.store.read() as view:
            return view.edits(states=[EditState.HELD], limit=None, newest_first=False)

    def _held(self, view: GraphView, edit_id: int) -> EditRecord:
        record = view.edit(edit_id)
        if record.state is not EditState.HELD:
            raise InputError(
                f"edit {edit_id} is {record.state.value}, not waiting for review",
                field="edit_id",
            )
        return record

    def approve(self, edit_id: int, *, user: str, reason: str = "") -> Submission:
        """Release a held edit: it is planned again against the graph as it is now and
        applied (graph, then model) or refused with the controller's reasons. While a lock
        still protects what it changes, it stays held and the result says so.

        Returns what was applied (``report``), with ``report["review"]`` saying who approved
        it, when, why, and whether the plan changed since the edit was held.

        Raises:
            PermissionDenied: the user is not a curator.
            NotFoundError: no edit has that id.
            InputError: the edit is not held (already decided), or a bad reason.
        """
        reason = _text(reason, "reason", required=False)
        with self._service_guard():
            account = self.authorize(user, "review")
            record = self.get_edit(edit_id)
            with self.store.read() as view:
                self._held(view, edit_id)
            assert_ = [tuple(t) for t in record.request.get("assert", [])]
            retract = [tuple(t) for t in record.request.get("retract", [])]
            dry = self.edit(assert_, retract, user=record.user, dry_run=True)
            refusals = list(dry.report.get("refusals", []))
            with self.store.read() as view:
                locks = view.locks()
            if refusals and all(any(f"lock #{lk.id} " in r for lk in locks) for r in refusals):
                return Submission(
                    "needs_review",
                    intent={"type": "review", "edit_id": edit_id},
                    edit_id=edit_id,
                    report=dry.report,
                    reason="still protected: "
                    + "; ".join(refusals)
                    + " (remove the lock, then approve again)",
                )
            held_plan = {k: v for k, v in record.report.items() if k not in ("held", "toxicity")}
            review = {
                "by": account.name,
                "at": now_iso(),
                "decision": "approved",
                "reason": reason,
                "replanned": _plan_summary(held_plan) != _plan_summary(dry.report),
            }

            def release() -> EditResult:
                with self.store.write() as tx:
                    current = self._held(tx, edit_id)
                    tx.update_edit(
                        edit_id,
                        state=EditState.PENDING,
                        report={**current.report, "review": review},
                    )
                    tx.put_doc("review", f"{edit_id:012d}", {**review, "edit_id": edit_id})
                try:
                    return self._apply_journaled(edit_id)
                except StoreError as exc:
                    if exc.transient:  # back in the queue, so that the retry finds it held
                        with self.store.write() as tx:
                            if tx.edit(edit_id).state is EditState.ABORTED:
                                tx.update_edit(edit_id, state=EditState.HELD, report=current.report)
                    raise

            result = self._retrying(release)
            final = {
                **result.report,
                "review": review,
                "held": record.report.get("held"),
                "toxicity": record.report.get("toxicity"),
            }
            with self.store.write() as tx:
                tx.update_edit(edit_id, report=final)
        return Submission(
            result.decision.value,
            intent={"type": "review", "edit_id": edit_id},
            edit_id=edit_id,
            report=final,
            reason="; ".join(result.reasons) or None,
            model=list(result.report.get("model", [])),
            toxicity=record.report.get("toxicity"),
        )

    def reject(self, edit_id: int, *, user: str, reason: str) -> Submission:
        """Refuse a held edit, with a reason the submitter can read.

        Raises:
            PermissionDenied: the user is not a curator.
            NotFoundError: no edit has that id.
            InputError: no reason, or the edit is not held.
        """
        reason = _text(reason, "reason", required=True)
        with self._service_guard():
            account = self.authorize(user, "review")
            review = {"by": account.name, "at": now_iso(), "decision": "rejected", "reason": reason}
            with self.store.write() as tx:
                record = self._held(tx, edit_id)
                report = {
                    **record.report,
                    "review": review,
                    "refusals": [f"rejected by {account.name}: {reason}"],
                }
                tx.update_edit(edit_id, state=EditState.REFUSED, report=report)
                tx.put_doc("review", f"{edit_id:012d}", {**review, "edit_id": edit_id})
        return Submission(
            "rejected",
            intent={"type": "review", "edit_id": edit_id},
            edit_id=edit_id,
            report=report,
            reason=reason,
            toxicity=record.report.get("toxicity"),
        )
