"""A real server on a loopback port: batch imports through ``knowsync.Client`` survive lost
answers, an outage and a server killed with SIGKILL, resuming from the checkpoint with every
row in exactly once; ``knowsync serve`` prints its URL and stops on Ctrl-C; the CLI runs
against the server."""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kg import EditKind, EditState, NotFoundError, Schema, StoreError
from knowsync import Client, KnowSync
from knowsync.client import CHECKPOINT_SUFFIX, ServerError
from ui.cli import main

from ..conftest import REPO, small_relations
from .conftest import Env, write_rows


def test_live_import_survives_a_lost_answer_and_an_outage(
    env: Env, live: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    good = write_rows(path, 3000)
    # chunk 2's answer is lost (applied, then 503); from the 6th request on the server is
    # down for longer than the client keeps trying
    env.faults.fail("import.after", [2], StoreError("database is locked", transient=True))
    env.faults.fail("import.request", range(6, 60), RuntimeError("down"))
    with Client(live, env.tokens["editor"], retries=2, backoff=0.01) as client:
        with pytest.raises(ServerError):
            client.import_file(path, chunk_size=250, progress=True)
        ck = json.loads((tmp_path / f"people.csv{CHECKPOINT_SUFFIX}").read_text())
        assert ck["next_chunk"] == 5
        env.faults.clear()
        report = client.import_file(path, chunk_size=250, progress=False)
    assert report.resumed_from == 5 and report.chunks == 12
    assert report.rows == 3000 and report.added == 3000
    assert sorted(f.triple for f in env.kb.state()) == sorted(good)
    imports = [e for e in env.kb.history(limit=None) if e.kind is EditKind.IMPORT]
    assert len(imports) == 12 and all(e.user == "editor" for e in imports)


def test_cli_against_the_server(
    env: Env,
    live: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KNOWSYNC_TOKEN", raising=False)
    monkeypatch.delenv("KNOWSYNC_SERVER", raising=False)
    remote = ["--server", live, "--token", env.tokens["editor"], "--json"]

    def run(*argv: str) -> tuple[int, object]:
        code = main([*argv, *remote])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    code, first = run("edit", "-t", "France|capital|Paris")
    assert code == 0 and isinstance(first, dict) and first["decision"] == "accepted"
    path = tmp_path / "kg.csv"
    write_rows(path, 40)
    code, report = run("import", str(path), "--chunk-size", "15")
    assert code == 0 and isinstance(report, dict) and report["added"] == 40
    assert report["chunks"] == 3
    code, facts = run("facts", "France")
    assert facts == [f.to_dict() for f in env.kb.facts("France")]
    code, history = run("history", "--limit", "2")
    assert isinstance(history, list) and len(history) == 2
    code, shown = run("show", str(first["edit_id"]))
    assert isinstance(shown, dict) and shown["put_in_force"][0]["object"] == "Paris"
    code, answer = run("ask", "What is the capital of France?")
    assert code == 0 and isinstance(answer, dict) and answer["graph"] == ["Paris"]
    # Spain and Madrid are new to the graph: asked about, then confirmed with --new-names
    code, asked = run("submit", "The capital of Spain is Madrid")
    assert code == 1 and isinstance(asked, dict) and asked["decision"] == "needs_clarification"
    assert asked["report"] == {"new_entities": ["Spain", "Madrid"]} and asked["edit_id"] is None
    assert asked["suggestions"] == ['The capital of "Spain" is "Madrid"']
    with pytest.raises(NotFoundError):  # nothing was created
        env.kb.facts("Spain")
    code, sub = run("submit", "--new-names", "The capital of Spain is Madrid")
    assert code == 0 and isinstance(sub, dict) and sub["decision"] == "accepted"
    code, steps = run("rollback", str(sub["edit_id"]))
    assert code == 0 and isinstance(steps, list) and steps[0]["rollback_of"] == sub["edit_id"]
    assert main(["stats", "--server", live, "--token", env.tokens["editor"]]) == 0
    assert "asserted" in capsys.readouterr().out
    # errors keep the CLI's exit codes; a viewer may not edit; no token, no server call
    code = main(["edit", "-t", "France|capitol|Paris", "--server", live, "--token", "x"])
    assert code == 2 and "token" in capsys.readouterr().err
    viewer = ["--server", live, "--token", env.tokens["viewer"]]
    assert main(["edit", "-t", "A|likes|B", *viewer]) == 2
    assert "needs the role" in capsys.readouterr().err
    assert main(["facts", "France", "--server", live]) == 2
    assert "--token" in capsys.readouterr().err
    assert main(["demo", *viewer]) == 2  # local-only commands refuse an explicit --server
    assert "local store only" in capsys.readouterr().err
    assert main(["users", "list", *viewer]) == 2
    assert "local store only" in capsys.readouterr().err


def test_cli_server_from_the_environment(
    env: Env, live: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KNOWSYNC_SERVER", live)
    monkeypatch.setenv("KNOWSYNC_TOKEN", env.tokens["viewer"])
    env.kb.edit([("France", "capital", "Paris")], user="editor")
    assert main(["facts", "France"]) == 0
    assert "France | capital | Paris" in capsys.readouterr().out
    # a local-only command ignores $KNOWSYNC_SERVER and works on the local store
    monkeypatch.setenv("KNOWSYNC_STORE", "memory://")
    assert main(["users", "list"]) == 0


# --------------------------------------------------------------- knowsync serve


class Served:
    """A ``knowsync serve`` process."""

    def __init__(
        self, db: Path, port: int = 0, *, options: tuple[str, ...] = ("--no-web",)
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ui.cli",
                "serve",
                "--store",
                str(db),
                "--port",
                str(port),
                *options,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "KNOWSYNC_MODEL": "none"},
        )
        self.url = self._url()

    def _url(self) -> str:
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if "serving http://" in line:
                    return line.split("serving ")[1].split()[0]
                if not line and self.proc.poll() is not None:
                    break
        self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        raise RuntimeError(f"knowsync serve did not start: {err}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, sig: int) -> tuple[int, str]:
        """Send a signal; the exit code and what it wrote to stderr."""
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    path = tmp_path / "kb.db"
    with KnowSync(str(path)) as kb:
        kb.load_schema(Schema.from_relations(small_relations()), replace=True)
        _, admin = kb.add_user("admin", "admin")
        _, editor = kb.add_user("editor", "editor", by="admin")
    yield path, {"admin": admin, "editor": editor}


def test_serve_killed_mid_import_then_resumed(
    db: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """SIGKILL at whatever point the import has reached (inside a chunk's transaction, between
    applying and recording its key, between chunks): after a restart, rerunning the import
    resumes from the checkpoint and every row is in exactly once."""
    path, tokens = db
    rows = tmp_path / "big.csv"
    good = write_rows(rows, 3000)
    checkpoint = tmp_path / f"big.csv{CHECKPOINT_SUFFIX}"
    server = Served(path)
    url = server.url

    def kill_after_some_chunks() -> None:  # SIGKILL once 3 chunks are done
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if json.loads(checkpoint.read_text()).get("next_chunk", 0) >= 3:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.005)
        server.proc.kill()

    killer = threading.Thread(target=kill_after_some_chunks)
    killer.start()
    client = Client(url, tokens["editor"], retries=2, backoff=0.05)
    with client, pytest.raises(ServerError):
        client.import_file(rows, chunk_size=100, progress=False)
    killer.join()
    server.proc.communicate(timeout=30)
    done_before = json.loads(checkpoint.read_text())["next_chunk"]
    assert 3 <= done_before < 30

    server = Served(path, port=int(url.rsplit(":", 1)[1]))
    try:
        with Client(server.url, tokens["editor"], retries=5, backoff=0.05) as client:
            report = client.import_file(rows, chunk_size=100, progress=False)
            assert report.resumed_from == done_before and report.chunks == 30
            assert report.rows == 3000 and report.added == 3000 and not report.bad_rows
            assert client.stats()["asserted"] == 3000
    finally:
        code, err = server.stop(signal.SIGINT)
    assert code == 0 and "server stopped" in err  # Ctrl-C: a clean shutdown
    assert "Traceback" not in err
    assert not checkpoint.exists()
    with KnowSync(str(path)) as kb:
        assert sorted(f.triple for f in kb.state()) == sorted(good)
        imports = kb.history(limit=None)
        applied = [e for e in imports if e.kind is EditKind.IMPORT and e.state is EditState.APPLIED]
        assert sum(int(e.request["rows"]) for e in applied) == 3000  # no chunk twice
        assert not [e for e in imports if e.state is EditState.PENDING]


def test_serve_answers_while_its_model_loads_and_says_when_loading_fails(tmp_path: Path) -> None:
    """The graph serves before the model is loaded; a model that cannot load is reported on
    stderr and in /health, and the graph goes on serving; Ctrl-C ends it without a traceback."""
    missing = tmp_path / "missing.gguf"
    server = Served(tmp_path / "kb.db", options=("--model", str(missing)))
    try:
        deadline = time.monotonic() + 60
        health = httpx.get(f"{server.url}/api/v1/health").json()
        while health["model_state"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.2)
            health = httpx.get(f"{server.url}/api/v1/health").json()
        assert health["model_state"] == "failed" and health["model"] is False
        assert httpx.get(f"{server.url}/").status_code == 200  # the web app is up
    finally:
        code, err = server.stop(signal.SIGINT)
    assert code == 0 and "server stopped" in err and "Traceback" not in err
    assert "the model could not be loaded" in err and str(missing) in err
    assert "opens without sign-in" in err  # no accounts, loopback: open mode


def test_serve_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", "memory://", "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


# Building the Gradio app leaves event loops and sockets of its own for the garbage collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_web_app_mounts_beside_the_api(kb: KnowSync) -> None:
    """With ui.web present, ``/`` is the web app and the API and docs still answer."""
    from fastapi.testclient import TestClient

    from ui.api import create_app

    pytest.importorskip("ui.web")
    with TestClient(create_app(kb, web=True)) as http:
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert http.get("/api/v1/health").json()["status"] == "ok"
        assert http.get("/openapi.json").status_code == 200
        assert "<script" not in http.get("/docs").text
        assert http.get("/api/v1/whoami").status_code == 401
    gc.collect()  # Gradio's leftovers are collected here, under this test's warning filters
