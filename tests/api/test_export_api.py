"""``GET /api/v1/export``, ``Client.export`` and ``knowsync export --server``: the same rows as
the local export, streamed from one thread, never a half file."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kg import InputError, NotFoundError, Schema, StoreError
from knowsync import Client, KnowSync
from knowsync._outcomes import AuthError
from knowsync.client import ServerError
from ui.api import _drawn_in_one_thread
from ui.cli import main

from ..conftest import small_relations
from .conftest import Env, Faults

V1 = "/api/v1"


def grow(kb: KnowSync) -> int:
    """Asserted, inverse and composed facts over two edits; returns the first edit's id."""
    first = kb.edit([("A", "father", "B"), ("B", "father", "C")], user="editor").edit_id
    kb.edit([("Joe", "wife", "Jill"), ('Smith, "Jr."', "likes", "a, b")], user="editor")
    assert first is not None
    return first


def local_text(kb: KnowSync, **kwargs: Any) -> str:
    out = io.StringIO()
    kb.export(out, **kwargs)
    return out.getvalue()


def state(kb: KnowSync) -> set[tuple[str, str, str, str]]:
    return {(f.subject, f.relation, f.object, f.kind.value) for f in kb.state()}


@pytest.fixture
def empty_env() -> Iterator[Env]:
    """A second knowledge base with the same schema and accounts, holding no facts."""
    kb = KnowSync("memory://")
    kb.load_schema(Schema.from_relations(small_relations()), replace=True)
    yield Env(kb, Faults())
    kb.close()


# ------------------------------------------------------------------------- HTTP


def test_a_viewer_exports_csv_and_jsonl(env: Env, http: TestClient) -> None:
    first = grow(env.kb)
    r = http.get(f"{V1}/export", headers=env.auth("viewer"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="knowsync-export.csv"'
    assert r.text == local_text(env.kb)
    assert r.text.splitlines()[0] == "subject,relation,object,kind"
    r = http.get(
        f"{V1}/export",
        params={"format": "jsonl", "as_of": first, "with_provenance": "true"},
        headers=env.auth("viewer"),
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    assert f'filename="knowsync-export-as-of-{first}.jsonl"' in r.headers["content-disposition"]
    assert r.text == local_text(env.kb, format="jsonl", as_of=first, with_provenance=True)
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert {(x["subject"], x["relation"], x["object"], x["kind"]) for x in rows} == {
        ("A", "father", "B", "asserted"),
        ("B", "father", "C", "asserted"),
        ("A", "grandfather", "C", "composed"),
    }
    assert all(x["edit_id"] == first and x["user"] == "editor" for x in rows)


def test_export_needs_a_token_and_checks_its_arguments(env: Env, http: TestClient) -> None:
    grow(env.kb)
    assert http.get(f"{V1}/export").status_code == 401
    assert http.get(f"{V1}/export", headers=env.auth("gone")).status_code == 401
    r = http.get(f"{V1}/export", params={"as_of": 999}, headers=env.auth("viewer"))
    assert r.status_code == 404 and "no edit with id 999" in r.json()["error"]["message"]
    for params in ({"as_of": 0}, {"format": "xml"}):
        r = http.get(f"{V1}/export", params=params, headers=env.auth("viewer"))
        assert r.status_code == 422 and r.json()["error"]["field"] in params


def test_an_uploaded_export_imports_into_the_same_graph(
    env: Env, http: TestClient, empty_env: Env
) -> None:
    grow(env.kb)
    body = http.get(f"{V1}/export", headers=env.auth("viewer")).content
    with TestClient(empty_env.app) as other:
        r = other.post(
            f"{V1}/imports/upload",
            files={"file": ("kb.csv", body, "text/csv")},
            headers=empty_env.auth("editor"),
        )
    assert r.status_code == 200, r.text
    derived = sum(1 for *_, kind in state(env.kb) if kind != "asserted")
    assert r.json()["derived_rows"] == derived and r.json()["rows"] == len(state(env.kb))
    assert state(empty_env.kb) == state(env.kb)


def test_a_file_store_streams_through_one_thread(tmp_path: Path) -> None:
    # an SQLite file connection refuses use from another thread than its own
    kb = KnowSync(str(tmp_path / "kb.db"))
    kb.load_schema(Schema.from_relations(small_relations()), replace=True)
    kb.edit([(f"p{i}", "likes", f"q{i % 7}") for i in range(3000)])
    env = Env(kb, Faults())
    with TestClient(env.app) as http:
        r = http.get(f"{V1}/export", params={"format": "jsonl"}, headers=env.auth("viewer"))
    assert r.status_code == 200 and r.text == local_text(kb, format="jsonl")
    assert len(r.text.splitlines()) == 3000
    kb.close()


def test_live_export_is_chunked(env: Env, live: str) -> None:
    env.kb.edit([(f"person{i}", "likes", f"thing{i % 97}") for i in range(3000)])
    with httpx.stream("GET", f"{live}{V1}/export", headers=env.auth("viewer")) as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.headers
        body = b"".join(r.iter_bytes())
    assert body.decode() == local_text(env.kb)


def test_the_body_is_drawn_in_one_thread_and_closed_when_the_client_goes() -> None:
    threads: set[int] = set()
    closed = threading.Event()

    def lines(n: int, fail: bool = False) -> Iterator[str]:
        try:
            for i in range(n):
                threads.add(threading.get_ident())
                yield f"{i:099d}\n"
            if fail:
                raise StoreError("the connection was lost")
        finally:
            closed.set()

    async def take(n: int, pieces: int | None, fail: bool = False) -> list[bytes]:
        body = _drawn_in_one_thread(lines(n, fail))  # type: ignore[arg-type]
        got: list[bytes] = []
        async for piece in body:
            got.append(piece)
            if pieces is not None and len(got) == pieces:
                break
        await body.aclose()
        return got

    whole = asyncio.run(take(3000, None))
    assert b"".join(whole) == "".join(f"{i:099d}\n" for i in range(3000)).encode()
    assert len(whole) > 1 and len(threads) == 1 and threading.get_ident() not in threads
    threads.clear()
    closed.clear()
    first = asyncio.run(take(100_000, 1))  # 10 MB: far more than is drawn ahead
    assert len(first) == 1 and closed.wait(5) and len(threads) == 1
    with pytest.raises(StoreError, match="lost"):
        asyncio.run(take(2000, None, fail=True))


# ----------------------------------------------------------------------- client


def client_for(env: Env, http: TestClient, who: str = "viewer") -> Client:
    return Client("http://testserver", env.tokens[who], retries=2, backoff=0, http=http)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_client_export_equals_the_local_one(
    env: Env, http: TestClient, tmp_path: Path, fmt: str
) -> None:
    first = grow(env.kb)
    with client_for(env, http) as viewer:
        path = tmp_path / f"kb.{fmt}"
        n = viewer.export(path, with_provenance=True)
        assert n == len(env.kb.state()) and path.read_text() == local_text(
            env.kb, format=fmt, with_provenance=True
        )
        out = io.StringIO()
        assert viewer.export(out, format=fmt, as_of=first) == 3
        assert out.getvalue() == local_text(env.kb, format=fmt, as_of=first)
        with pytest.raises(NotFoundError, match="no edit with id 999"):
            viewer.export(tmp_path / "x.csv", as_of=999)
        with pytest.raises(InputError, match="csv or jsonl"):
            viewer.export(tmp_path / "x.csv", format="xml")
    with pytest.raises(AuthError):
        Client("http://testserver", "wrong", http=http).export(tmp_path / "y.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"kb.{fmt}"]


def test_client_import_of_an_export_gives_the_same_graph(
    env: Env, http: TestClient, empty_env: Env, tmp_path: Path
) -> None:
    grow(env.kb)
    path = tmp_path / "kb.jsonl"
    with client_for(env, http) as viewer:
        viewer.export(path)
    with (
        TestClient(empty_env.app) as other,
        Client("http://testserver", empty_env.tokens["editor"], http=other) as editor,
    ):
        report = editor.import_file(path, progress=False, checkpoint=False)
    derived = sum(1 for *_, kind in state(env.kb) if kind != "asserted")
    assert report.derived_rows == derived and report.bad_rows == []
    assert state(empty_env.kb) == state(env.kb)


class _Broken:
    """An HTTP session whose export answer breaks off after its first piece, or that cannot
    connect the first ``refusals`` times."""

    def __init__(self, real: TestClient, *, refusals: int = 0, break_off: bool = False) -> None:
        self.real = real
        self.refusals = refusals
        self.break_off = break_off
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.request(*args, **kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            raise httpx.ConnectError("refused")
        with self.real.stream(method, url, **kwargs) as response:
            if self.break_off:
                pieces = response.iter_bytes()

                def broken() -> Iterator[bytes]:
                    yield next(pieces)
                    raise httpx.RemoteProtocolError("peer closed connection")

                response.iter_bytes = broken
            yield response

    def close(self) -> None:
        pass


def test_a_broken_download_leaves_no_half_file_and_a_refused_one_is_retried(
    env: Env, http: TestClient, tmp_path: Path
) -> None:
    grow(env.kb)
    target = tmp_path / "kb.csv"
    target.write_text("the last good export\n")
    broken = Client(
        "http://testserver", env.tokens["viewer"], backoff=0, http=_Broken(http, break_off=True)
    )  # type: ignore[arg-type]
    with pytest.raises(ServerError, match="broke off"):
        broken.export(target)
    assert target.read_text() == "the last good export\n"
    assert list(tmp_path.iterdir()) == [target]
    session = _Broken(http, refusals=2)
    flaky = Client("http://testserver", env.tokens["viewer"], retries=2, backoff=0, http=session)  # type: ignore[arg-type]
    assert flaky.export(target) == len(env.kb.state()) and session.calls == 3
    assert target.read_text() == local_text(env.kb)


# -------------------------------------------------------------------------- CLI


def test_cli_exports_from_the_server(
    env: Env,
    live: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KNOWSYNC_SERVER", raising=False)
    grow(env.kb)
    remote = ["--server", live, "--token", env.tokens["viewer"]]
    path = tmp_path / "kb.jsonl"
    assert main(["export", str(path), "--json", *remote]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"path": str(path), "format": "jsonl", "rows": len(env.kb.state())}
    assert path.read_text() == local_text(env.kb, format="jsonl")
    assert main(["export", "-", "--with-provenance", *remote]) == 0
    out, err = capsys.readouterr()
    assert out == local_text(env.kb, with_provenance=True) and err.startswith("exported ")
    assert main(["export", "-", "--as-of", "999", *remote]) == 2
    assert "no edit with id 999" in capsys.readouterr().err
