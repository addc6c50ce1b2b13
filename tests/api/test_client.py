"""``knowsync.Client`` over the app (through FastAPI's test client): the same results and the
same exceptions as the local API, retries, and chunked, resumable imports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from controller import EditRefused, RollbackRefused
from kg import EditKind, InputError, NotFoundError, StoreError, UnknownRelationError
from knowsync import Client, Decision
from knowsync._outcomes import AuthError, PermissionDenied, Role
from knowsync._session import Session
from knowsync.client import CHECKPOINT_SUFFIX, ServerError, error_from_response

from .conftest import Env, write_rows


def client_for(env: Env, http: TestClient, who: str, *, retries: int = 3) -> Client:
    return Client("http://testserver", env.tokens[who], retries=retries, backoff=0, http=http)


@pytest.fixture
def editor(env: Env, http: TestClient) -> Iterator[Client]:
    with client_for(env, http, "editor") as c:
        yield c


def test_exported_from_the_package() -> None:
    import knowsync

    assert knowsync.Client is Client and "Client" in knowsync.__all__


def test_edit_read_and_roll_back_like_the_local_api(
    env: Env, http: TestClient, editor: Client
) -> None:
    res = editor.edit([("France", "capital", "Paris")])
    assert res.decision is Decision.ACCEPTED and res.accepted and res.edit_id is not None
    second = editor.edit([("France", "capital", "Nice")])
    facts = editor.facts("France")
    assert [(f.relation, f.object, f.edit_id) for f in facts] == [
        ("capital", "Nice", second.edit_id)
    ]
    as_of = editor.facts("France", as_of=res.edit_id)
    assert [f.object for f in as_of] == ["Paris"]
    record, added, retired = editor.show(second.edit_id or 0)
    assert record.kind is EditKind.EDIT and record.user == "editor"
    assert [f.object for f in added] == ["Nice"] and [f.object for f in retired] == ["Paris"]
    assert editor.get_edit(res.edit_id or 0).id == res.edit_id
    assert [e.id for e in editor.history("France")] == [second.edit_id, res.edit_id]
    with pytest.raises(RollbackRefused) as refused:
        editor.rollback(res.edit_id or 0)
    assert refused.value.dependants == [second.edit_id]
    steps = editor.rollback(res.edit_id or 0, cascade=True)
    assert {s.report["rollback_of"] for s in steps} == {res.edit_id, second.edit_id}
    assert editor.facts("France") == []
    assert editor.stats()["asserted"] == 0


def test_results_equal_the_local_ones(env: Env, http: TestClient, editor: Client) -> None:
    editor.edit([("Paris", "likes", "Lyon"), ("Lyon", "likes", "Nice")])
    local = env.kb
    assert editor.facts("Paris") == local.facts("Paris")
    assert editor.neighbourhood("Paris", hops=2) == local.neighbourhood("Paris", hops=2)
    assert editor.path("Paris", "Nice") == local.path("Paris", "Nice")
    assert editor.history() == local.history()
    assert editor.schema().to_dict() == local.schema.to_dict()


def test_errors_are_the_local_classes(env: Env, http: TestClient, editor: Client) -> None:
    with pytest.raises(UnknownRelationError) as unknown:
        editor.edit([("France", "capitol", "Paris")])
    assert unknown.value.suggestions[0] == "capital" and unknown.value.field == "relation"
    with pytest.raises(InputError) as bad:
        editor.edit([("   ", "capital", "Paris")])
    assert bad.value.field
    with pytest.raises(InputError):
        editor.edit()
    with pytest.raises(NotFoundError):
        editor.facts("Atlantis")
    with pytest.raises(NotFoundError):
        editor.get_edit(404)
    with pytest.raises(PermissionDenied):
        editor.users()
    with pytest.raises(AuthError):
        Client("http://testserver", "wrong", http=http).whoami()
    with (
        client_for(env, http, "curator") as curator,
        pytest.raises(InputError) as payload,  # a 422 from the server, with the field
    ):
        curator.reject(1, reason="")
    assert payload.value.field == "reason"


def test_error_codes_map_back() -> None:
    def err(code: str, status: int = 400, **extra: object) -> Exception:
        return error_from_response(status, {"error": {"code": code, "message": "m", **extra}})

    assert isinstance(err("edit_refused", 409, reasons=["locked"]), EditRefused)
    assert isinstance(err("store_busy", 503), StoreError) and err("store_busy", 503).transient  # type: ignore[attr-defined]
    assert isinstance(err("internal_error", 500), ServerError)
    assert isinstance(error_from_response(502, "<html>bad gateway</html>"), ServerError)
    assert isinstance(error_from_response(401, None), AuthError)


def test_ask_carries_the_chain_of_a_walk(editor: Client) -> None:
    editor.edit([("France", "president", "Emmanuel_Macron")])
    editor.edit([("Emmanuel_Macron", "wife", "Brigitte_Macron")])
    answer = editor.ask("Who is the wife of the president of France?")
    assert answer.graph == ["Brigitte_Macron"] and answer.path == ["president", "wife"]
    assert [(c["hop"], c["object"]) for c in answer.chain] == [
        (1, "Emmanuel_Macron"),
        (2, "Brigitte_Macron"),
    ]
    missing = editor.ask("Who is the father of the wife of the president of France?")
    assert missing.graph == [] and missing.missing is not None
    assert missing.missing["message"] == "the graph has no `father` for Brigitte_Macron"


def test_submit_ask_and_review(env: Env, http: TestClient, editor: Client) -> None:
    asked = editor.submit("The capital of France is Paris")  # both names are new
    assert asked.decision == "needs_clarification" and asked.edit_id is None
    assert asked.report == {"new_entities": ["France", "Paris"]}
    with pytest.raises(NotFoundError):  # nothing was created
        editor.facts("France")
    sub = editor.submit("The capital of France is Paris", new_names=True)
    assert sub.decision == "accepted" and sub.edit_id
    answer = editor.ask("What is the capital of France?")
    assert answer.graph == ["Paris"] and answer.facts[0].object == "Paris"
    with client_for(env, http, "curator") as curator:
        lock = curator.lock("France", "capital", "Paris", reason="official")
        held = editor.edit([("France", "capital", "Nice")])
        assert held.decision is Decision.NEEDS_REVIEW and held.report.get("reason")
        assert [e.id for e in curator.review_queue()] == [held.edit_id]
        assert [lk.id for lk in curator.locks()] == [lock.id]
        with pytest.raises(PermissionDenied):
            editor.review_queue()
        rejected = curator.reject(held.edit_id or 0, reason="keep Paris")
        assert rejected.decision == "rejected"
        [notice] = editor.notices()
        assert notice.describe() == f"Edit #{held.edit_id} rejected by curator: keep Paris"
        assert notice == Session(env.kb, "editor").notices()[0]  # as the local door says
        assert editor.mark_notices_seen(notice.at) == notice.at
        assert editor.notices() == [] and editor.notices(include_seen=True)[0].seen
        assert curator.unlock(lock.id).id == lock.id
        again = editor.edit([("France", "capital", "Nice")])
        assert again.accepted


def test_accounts(env: Env, http: TestClient) -> None:
    with client_for(env, http, "admin") as admin:
        account, token = admin.add_user("zoe", Role.EDITOR)
        assert account.role is Role.EDITOR
        with Client("http://testserver", token, http=http) as zoe:
            assert zoe.whoami().name == "zoe"
            assert zoe.new_token("zoe", label="laptop")
        assert admin.set_role("zoe", "curator").role is Role.CURATOR
        assert admin.get_user("zoe").role is Role.CURATOR
        assert {a.name for a in admin.users()} >= {"zoe", "admin"}
        assert admin.revoke_tokens("zoe") == 2
        assert admin.disable_user("zoe").disabled
        assert not admin.enable_user("zoe").disabled
        assert admin.health()["status"] == "ok"


def test_submit_triples_retried_after_a_lost_answer_applies_once(
    env: Env, http: TestClient
) -> None:
    """The server applies the edit but the answer is lost; the client's retry (same key)
    gets the first outcome."""
    calls = {"n": 0}

    class LoseFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = http._transport.handle_request(request)  # type: ignore[arg-type]
            content = response.read()
            calls["n"] += 1
            if calls["n"] == 1:
                raise httpx.ReadError("connection reset", request=request)
            return httpx.Response(response.status_code, headers=response.headers, content=content)

    with httpx.Client(base_url="http://testserver", transport=LoseFirstAnswer()) as raw:
        client = Client("http://testserver", env.tokens["editor"], backoff=0, http=raw)
        res = client.edit([("France", "capital", "Paris")])
    assert res.accepted and calls["n"] == 2
    assert len(env.kb.history(limit=None)) == 1


def test_not_retried_when_unsafe(env: Env, http: TestClient) -> None:
    """A sentence has no key: after a lost answer the client does not send it again."""
    calls = {"n": 0}

    class LoseAnswers(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            response = http._transport.handle_request(request)  # type: ignore[arg-type]
            response.read()
            raise httpx.ReadError("connection reset", request=request)

    with httpx.Client(base_url="http://testserver", transport=LoseAnswers()) as raw:
        client = Client("http://testserver", env.tokens["editor"], backoff=0, http=raw)
        with pytest.raises(ServerError):
            client.submit("The capital of France is Paris")
    assert calls["n"] == 1


def test_unreachable_server_is_a_server_error() -> None:
    client = Client("http://127.0.0.1:9", "t", retries=1, backoff=0, timeout=2)
    with client, pytest.raises(ServerError) as err:
        client.stats()
    assert "cannot reach" in str(err.value)


# --------------------------------------------------------------------- imports


def test_import_file_in_chunks_with_bad_rows(
    env: Env, http: TestClient, editor: Client, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    good = write_rows(path, 250, bad_every=50)
    report = editor.import_file(path, chunk_size=60, progress=False)
    assert report.rows == 250 and report.added == len(good) == 245
    assert [b["line"] for b in report.bad_rows] == [51, 101, 151, 201, 251]
    assert report.chunks == 5 and len(report.batches) == 5 and report.replayed == 0
    assert not (tmp_path / f"people.csv{CHECKPOINT_SUFFIX}").exists()  # removed when done
    assert env.kb.stats()["asserted"] == 245
    # the same import again: every chunk's key is known, nothing is applied again
    again = editor.import_file(path, chunk_size=60, progress=False)
    assert again.replayed == 5 and again.added == 245
    assert len([e for e in env.kb.history(limit=None) if e.kind is EditKind.IMPORT]) == 5


def test_import_file_retries_transient_failures(
    env: Env, http: TestClient, editor: Client, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "".join(
            json.dumps({"subject": f"s{i}", "relation": "likes", "object": f"o{i}"}) + "\n"
            for i in range(100)
        )
    )
    env.faults.fail("import.before", [1], RuntimeError("flaky"))  # 500 before applying
    env.faults.fail("import.after", [2], RuntimeError("answer lost"))  # applied, then 500
    report = editor.import_file(path, chunk_size=25, progress=False, checkpoint=False)
    assert report.added == 100 and report.chunks == 4 and report.replayed == 1
    assert env.kb.stats()["asserted"] == 100


def test_import_file_resumes_from_the_checkpoint(
    env: Env, http: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    good = write_rows(path, 500)
    # the third chunk is applied but its answer is lost, and then the server is down: the
    # client gives up after its retries
    env.faults.fail("import.after", [2], RuntimeError("answer lost"))
    env.faults.fail("import.request", range(3, 100), RuntimeError("server down"))
    with client_for(env, http, "editor", retries=2) as client:
        with pytest.raises(ServerError):
            client.import_file(path, chunk_size=100, progress=False)
        checkpoint = json.loads((tmp_path / f"big.csv{CHECKPOINT_SUFFIX}").read_text())
        assert checkpoint["next_chunk"] == 2
        env.faults.clear()
        report = client.import_file(path, chunk_size=100, progress=False)
    assert report.resumed_from == 2 and report.replayed == 1  # the chunk applied unanswered
    assert report.added == 500 and report.rows == 500 and report.chunks == 5
    facts = env.kb.state()
    assert sorted(f.triple for f in facts) == sorted(good)  # every row, exactly once
    assert len([e for e in env.kb.history(limit=None) if e.kind is EditKind.IMPORT]) == 5


def test_a_changed_file_starts_over(
    env: Env, http: TestClient, editor: Client, tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    write_rows(path, 30)
    ck = tmp_path / "progress.json"
    ck.write_text(json.dumps({"version": 1, "sha256": "0" * 64, "next_chunk": 3}))
    report = editor.import_file(path, chunk_size=10, progress=False, checkpoint=ck)
    assert report.resumed_from == 0 and report.added == 30 and not ck.exists()


def test_policy_fail_undoes_the_whole_remote_import(
    env: Env, http: TestClient, editor: Client, tmp_path: Path
) -> None:
    editor.edit([("France", "capital", "Paris")])
    path = tmp_path / "conflict.csv"
    path.write_text(
        "head,relation,tail\n"
        + "".join(f"p{i},likes,t{i}\n" for i in range(20))
        + "France,capital,Nice\n"
    )
    report = editor.import_file(path, chunk_size=10, progress=False, policy="fail")
    assert report.failed and "France" in report.failed
    assert env.kb.stats()["asserted"] == 1  # the earlier chunks were rolled back
    # the next run starts afresh with new keys, and applies the good chunks again
    path.write_text("head,relation,tail\n" + "".join(f"p{i},likes,t{i}\n" for i in range(20)))
    assert editor.import_file(path, chunk_size=10, progress=False, policy="fail").added == 20


def test_import_arguments_are_checked(editor: Client, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        editor.import_file(tmp_path / "missing.csv", progress=False)
    (tmp_path / "x.csv").write_text("head,relation,tail\n")
    with pytest.raises(InputError) as err:
        editor.import_file(tmp_path / "x.csv", chunk_size=0, progress=False)
    assert err.value.field == "chunk_size"


def test_import_rows_with_a_key(env: Env, http: TestClient, editor: Client) -> None:
    rows: list[tuple[str, str, str] | dict[str, object]] = [
        ("a", "likes", "b"),
        {"subject": "c", "relation": "likes", "object": "d", "line": 7},
    ]
    first = editor.import_rows(rows, idempotency_key="mine")
    again = editor.import_rows(rows, idempotency_key="mine")
    assert first.added == 2 and again.replayed == 1 and env.kb.stats()["asserted"] == 2
    assert editor.rollback_batch(first.batch)[0].report["rollback_of"] == first.edits[0]
