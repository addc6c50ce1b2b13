"""The command line: every command, --json, exit codes, errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ui.cli import main

from ..conftest import DATASETS


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_imports_and_shows(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo")
    assert code == 0 and "America | capital | Washington_D.C." in out
    code, out, _ = run(capsys, "demo", "--json")
    data = json.loads(out)
    assert data["imports"][0]["added"] == 0 and data["stats"]["asserted"] > 150


def test_edit_facts_history_rollback_round_trip(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(DATASETS / "oneedit" / "kg.csv"))
    code, out, _ = run(
        capsys, "edit", "--triple", "America|president|Joe Biden", "--user", "alice", "--json"
    )
    first = json.loads(out)
    assert code == 0 and first["decision"] == "accepted"
    assert [d["object"] for d in first["derived"]] == ["Jill_Biden"]
    code, out, _ = run(capsys, "edit", "-t", "America|president|Donald Trump", "--json")
    second = json.loads(out)
    assert second["superseded"][0]["old"]["object"] == "Joe_Biden"
    code, out, _ = run(capsys, "facts", "America", "--json")
    assert {(f["relation"], f["object"]) for f in json.loads(out)} >= {
        ("president", "Donald_Trump"),
        ("first_lady", "Melania_Trump"),
    }
    code, out, _ = run(capsys, "facts", "America", "--as-of", str(first["edit_id"]))
    assert "Joe_Biden" in out and "Donald_Trump" not in out
    code, out, _ = run(capsys, "history", "America", "--json")
    assert [e["id"] for e in json.loads(out)] == [second["edit_id"], first["edit_id"], 1]
    code, out, err = run(capsys, "rollback", str(first["edit_id"]))
    assert code == 1 and "depend" in err and out == ""
    code, out, _ = run(capsys, "rollback", str(first["edit_id"]), "--cascade", "--json")
    assert code == 0 and [r["rollback_of"] for r in json.loads(out)] == [
        second["edit_id"],
        first["edit_id"],
    ]
    code, out, _ = run(capsys, "facts", "America", "--json")
    assert "president" not in {f["relation"] for f in json.loads(out)}
    code, out, _ = run(capsys, "show", str(second["edit_id"]), "--json")
    shown = json.loads(out)
    assert shown["rolled_back_by"] is not None and shown["put_in_force"]


def test_refused_edit_exits_1(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "edit", "-t", "France|capital|Paris", "-t", "France|capital|Lyon")
    assert code == 1 and "refused" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["edit", "-t", "France|capitol|Paris"], "did you mean 'capital'"),
        (["edit", "-t", "France|capital"], "exactly two '|'"),
        (["edit", "-t", "|capital|Paris"], "subject is empty"),
        (["edit"], "at least one --triple"),
        (["rollback", "999"], "no edit with id 999"),
        (["facts", "Atlantis"], "no entity named 'Atlantis'"),
        (["import", "/nonexistent/file.csv"], "cannot read"),
        (["--store", "sqlite:////no/such/dir/kb.db", "edit", "-t", "a|likes|b"], "does not exist"),
        (["--store", "postgres://x", "stats"], "unknown scheme"),
        (["rollback"], "EDIT_ID or --batch"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(capsys, "edit", "-t", "France|capital|Paris")
    try:
        code, _, err = run(capsys, *argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
        _, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert err.strip().splitlines()[-1].startswith("knowsync: error:")


def test_read_commands_do_not_create_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "absent.db"
    code, _, err = run(capsys, "--store", str(target), "facts", "X")
    assert code == 2 and "no knowledge base" in err and not target.exists()


def test_global_options_before_or_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    run(capsys, "--store", str(a), "edit", "-t", "x|influences|y")
    run(capsys, "edit", "-t", "x|influences|z", "--store", str(b))
    _, out, _ = run(capsys, "--store", str(a), "stats", "--json")
    assert json.loads(out)["asserted"] == 1
    _, out, _ = run(capsys, "stats", "--store", str(b), "--json")
    assert json.loads(out)["asserted"] == 1


def test_import_reports_bad_rows(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "x.csv"
    f.write_text("head,relation,tail\nA,likes,B\nA,,B\nC,capital,D\nE,capital,D\n")
    code, out, _ = run(capsys, "import", str(f), "--json")
    data = json.loads(out)
    assert code == 0 and data["added"] == 1
    assert [b["line"] for b in data["bad_rows"]] == [2, 3]  # unknown relation, empty one
    assert "unknown relation 'likes'" in data["bad_rows"][0]["reason"]
    assert [s["line"] for s in data["skipped"]] == [5]
    code, out, _ = run(capsys, "import", str(f), "--policy", "fail")
    assert code == 1 and "undone" in out


def test_schema_commands(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0 and "first_lady" in out and "president . wife" in out
    code, out, _ = run(
        capsys,
        "schema",
        "--check",
        str(DATASETS / "oneedit" / "relationship_library.json"),
        "--json",
    )
    data = json.loads(out)
    assert data["relations"] > 70 and any("grandson" in w for w in data["warnings"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"relations": [{"name": "a", "compose": [["b", "c"]]}]}')
    code, _, err = run(capsys, "schema", "--check", str(bad))
    assert code == 2 and "undefined relation 'b'" in err
    extra = tmp_path / "extra.yaml"
    extra.write_text("relations:\n  - name: anthem\n    cardinality: many2one\n")
    code, out, _ = run(capsys, "schema", "--file", str(extra), "--json")
    assert any(r["name"] == "anthem" for r in json.loads(out)["relations"])


def test_locks(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "edit", "-t", "France|capital|Paris")
    code, out, _ = run(capsys, "lock", "France", "--reason", "settled", "--json")
    lock = json.loads(out)
    code, out, _ = run(capsys, "edit", "-t", "France|capital|Lyon", "--json")
    held = json.loads(out)  # the same rule as through a server: it waits for a curator
    assert code == 0 and held["decision"] == "needs_review"
    assert f"lock #{lock['id']}" in held["reason"]
    code, out, _ = run(capsys, "locks")
    assert "settled" in out
    assert run(capsys, "unlock", str(lock["id"]))[0] == 0
    code, out, _ = run(capsys, "edit", "-t", "France|capital|Lyon", "--json")
    assert code == 0 and json.loads(out)["decision"] == "accepted"


def test_a_local_edit_meets_the_rules_an_edit_through_a_server_meets(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local `edit` went straight to the engine: no toxic filter, no hold rules, while the
    same command with --server applied both. Now both go through the one door."""
    code, out, _ = run(capsys, "edit", "-t", "Joe|nickname|n1gg3r", "--json")
    assert code == 1 and "toxic-edit filter" in json.loads(out)["reason"]
    run(capsys, "users", "add", "--role", "admin", "root")
    run(capsys, "users", "add", "--role", "editor", "alice")
    run(capsys, "users", "add", "--role", "editor", "bob")
    assert run(capsys, "edit", "-t", "France|capital|Paris", "--user", "alice")[0] == 0
    for dry in ([], ["--dry-run"]):
        code, out, _ = run(
            capsys, "edit", "-t", "France|capital|Lyon", "--user", "bob", "--json", *dry
        )
        result = json.loads(out)
        assert code == 0 and result["decision"] == "needs_review", dry
        assert "asserted by alice" in result["reason"]
    code, _, err = run(capsys, "edit", "-t", "France|capital|Nice", "--user", "nobody")
    assert code == 2 and "nobody" in err


def test_console_script_runs_as_a_process(db: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "edit", "-t", "a|likes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "SUBJECT|RELATION|OBJECT" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "edit", "-t", "a|influences|b", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["decision"] == "accepted"


def test_demo_if_empty_imports_once(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--if-empty", "--json")
    first = json.loads(out)
    assert code == 0 and first["imports"][0]["added"] > 150
    code, out, _ = run(capsys, "demo", "--if-empty", "--json")
    again = json.loads(out)
    assert code == 0 and again["imports"] == []
    assert again["stats"]["edits"] == first["stats"]["edits"]  # nothing journaled again


def test_parse_prints_the_intent_and_changes_nothing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "demo")
    _, out, _ = run(capsys, "stats", "--json")
    before = json.loads(out)
    code, out, err = run(capsys, "parse", "Actually, the capital of America is New York", "--json")
    assert code == 0 and err == ""
    (intent,) = json.loads(out)["intents"]
    assert intent["kind"] == "edit"
    (triple,) = intent["triples"]
    assert (triple["subject"]["name"], triple["relation"]) == ("America", "capital")
    assert triple["object"]["mention"] == "New York"
    code, out, _ = run(capsys, "parse", "Who is the president of America?")
    assert code == 0 and "query" in out and "relation president" in out
    code, out, _ = run(capsys, "parse", "Remove that the nickname of Barack Obama is Barry")
    assert code == 0 and "retract Barack_Obama | nickname | Barry" in out
    code, out, _ = run(capsys, "parse", "colourless green ideas", "--json")
    assert code == 1 and json.loads(out)["intents"][0]["kind"] == "unclear"
    _, out, _ = run(capsys, "stats", "--json")
    assert json.loads(out) == before


def test_parse_bad_input_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo")
    code, out, err = run(capsys, "parse", "   ")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_ask_shows_the_chain_of_a_walk_and_the_missing_hop(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(DATASETS / "oneedit" / "kg.csv"))
    run(capsys, "edit", "--triple", "America|president|Joe Biden")
    code, out, _ = run(capsys, "ask", "Who is the wife of the president of America?")
    assert code == 0, out
    assert "about: America | president -> wife" in out
    assert "graph: Jill_Biden" in out
    assert "hop 1: America | president | Joe_Biden" in out
    assert "hop 2: Joe_Biden | wife | Jill_Biden" in out
    code, out, _ = run(capsys, "ask", "Who is the vice president of the president of America?")
    assert "graph: no answer: the graph has no `vice_president` for Joe_Biden" in out
    code, out, _ = run(capsys, "ask", "Who is the wife of the president of America?", "--json")
    data = json.loads(out)
    assert data["path"] == ["president", "wife"] and data["missing"] is None
    assert [c["object"] for c in data["chain"]] == ["Joe_Biden", "Jill_Biden"]


def test_submit_asks_about_new_names_until_confirmed(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(DATASETS / "oneedit" / "kg.csv"))
    code, out, _ = run(capsys, "submit", "The capital of America is Poseidonia")
    assert code == 1 and "'Poseidonia' is not in the graph yet" in out
    assert 'try: The capital of America is "Poseidonia"' in out  # the quoted sentence
    code, out, _ = run(capsys, "facts", "America", "--json")
    assert "Poseidonia" not in out
    code, out, _ = run(
        capsys, "submit", "--new-names", "The capital of America is Poseidonia", "--json"
    )
    result = json.loads(out)
    assert code == 0 and result["decision"] == "accepted"
    assert result["report"]["new_entities"] == ["Poseidonia"]
