"""Accounts, tokens and roles: stored as documents, tokens only as hashes."""

from __future__ import annotations

import hashlib
import json

import pytest

from kg import InputError, NotFoundError
from knowsync import KnowSync
from knowsync._accounts import ACTIONS
from knowsync._outcomes import Account, AuthError, PermissionDenied, Role
from tests.service.conftest import ROLES


def _store_dump(ks: KnowSync) -> str:
    with ks.store.read() as view:
        return json.dumps([view.docs(kind) for kind in ("account", "token")])


def test_add_user_returns_a_token_stored_only_as_its_hash(kb: KnowSync) -> None:
    account, token = kb.add_user("dora", "editor")
    assert account == kb.get_user("dora")
    assert account.role is Role.EDITOR and not account.disabled
    assert len(token) >= 40
    dump = _store_dump(kb)
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    assert kb.authenticate(token).name == "dora"


def test_users_lists_every_account_by_name(kb: KnowSync) -> None:
    assert [a.name for a in kb.users()] == sorted(
        ["admin", "curator", "editor", "editor2", "viewer"]
    )
    assert all(isinstance(a, Account) for a in kb.users())
    assert kb.get_user("curator").to_dict()["role"] == "curator"


@pytest.mark.parametrize("name", ["", "9lives", "has space", "x" * 65, "semi;colon", "tab\tname"])
def test_bad_account_names_are_refused_clearly(kb: KnowSync, name: str) -> None:
    with pytest.raises(InputError, match="not a usable account name"):
        kb.add_user(name, "viewer")


def test_bad_role_and_taken_name(kb: KnowSync) -> None:
    with pytest.raises(InputError, match="unknown role 'owner'; use one of viewer"):
        kb.add_user("erin", "owner")
    with pytest.raises(InputError, match="exists already"):
        kb.add_user("editor", "viewer")
    with pytest.raises(NotFoundError):
        kb.get_user("nobody")


def test_only_admins_manage_accounts(kb: KnowSync) -> None:
    with pytest.raises(PermissionDenied):
        kb.add_user("erin", "admin", by="curator")
    account, _ = kb.add_user("erin", "viewer", by="admin")
    assert account.created_by == "admin"
    with pytest.raises(PermissionDenied):
        kb.set_role("erin", "admin", by="editor")
    assert kb.set_role("erin", "curator", by="admin").role is Role.CURATOR
    with pytest.raises(PermissionDenied):
        kb.disable_user("erin", by="curator")


def test_tokens_new_revoke_and_disable(kb: KnowSync) -> None:
    first = kb.add_user("erin", "editor")[1]
    second = kb.new_token("erin", label="laptop")
    assert kb.authenticate(second).name == "erin"
    assert kb.revoke_tokens("erin") == 2
    for token in (first, second):
        with pytest.raises(AuthError, match="unknown or revoked"):
            kb.authenticate(token)
    third = kb.new_token("erin", by="erin")  # one's own token
    with pytest.raises(PermissionDenied):
        kb.new_token("erin", by="editor2")  # someone else's: admins only
    kb.disable_user("erin", by="admin")
    with pytest.raises(AuthError):
        kb.authenticate(third)  # disabling revokes
    with pytest.raises(PermissionDenied, match="disabled"):
        kb.new_token("erin")
    with pytest.raises(PermissionDenied, match="disabled"):
        kb.authorize("erin", "ask")
    assert kb.enable_user("erin", by="admin").disabled is False
    assert kb.authenticate(kb.new_token("erin")).name == "erin"


@pytest.mark.parametrize("token", ["", "   ", "nonsense", "x" * 600])
def test_authenticate_refuses_bad_tokens(kb: KnowSync, token: str) -> None:
    with pytest.raises(AuthError):
        kb.authenticate(token)


def test_the_last_admin_stays(kb: KnowSync) -> None:
    with pytest.raises(InputError, match="last active admin"):
        kb.set_role("admin", "viewer", by="admin")
    with pytest.raises(InputError, match="last active admin"):
        kb.disable_user("admin", by=None)
    kb.add_user("root2", "admin")
    assert kb.set_role("admin", "viewer", by="admin").role is Role.VIEWER
    assert kb.get_user("root2").role is Role.ADMIN


# The role matrix: which role may do what.
ALLOWED = {
    "viewer": {"ask", "read"},
    "editor": {"ask", "read", "submit", "rollback"},
    "curator": {"ask", "read", "submit", "rollback", "review", "lock"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_role_matrix(kb: KnowSync, role: str, action: str) -> None:
    if action in ALLOWED[role]:
        assert kb.authorize(role, action).name == role
    else:
        with pytest.raises(PermissionDenied, match=f"'{action}' needs the role"):
            kb.authorize(role, action)


def test_rollback_of_someone_elses_edit_needs_a_curator(kb: KnowSync) -> None:
    own = kb.submit_triples([("France", "capital", "Paris")], user="editor").edit_id
    other = kb.submit_triples([("Spain", "capital", "Madrid")], user="editor2").edit_id
    assert own is not None and other is not None
    assert kb.authorize("editor", "rollback", edit_id=own).name == "editor"
    with pytest.raises(PermissionDenied, match="only their own"):
        kb.authorize("editor", "rollback", edit_id=other)
    assert kb.authorize("curator", "rollback", edit_id=other).name == "curator"
    with pytest.raises(PermissionDenied):
        kb.authorize("viewer", "rollback", edit_id=own)
    with pytest.raises(NotFoundError):
        kb.authorize("curator", "rollback", edit_id=9999)


def test_unknown_users_and_actions(kb: KnowSync) -> None:
    with pytest.raises(PermissionDenied, match="no account named 'mallory'"):
        kb.authorize("mallory", "ask")
    with pytest.raises(InputError, match="unknown action"):
        kb.authorize("admin", "launch")
    with pytest.raises(PermissionDenied):
        kb.submit_triples([("France", "capital", "Paris")], user="mallory")


def test_open_mode_without_accounts() -> None:
    ks = KnowSync("memory://")
    try:
        assert ks.users() == []
        assert ks.authorize("anyone", "admin").role is Role.ADMIN
        with pytest.raises(AuthError):
            ks.authenticate("no-accounts-no-tokens")
        ks.add_user("root", "admin")
        with pytest.raises(PermissionDenied):
            ks.authorize("anyone", "ask")
    finally:
        ks.close()


def test_accounts_are_a_part_of_their_own_over_a_store() -> None:
    """Accounts need a store and the service's lock, nothing of the knowledge base."""
    import threading

    from kg import open_store
    from knowsync._accounts import Accounts

    store = open_store("memory://")
    try:
        accounts = Accounts(store, threading.RLock())
        assert accounts.authorize("anyone", "admin").role is Role.ADMIN  # open mode
        account, token = accounts.add_user("ann", "curator")
        assert accounts.authenticate(token) == account
        with pytest.raises(PermissionDenied):
            accounts.authorize("anyone", "read")
    finally:
        store.close()


def test_a_token_never_starts_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """``knowsync --token TOKEN`` reads a token starting with ``-`` as an option."""
    import secrets

    drawn = iter(["-looks-like-an-option", "a-token"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(drawn))
    ks = KnowSync("memory://")
    try:
        assert ks.add_user("ann", "viewer")[1] == "a-token"
    finally:
        ks.close()
