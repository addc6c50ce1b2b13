"""What one client cannot do to the server: make it take a body over the limit (or any body
without a token), make it parse an upload past the row limit, keep readers waiting behind
writes that wait for the store, or guess tokens at full speed."""

from __future__ import annotations

import json
import select
import signal
import socket
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import ui.api
from kg import EditKind
from knowsync import KnowSync
from ui._guards import SignInThrottle, TooManyAttempts
from ui.api import MAX_BODY_BYTES, MAX_IMPORT_ROWS, MAX_UPLOAD_BYTES, create_app
from ui.cli import main

from .conftest import Env, serving
from .test_server import Served

V1 = "/api/v1"
MiB = 1 << 20


def exchange(url: str, head: str, *, chunks: int = 0, chunk: int = 1 << 16) -> tuple[bytes, int]:
    """Send a request's head over a raw socket, then up to ``chunks`` pieces of a chunked
    body, stopping as soon as the server answers; the answer, and the bytes of body sent
    before it came."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        frame = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        sent = 0
        for _ in range(chunks):
            answered, _, _ = select.select([sock], [], [], 0)
            if answered:
                break
            try:
                sock.sendall(frame)
            except OSError:  # the server answered and closed: read what it said
                break
            sent += chunk
        answer = b""
        while not _complete(answer):
            more = sock.recv(1 << 16)
            if not more:
                break
            answer += more
        return answer, sent


def _complete(answer: bytes) -> bool:
    """Whether an HTTP answer has its head and the body its Content-Length announces."""
    top, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in top.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def head(path: str, *headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    return "\r\n".join([*lines, *headers]) + "\r\n\r\n"


@pytest.fixture
def small(env: Env) -> Iterator[str]:
    """The API with a 1 MiB body limit (and 4 MiB for uploads), served on a loopback port."""
    app = create_app(env.kb, web=False, max_body_bytes=MiB, max_upload_bytes=4 * MiB)
    with serving(app) as url:
        yield url


# ------------------------------------------------------------------ body limits


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(env: Env, small: str) -> None:
    for auth in ((), (f"Authorization: Bearer {env.tokens['editor']}",)):
        answer, _ = exchange(small, head(f"{V1}/triples", "Content-Length: 400000000", *auth))
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    r = httpx.post(f"{small}{V1}/triples", content=b"[" * (MiB + 1), headers=env.auth("editor"))
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "payload_too_large" and err["limit"] == MiB
    assert "1 MiB" in err["message"] and "Client.import_file" in err["message"]


def test_a_chunked_body_is_cut_off_at_the_limit_without_being_held(env: Env, small: str) -> None:
    """64 MiB sent without a length against a 1 MiB limit: the server answers 413 once it has
    read a little over 1 MiB, long before the client is done, and never holds the body."""
    token = f"Authorization: Bearer {env.tokens['editor']}"
    tracemalloc.start()
    try:
        answer, sent = exchange(
            small, head(f"{V1}/triples", "Transfer-Encoding: chunked", token), chunks=1024
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 32 * MiB  # what the sockets' buffers took before the answer came
    assert peak < 16 * MiB, f"{peak / MiB:.1f} MiB held for a 1 MiB limit"


def test_a_body_without_a_good_token_is_refused_before_it_is_read(env: Env, small: str) -> None:
    """Under the limit, but no token (or a bad one): 401 at once, the body never waited for."""
    for auth in ((), ("Authorization: Bearer nope",), ("Authorization: Basic eDp5",)):
        answer, _ = exchange(small, head(f"{V1}/imports", "Content-Length: 900000", *auth))
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b'"code":"unauthorized"' in answer
    # a public route with a body is not asked for a token: it reads the body as usual
    r = httpx.post(f"{small}{V1}/health", content=b"{}", headers={"content-type": "x"})
    assert r.status_code == 405


def test_uploads_have_a_limit_of_their_own(env: Env, tmp_path: Path) -> None:
    app = create_app(env.kb, web=False, max_body_bytes=2000, max_upload_bytes=200_000)
    rows = "".join(f"person{i},likes,thing{i}\n" for i in range(3000))  # about 70 kB
    with TestClient(app) as http:
        big = {"assert": [[f"s{i}", "likes", f"o{i}"] for i in range(100)]}
        r = http.post(f"{V1}/triples", json=big, headers=env.auth("editor"))
        assert r.status_code == 413 and r.json()["error"]["limit"] == 2000
        files = {"file": ("people.csv", f"head,relation,tail\n{rows}".encode())}
        r = http.post(f"{V1}/imports/upload", files=files, headers=env.auth("editor"))
        assert r.status_code == 200 and r.json()["added"] == 3000
        files = {"file": ("people.csv", f"head,relation,tail\n{rows * 3}".encode())}
        r = http.post(f"{V1}/imports/upload", files=files, headers=env.auth("editor"))
        assert r.status_code == 413 and r.json()["error"]["limit"] == 200_000
    with pytest.raises(ValueError):
        create_app(env.kb, web=False, max_body_bytes=0)


def test_serve_takes_the_body_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--max-body-mb N" in shown and f"(default {MAX_BODY_BYTES // MiB})" in shown
    assert "--max-upload-mb N" in shown and f"(default {MAX_UPLOAD_BYTES // MiB})" in shown
    assert main(["serve", "--store", "memory://", "--max-upload-mb", "0"]) == 2
    assert "--max-upload-mb 0" in capsys.readouterr().err
    with KnowSync(str(tmp_path / "kb.db")) as kb:
        _, token = kb.add_user("admin", "admin")
    server = Served(tmp_path / "kb.db", options=("--no-web", "--max-body-mb", "1"))
    try:
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{server.url}{V1}/triples", content=b"[" * (MiB + 1), headers=auth)
        assert r.status_code == 413 and r.json()["error"]["limit"] == MiB
    finally:
        code, err = server.stop(signal.SIGINT)
    assert code == 0, err


# -------------------------------------------------------------------- uploads


def test_an_upload_over_the_row_limit_is_refused_saying_what_to_do(
    env: Env, http: TestClient
) -> None:
    rows = "".join(f"p{i},likes,t{i}\n" for i in range(MAX_IMPORT_ROWS + 1))
    files = {"file": ("people.csv", f"head,relation,tail\n{rows}".encode())}
    r = http.post(f"{V1}/imports/upload", files=files, headers=env.auth("editor"))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["field"] == "file"
    assert f"more than {MAX_IMPORT_ROWS} rows" in err["message"]
    assert "split" in err["message"] and "Client.import_file" in err["message"]
    assert env.kb.stats()["edits"] == 0


def test_an_upload_is_read_only_up_to_the_row_limit(
    env: Env, http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200,000 rows against a limit of 1,000: refused having read 1,001 of them (the memory
    it takes is that of the request, not of 200,000 rows)."""
    monkeypatch.setattr(ui.api, "MAX_IMPORT_ROWS", 1000)
    rows = "".join(f"person{i},likes,thing{i}\n" for i in range(200_000))
    body = f"head,relation,tail\n{rows}".encode()
    tracemalloc.start()
    try:
        r = http.post(
            f"{V1}/imports/upload",
            files={"file": ("people.csv", body)},
            headers=env.auth("editor"),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 400 and "more than 1000 rows" in r.json()["error"]["message"]
    assert peak < 8 * len(body), f"{peak / MiB:.0f} MiB for a {len(body) / MiB:.0f} MiB file"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("people.csv", b"\xff\xfehead,relation,tail\n", "people.csv is not UTF-8 text"),
        ("people.csv", b"who,what\n", "people.csv: the first line must be the header"),
        ("people.txt", b"head,relation,tail\n", "cannot tell the format of people.txt"),
    ],
)
def test_upload_errors_name_the_upload_not_the_servers_copy(
    env: Env, http: TestClient, name: str, content: bytes, expected: str
) -> None:
    r = http.post(
        f"{V1}/imports/upload", files={"file": (name, content)}, headers=env.auth("editor")
    )
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith(expected), message
    assert "/tmp" not in message and "knowsync-upload" not in message and "upload." not in message


def test_an_upload_of_excel_csv_and_of_deep_jsonl(env: Env, http: TestClient) -> None:
    """A CSV saved with a byte-order mark imports; a JSONL line nested 100,000 deep is a bad
    row with its line number, the other rows imported."""
    excel = "\ufeffsubject,relation,object\r\nAda,likes,Bob\r\n".encode()
    r = http.post(
        f"{V1}/imports/upload",
        files={"file": ("people.csv", excel)},
        headers=env.auth("editor"),
    )
    assert r.status_code == 200 and r.json()["added"] == 1 and r.json()["bad_rows"] == []
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"subject": "Cy", "relation": "likes", "object": "Di"})
    r = http.post(
        f"{V1}/imports/upload",
        files={"file": ("people.jsonl", f"{good}\n{deep}\n".encode())},
        headers=env.auth("editor"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1
    assert [b["line"] for b in r.json()["bad_rows"]] == [2]
    assert "nested too deeply" in r.json()["bad_rows"][0]["reason"]


# ------------------------------------------------------------- reads and writes


def test_reads_are_answered_while_writes_wait_for_the_store(env: Env, live: str) -> None:
    """45 writes wait for the store (its write lock held): a viewer's read is answered all
    the same; once the store is free every write is applied, each exactly once."""
    writes = 45
    held, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:
        with env.kb._write_lock:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold_the_store, daemon=True)
    holder.start()
    assert held.wait(10)
    limits = httpx.Limits(max_connections=writes + 5, max_keepalive_connections=writes + 5)

    def write(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(
            f"{V1}/triples",
            json={"assert": [[f"writer{i}", "likes", f"thing{i}"]]},
            headers={**env.auth("editor"), "Idempotency-Key": f"write-{i}"},
        )

    try:
        with (
            httpx.Client(base_url=live, timeout=120, limits=limits) as client,
            ThreadPoolExecutor(writes) as pool,
        ):
            pending = [pool.submit(write, client, i) for i in range(writes)]
            time.sleep(2)  # every write has reached the server and waits for the store
            try:
                stats = httpx.get(f"{live}{V1}/stats", headers=env.auth("viewer"), timeout=5)
                assert stats.status_code == 200
                assert not any(f.done() for f in pending)  # the writes still wait
            finally:
                release.set()
            answers = [f.result() for f in pending]
    finally:
        release.set()
        holder.join(10)
    assert [a.status_code for a in answers] == [200] * writes
    assert all(a.json()["decision"] == "accepted" for a in answers)
    journal = [e for e in env.kb.history(user="editor", limit=None) if e.kind is EditKind.EDIT]
    written = Counter(tuple(t) for e in journal for t in e.request.get("assert", []))
    assert written == Counter((f"writer{i}", "likes", f"thing{i}") for i in range(writes))
    assert sorted(a.json()["edit_id"] for a in answers) == sorted(e.id for e in journal)


# ------------------------------------------------------------------- sign-ins


def test_failed_token_authentications_are_paused_per_address(env: Env) -> None:
    """Five bad tokens from one address in a minute, then 429 with Retry-After, even for a
    good token; another address is not affected; a missing token is not a guess."""
    app = create_app(env.kb, web=False)
    here = TestClient(app, client=("10.0.0.1", 5000))
    there = TestClient(app, client=("10.0.0.2", 5000))
    bad = {"Authorization": "Bearer guess"}
    for _ in range(10):
        assert here.get(f"{V1}/whoami").status_code == 401  # no token: not counted
    for _ in range(5):
        assert here.get(f"{V1}/whoami", headers=bad).status_code == 401
    for headers in (bad, env.auth("viewer")):
        r = here.get(f"{V1}/whoami", headers=headers)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = here.post(f"{V1}/triples", json={"assert": [["a", "likes", "b"]]}, headers=bad)
    assert r.status_code == 429  # a write with a body is paused before its body is read
    assert there.get(f"{V1}/whoami", headers=env.auth("viewer")).status_code == 200
    unlimited = TestClient(create_app(env.kb, web=False, sign_in_failures=0))
    for _ in range(10):
        assert unlimited.get(f"{V1}/whoami", headers=bad).status_code == 401


def test_the_pause_ends_a_window_after_the_failures() -> None:
    now = [1000.0]
    throttle = SignInThrottle(3, 60.0, addresses=2, clock=lambda: now[0])
    for _ in range(3):
        throttle.check("a")
        throttle.failed("a")
        now[0] += 10
    with pytest.raises(TooManyAttempts) as caught:
        throttle.check("a")
    assert caught.value.retry_after == 30  # the first failure leaves the window at 1060
    now[0] = 1060.5
    throttle.check("a")  # two failures left in the window: allowed again
    throttle.failed("a")
    with pytest.raises(TooManyAttempts):
        throttle.check("a")
    throttle.failed("b")
    throttle.failed("c")  # only two addresses are remembered: the stalest, a, goes
    throttle.check("a")
