"""Accounts: users, roles, API tokens, authentication and authorization.

:class:`Accounts` keeps them in the store's documents, in the same store as the journal:

- kind ``"account"``, key = user name: ``{"role", "created_at", "created_by", "disabled"}``;
- kind ``"token"``, key = SHA-256 hex of the token: ``{"user", "created_at", "label"}``
  (tokens are never stored in clear).

Who acts: ``user`` and ``by`` name accounts. A store without any account is in *open mode* (a
single person using the library or the CLI on their own store): every name acts as an admin.
Once one account exists, only accounts act, with their roles. ``by=None`` on the account
methods is the local, trusted path (the CLI on the store file: whoever can open the store can
change it anyway); the interfaces pass the signed-in account through
:class:`knowsync._session.Session`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from typing import Any

from kg import GraphStore, GraphView, InputError, NotFoundError, now_iso
from knowsync._outcomes import Account, AuthError, PermissionDenied, Role

__all__ = ["ACTIONS", "Accounts", "check_text", "check_user_name", "includes"]

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


def includes(have: Role, need: Role) -> bool:
    """Whether the role ``have`` allows what ``need`` allows."""
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


_MAX_REASON = 2000


def check_text(value: object, what: str, *, required: bool, limit: int = _MAX_REASON) -> str:
    """A free-text field (a reason, a label, a key): a string without control characters,
    stripped.

    Raises:
        InputError: not text, too long, on more than one line, or empty when ``required``.
    """
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


def _new_token() -> str:
    """A fresh API token that never starts with ``-``, so that ``--token TOKEN`` on a command
    line is not read as an option."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


class Accounts:
    """The accounts of one store (see the module docstring).

    Args:
        store: where the account and token documents live.
        guard: the lock the service's writes hold, so that an account change is not
            interleaved with a decision that reads it.
    """

    def __init__(self, store: GraphStore, guard: threading.RLock) -> None:
        self._store = store
        self._guard = guard

    def acting(self, view: GraphView, user: str | Account) -> Account:
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

    def authorize_in(
        self, view: GraphView, user: str | Account, action: str, edit_id: int | None = None
    ) -> Account:
        """:meth:`authorize`, read in ``view`` (a transaction that then acts on it)."""
        need = ACTIONS.get(action)
        if need is None:
            raise InputError(
                f"unknown action {action!r}; use one of {', '.join(ACTIONS)}", field="action"
            )
        account = self.acting(view, user)
        if action == "rollback" and edit_id is not None:
            owner = view.edit(edit_id).user
            if owner != account.name:
                need = Role.CURATOR
                if not includes(account.role, need):
                    raise PermissionDenied(
                        f"{account.name} ({account.role.value}) may roll back only their own "
                        f"edits; edit {edit_id} is {owner}'s (a curator can undo it)"
                    )
        if not includes(account.role, need):
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
        with self._store.read() as view:
            return self.authorize_in(view, user, action, edit_id)

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
        token = _new_token()
        with self._guard, self._store.write() as tx:
            by_name = None if by is None else self.authorize_in(tx, by, "admin").name
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
        with self._store.read() as view:
            return [_account(k, v) for k, v in view.docs("account")]

    def get_user(self, name: str) -> Account:
        """One account.

        Raises:
            NotFoundError: no account has that name.
        """
        with self._store.read() as view:
            doc = view.doc("account", name)
        if doc is None:
            raise NotFoundError(f"no account named {name!r}")
        return _account(name, doc)

    def _change_account(
        self, name: str, by: str | Account | None, change: dict[str, Any]
    ) -> Account:
        with self._guard, self._store.write() as tx:
            by_name = None if by is None else self.authorize_in(tx, by, "admin").name
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
        label = check_text(label, "label", required=False, limit=100)
        token = _new_token()
        with self._guard, self._store.write() as tx:
            if by is not None:
                actor = self.acting(tx, by)
                if actor.name != name:
                    self.authorize_in(tx, actor, "admin")
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
        with self._guard, self._store.write() as tx:
            if by is not None:
                actor = self.acting(tx, by)
                if actor.name != name:
                    self.authorize_in(tx, actor, "admin")
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
        with self._store.read() as view:
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
