"""``knowsync users``: the first admin and account management from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowsync import KnowSync
from ui.cli import main


def test_users_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "kb.db")]
    assert main(["users", "add", "--role", "admin", "root", *store]) == 0
    out = capsys.readouterr().out
    token = out.strip().split()[-1]
    assert "shown only now" in out
    assert main(["users", "add", "bob", "--json", *store]) == 0
    bob = json.loads(capsys.readouterr().out)
    assert bob["role"] == "editor" and bob["token"]
    assert main(["users", "role", "bob", "curator", *store]) == 0
    assert capsys.readouterr().out.strip() == "bob is now curator"
    assert main(["users", "token", "bob", "--label", "ci", "--json", *store]) == 0
    second = json.loads(capsys.readouterr().out)["token"]
    assert main(["users", "list", "--json", *store]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["role"]) for a in listed] == [("bob", "curator"), ("root", "admin")]
    with KnowSync(store[1]) as ks:
        assert ks.authenticate(token).name == "root"
        assert ks.authenticate(second).name == "bob"
    assert main(["users", "revoke", "bob", "--json", *store]) == 0
    assert json.loads(capsys.readouterr().out)["revoked"] == 2
    assert main(["users", "disable", "bob", *store]) == 0
    assert "bob disabled" in capsys.readouterr().out
    assert main(["users", "disable", "root", *store]) == 2  # the last admin
    assert "last active admin" in capsys.readouterr().err
    assert main(["users", "add", "9bad", *store]) == 2
    assert "not a usable account name" in capsys.readouterr().err
