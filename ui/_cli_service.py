"""``knowsync users ...``: accounts and API tokens, on the local store.

The CLI opens the store file directly, so it acts as the trusted local path (``by=None``):
whoever can open the store can change it anyway. That is how the first admin is made::

    knowsync users add --role admin alice      # prints alice's token, once
    knowsync users list
    knowsync users role bob curator
    knowsync users disable bob
    knowsync users token alice --label laptop  # another token, printed once
    knowsync users revoke alice                # every token of alice
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["register"]

_ROLES = ("viewer", "editor", "curator", "admin")


def register(
    sub: Any, common: argparse.ArgumentParser
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the ``users`` command to the CLI's subparsers; returns its handler."""
    users = sub.add_parser("users", parents=[common], help="accounts, roles and API tokens")
    actions = users.add_subparsers(
        dest="users_command", required=True, metavar="ACTION", parser_class=type(users)
    )
    s = actions.add_parser("add", parents=[common], help="create an account (prints its token)")
    s.add_argument("name")
    s.add_argument("--role", choices=_ROLES, default="editor")
    actions.add_parser("list", parents=[common], help="list accounts")
    s = actions.add_parser("role", parents=[common], help="change an account's role")
    s.add_argument("name")
    s.add_argument("role", choices=_ROLES)
    s = actions.add_parser("disable", parents=[common], help="disable an account")
    s.add_argument("name")
    s = actions.add_parser("enable", parents=[common], help="enable a disabled account")
    s.add_argument("name")
    s = actions.add_parser("token", parents=[common], help="issue another token (printed once)")
    s.add_argument("name")
    s.add_argument("--label", default="")
    s = actions.add_parser("revoke", parents=[common], help="revoke every token of an account")
    s.add_argument("name")
    return {"users": _cmd_users}


def _line(acct: Any) -> str:
    state = "  (disabled)" if acct.disabled else ""
    by = f" by {acct.created_by}" if acct.created_by else ""
    return f"{acct.name:<24} {acct.role.value:<8} created {acct.created_at[:19]}{by}{state}"


def _cmd_users(args: argparse.Namespace) -> int:
    from ui.cli import EXIT_OK, _emit, _open

    action = args.users_command
    with _open(args, create=action == "add") as ks:
        if action == "add":
            acct, token = ks.add_user(args.name, args.role)
            _emit(
                args,
                {**acct.to_dict(), "token": token},
                f"created {acct.role.value} {acct.name}\n"
                f"token (shown only now; keep it secret): {token}",
            )
        elif action == "list":
            accounts = ks.users()
            _emit(
                args,
                [a.to_dict() for a in accounts],
                "\n".join(_line(a) for a in accounts) or "no accounts (open mode)",
            )
        elif action == "role":
            acct = ks.set_role(args.name, args.role, by=None)
            _emit(args, acct.to_dict(), f"{acct.name} is now {acct.role.value}")
        elif action in ("disable", "enable"):
            change = ks.disable_user if action == "disable" else ks.enable_user
            acct = change(args.name, by=None)
            _emit(args, acct.to_dict(), f"{acct.name} {action}d")
        elif action == "token":
            token = ks.new_token(args.name, label=args.label)
            _emit(
                args,
                {"name": args.name, "label": args.label, "token": token},
                f"token for {args.name} (shown only now; keep it secret): {token}",
            )
        else:
            n = ks.revoke_tokens(args.name)
            _emit(args, {"name": args.name, "revoked": n}, f"revoked {n} tokens of {args.name}")
    return EXIT_OK
