"""The one door: the interfaces reach the knowledge base through :class:`Session` only.

The HTTP API and the web app act for an account, so every operation they offer goes through
that account's session, which authorizes it and applies the service's rules; they touch the
:class:`knowsync.KnowSync` object itself only for what is no operation of an account (the
model's loading state, the sliders' defaults, the keyed chunks of an import, whose rows go
through the session). The command line's local commands act as the store's owner only where
this file pins it (``OWNER_CALLS``): a new unguarded call fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"

#: The KnowSync methods that change the knowledge base, decide for an account, or read what
#: only some accounts may read: an interface calls them through a Session.
GOVERNED = frozenset(
    {
        "submit",
        "submit_triples",
        "ask",
        "edit",
        "rollback",
        "rollback_batch",
        "import_file",
        "import_as",
        "approve",
        "reject",
        "review_queue",
        "lock",
        "unlock",
        "authorize",
        "authenticate",
        "users",
        "get_user",
        "add_user",
        "set_role",
        "disable_user",
        "enable_user",
        "new_token",
        "revoke_tokens",
        "load_schema",
        "add_alias",
        "sync_model",
        "check_model",
        "conversation",
        "remember",
        "remember_more",
        "settle_message",
        "forget_conversation",
        "notices",
        "mark_notices_seen",
    }
)

#: The interfaces that act for an account: what they may touch on the KnowSync object.
SERVED = {
    # ``chunk_imports``: keyed batch-import chunks (``knowsync._chunks.ChunkImports``), which
    # import the rows through the account's session
    "api.py": {"model", "model_status", "model_sync_state", "chunk_imports"},
    "web.py": {"model", "model_status", "model_sync_state", "hops", "fanout"},
    "_web_render.py": set(),
    "_guards.py": set(),
}

#: The local commands that act as the store's owner (whoever can open the store file can
#: change it anyway): the demo's import, loading a schema, and account administration.
OWNER_CALLS = {
    ("cli.py", "import_file"),
    ("cli.py", "load_schema"),
    ("_cli_model.py", "sync_model"),
    ("_cli_model.py", "check_model"),
    ("_cli_service.py", "add_user"),
    ("_cli_service.py", "users"),
    ("_cli_service.py", "set_role"),
    ("_cli_service.py", "disable_user"),
    ("_cli_service.py", "enable_user"),
    ("_cli_service.py", "new_token"),
    ("_cli_service.py", "revoke_tokens"),
}

_ENGINE = frozenset({"ks", "self.ks", "self._ks", "app.state.ks"})


def _engine_uses(path: Path) -> Iterator[tuple[int, str, ast.Attribute]]:
    """Each attribute taken from the KnowSync object in a module: line, name, node."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) in _ENGINE:
            yield node.lineno, node.attr, node


def _governed_calls(path: Path) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in GOVERNED
        ):
            yield node


def test_the_served_interfaces_touch_the_engine_only_for_the_model() -> None:
    stray = [
        f"{name}:{line} ks.{attr}"
        for name, allowed in SERVED.items()
        for line, attr, _ in _engine_uses(UI / name)
        if attr not in allowed
    ]
    assert not stray, "act through the account's Session instead: " + ", ".join(stray)


def test_no_interface_calls_a_governed_method_on_the_engine() -> None:
    stray = [
        f"{path.name}:{line} ks.{attr}()"
        for path in sorted(UI.glob("*.py"))
        for line, attr, node in _engine_uses(path)
        if attr in GOVERNED and (path.name, attr) not in OWNER_CALLS
    ]
    assert not stray, "act through a Session instead: " + ", ".join(stray)


def test_no_interface_names_the_acting_user_to_a_governed_method() -> None:
    """An account's name reaches a governed method only as a Session's ``user``; the owner's
    local path passes ``by=None`` or acts under the demo's own name."""
    stray = []
    for path in sorted(UI.glob("*.py")):
        for call in _governed_calls(path):
            for kw in call.keywords:
                if kw.arg not in ("user", "by"):
                    continue
                assert isinstance(call.func, ast.Attribute)
                if isinstance(kw.value, ast.Constant) and (
                    kw.value.value is None or (path.name, call.func.attr) in OWNER_CALLS
                ):
                    continue
                stray.append(f"{path.name}:{call.lineno} {ast.unparse(call)[:80]}")
    assert not stray, "act through the account's Session instead: " + ", ".join(stray)


def test_the_scan_sees_what_it_forbids(tmp_path: Path) -> None:
    """The scan finds an unguarded call (so that the tests above cannot pass by seeing
    nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f(ks, who):\n    return ks.approve(3, user=who.name)\n")
    assert [(line, attr) for line, attr, _ in _engine_uses(sample)] == [(2, "approve")]
    assert [c.lineno for c in _governed_calls(sample)] == [2]
