"""The HTTP API through FastAPI's test client: every endpoint, the auth matrix, the error JSON,
422 with the field, idempotent submits and imports, rollback, review and users."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from interpreter import MAX_TEXT_LENGTH
from kg import EditKind, NotFoundError, StoreError

from .conftest import ROLES, Env

V1 = "/api/v1"


def seed(env: Env, http: TestClient) -> int:
    """One applied edit by the editor: France capital Paris (and a friend). Returns its id."""
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Paris"], ["Paris", "likes", "Lyon"]]},
        headers=env.auth("editor"),
    )
    assert r.status_code == 200, r.text
    return int(r.json()["edit_id"])


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]
    assert "field" in err
    return dict(err)


# ------------------------------------------------------------------------- meta


def test_health_needs_no_token(http: TestClient) -> None:
    r = http.get(f"{V1}/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["model"] is False


def test_openapi_and_offline_docs(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {f"{V1}/triples", f"{V1}/imports", f"{V1}/edits/{{edit_id}}/rollback"} <= paths
    assert all(p.startswith(V1) for p in paths)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = http.get("/docs")
    assert docs.status_code == 200 and "<script" not in docs.text  # nothing fetched
    assert f"{V1}/imports" in docs.text and "ImportRows" in docs.text
    assert "swagger-ui" in http.get("/docs/swagger").text
    assert http.get("/", follow_redirects=False).headers["location"] == "/docs"


def test_whoami(env: Env, http: TestClient) -> None:
    r = http.get(f"{V1}/whoami", headers=env.auth("curator"))
    assert r.json()["name"] == "curator" and r.json()["role"] == "curator"


# ---------------------------------------------------------------- auth matrix

# (method, path, json body, the lowest role allowed)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/whoami", None, "viewer"),
    ("POST", "/ask", {"question": "What is the capital of France?"}, "viewer"),
    ("GET", "/entities/France/facts", None, "viewer"),
    ("GET", "/entities/France/neighbourhood", None, "viewer"),
    ("GET", "/path?source=France&target=Lyon", None, "viewer"),
    ("GET", "/edits?limit=5", None, "viewer"),
    ("GET", "/edits/1", None, "viewer"),
    ("GET", "/stats", None, "viewer"),
    ("GET", "/schema", None, "viewer"),
    ("GET", "/locks", None, "viewer"),
    ("GET", "/export?format=jsonl", None, "viewer"),
    ("GET", "/notices", None, "viewer"),
    ("POST", "/notices/seen", {"up_to": None}, "viewer"),
    ("POST", "/submit", {"text": "The capital of Spain is Madrid"}, "editor"),
    ("POST", "/triples", {"assert": [["Spain", "capital", "Madrid"]]}, "editor"),
    (
        "POST",
        "/imports",
        {"rows": [{"subject": "A", "relation": "likes", "object": "B"}]},
        "editor",
    ),
    ("POST", "/edits/1/rollback", {"cascade": False}, "editor"),
    ("GET", "/review", None, "curator"),
    ("POST", "/review/1/approve", {"reason": "ok"}, "curator"),
    ("POST", "/review/1/reject", {"reason": "no"}, "curator"),
    ("POST", "/locks", {"entity": "France"}, "curator"),
    ("DELETE", "/locks/99", None, "curator"),
    ("GET", "/users", None, "admin"),
    ("POST", "/users", {"name": "newbie", "role": "viewer"}, "admin"),
    ("GET", "/users/other", None, "admin"),
    ("PUT", "/users/other/role", {"role": "curator"}, "admin"),
    ("POST", "/users/other/disable", None, "admin"),
    ("POST", "/users/other/enable", None, "admin"),
    ("POST", "/users/other/tokens", {"label": "ci"}, "admin"),
    ("DELETE", "/users/other/tokens", None, "admin"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "lowest"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_auth_matrix(
    env: Env,
    http: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    lowest: str,
) -> None:
    seed(env, http)
    url = f"{V1}{path}"
    r = http.request(method, url, json=body)
    err = assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer" and "token" in err["message"]
    assert_error(
        http.request(method, url, json=body, headers={"Authorization": "Bearer nope"}),
        401,
        "unauthorized",
    )
    assert_error(
        http.request(method, url, json=body, headers=env.auth("gone")), 401, "unauthorized"
    )
    allowed_from = ROLES.index(lowest)
    for i, role in enumerate(ROLES):
        r = http.request(method, url, json=body, headers=env.auth(role))
        if i < allowed_from:
            assert_error(r, 403, "forbidden")
        else:
            assert r.status_code not in (401, 403), (role, r.text)


def test_every_api_route_is_in_the_matrix(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    covered = {(m, p.split("?")[0]) for m, p, _, _ in ENDPOINTS}
    public = {
        ("GET", "/health"),
        ("POST", "/imports/upload"),
        ("POST", "/batches/{batch}/rollback"),
    }
    for path, ops in spec["paths"].items():
        for method in ops:
            key = (method.upper(), path.removeprefix(V1))
            templated = {
                (m, p.replace("France", "{entity}").replace("other", "{name}")) for m, p in covered
            } | {(m, p.replace("1", "{edit_id}").replace("99", "{lock_id}")) for m, p in covered}
            assert key in templated or key in public, key


def test_editor_may_roll_back_only_own_edits(env: Env, http: TestClient) -> None:
    first = seed(env, http)
    err = assert_error(
        http.post(f"{V1}/edits/{first}/rollback", headers=env.auth("other")), 403, "forbidden"
    )
    assert "own" in err["message"]
    r = http.post(f"{V1}/edits/{first}/rollback", headers=env.auth("curator"))
    assert r.status_code == 200 and r.json()[0]["rollback_of"] == first


# ------------------------------------------------------------- errors and 422


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/submit", {}, "text"),
        ("/submit", {"text": ""}, "text"),
        ("/submit", {"text": "x", "extra": 1}, "extra"),
        ("/triples", {"assert": [["France", "capital"]]}, "assert.0"),
        ("/triples", {"assert": [{"subject": "France", "relation": "capital"}]}, "assert.0.object"),
        ("/triples", {"assert": "France|capital|Paris"}, "assert"),
        ("/imports", {"rows": []}, "rows"),
        ("/imports", {"rows": [{"subject": "A", "relation": "likes"}]}, "rows.0.object"),
        (
            "/imports",
            {"rows": [{"subject": "A", "relation": "r", "object": "B"}], "policy": "x"},
            "policy",
        ),
        ("/review/1/reject", {"reason": ""}, "reason"),
        ("/users", {"name": "x", "role": "emperor"}, "role"),
        ("/ask", {"question": 3}, "question"),
    ],
)
def test_bad_payload_is_422_naming_the_field(
    env: Env, http: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    err = assert_error(
        http.post(f"{V1}{path}", json=body, headers=env.auth("admin")), 422, "invalid_payload"
    )
    assert err["field"] == field
    assert err["message"].startswith(field) and err["errors"][0]["field"] == field


def test_bad_query_and_path_parameters_are_422(env: Env, http: TestClient) -> None:
    err = assert_error(
        http.get(f"{V1}/edits?limit=0", headers=env.auth("viewer")), 422, "invalid_payload"
    )
    assert err["field"] == "limit"
    err = assert_error(
        http.get(f"{V1}/edits/abc", headers=env.auth("viewer")), 422, "invalid_payload"
    )
    assert err["field"] == "edit_id"
    r = http.post(
        f"{V1}/submit",
        content=b"{not json",
        headers={**env.auth("editor"), "Content-Type": "application/json"},
    )
    assert_error(r, 422, "invalid_payload")


def test_domain_errors_map_to_status_and_code(env: Env, http: TestClient) -> None:
    first = seed(env, http)
    err = assert_error(
        http.post(
            f"{V1}/triples",
            json={"assert": [["France", "capitol", "Paris"]]},
            headers=env.auth("editor"),
        ),
        400,
        "unknown_relation",
    )
    assert err["field"] == "relation" and err["suggestions"][0] == "capital"
    err = assert_error(
        http.post(
            f"{V1}/triples",
            json={"assert": [["   ", "capital", "Paris"]]},
            headers=env.auth("editor"),
        ),
        400,
        "invalid_input",
    )
    assert err["field"]
    err = assert_error(
        http.get(f"{V1}/entities/Atlantis/facts", headers=env.auth("viewer")), 404, "not_found"
    )
    assert "Atlantis" in err["message"]
    assert_error(http.get(f"{V1}/edits/999", headers=env.auth("viewer")), 404, "not_found")
    assert_error(http.get(f"{V1}/no/such/route", headers=env.auth("viewer")), 404, "not_found")
    # a later edit builds on the first: rolling it back alone is refused (409)
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Nice"]]},
        headers=env.auth("editor"),
    )
    second = r.json()["edit_id"]
    err = assert_error(
        http.post(f"{V1}/edits/{first}/rollback", headers=env.auth("editor")),
        409,
        "rollback_refused",
    )
    assert err["dependants"] == [second] and err["edit_id"] == first


def test_store_failures_are_json_and_transient_ones_503(env: Env, http: TestClient) -> None:
    env.faults.fail("import.before", [0], StoreError("database is locked", transient=True))
    env.faults.fail("import.before", [1], RuntimeError("boom"))
    body = {"rows": [{"subject": "A", "relation": "likes", "object": "B"}]}
    r = http.post(
        f"{V1}/imports", json=body, headers={**env.auth("editor"), "Idempotency-Key": "k"}
    )
    assert_error(r, 503, "store_busy")
    assert r.headers["retry-after"] == "1"
    r = http.post(
        f"{V1}/imports", json=body, headers={**env.auth("editor"), "Idempotency-Key": "k"}
    )
    err = assert_error(r, 500, "internal_error")
    assert "boom" not in err["message"]  # internals stay on the server
    r = http.post(
        f"{V1}/imports", json=body, headers={**env.auth("editor"), "Idempotency-Key": "k"}
    )
    assert r.status_code == 200 and r.json()["added"] == 1


# ---------------------------------------------------------------------- edits


def test_submit_text_then_read_it_back(env: Env, http: TestClient) -> None:
    text = "The capital of France is Paris"  # both names new to the graph
    r = http.post(f"{V1}/submit", json={"text": text}, headers=env.auth("editor"))
    asked = r.json()
    assert r.status_code == 200 and asked["decision"] == "needs_clarification", asked
    assert "'France' and 'Paris' are not in the graph yet" in asked["question"]
    assert asked["suggestions"] == ['The capital of "France" is "Paris"']
    assert asked["edit_id"] is None and env.kb.history(limit=None) == []
    flag = http.get("/openapi.json").json()["components"]["schemas"]["SubmitText"]
    assert flag["properties"]["new_names"]["type"] == "boolean" and "new_names" not in flag.get(
        "required", []
    )
    r = http.post(
        f"{V1}/submit", json={"text": text, "new_names": True}, headers=env.auth("editor")
    )
    sub = r.json()
    assert r.status_code == 200 and sub["decision"] == "accepted" and sub["edit_id"]
    facts = http.get(f"{V1}/entities/France/facts", headers=env.auth("viewer")).json()
    assert [(f["relation"], f["object"], f["user"]) for f in facts] == [
        ("capital", "Paris", "editor")
    ]
    ans = http.post(
        f"{V1}/ask", json={"question": "What is the capital of France?"}, headers=env.auth("viewer")
    ).json()
    assert ans["graph"] == ["Paris"] and ans["facts"][0]["object"] == "Paris"


def test_submit_triples_is_idempotent_per_key(env: Env, http: TestClient) -> None:
    headers = {**env.auth("editor"), "Idempotency-Key": "edit-42"}
    body = {"assert": [{"subject": "France", "relation": "capital", "object": "Paris"}]}
    first = http.post(f"{V1}/triples", json=body, headers=headers).json()
    again = http.post(f"{V1}/triples", json=body, headers=headers).json()
    assert first["decision"] == "accepted" and again["edit_id"] == first["edit_id"]
    assert len(env.kb.history(limit=None)) == 1
    other = {"assert": [["France", "capital", "Lyon"]]}
    r = http.post(f"{V1}/triples", json=other, headers=headers)
    assert r.status_code in (400, 409) and r.json()["error"]["code"] != "internal_error"
    assert len(env.kb.history(limit=None)) == 1


def test_idempotency_keys_belong_to_their_user(env: Env, http: TestClient) -> None:
    """Another user's key is no business of mine: the same key is a new request for me, and
    each user's retry still returns that user's own first outcome."""
    mine = {"assert": [["France", "capital", "Paris"]]}
    theirs = {"assert": [["Spain", "capital", "Madrid"]]}
    key = {"Idempotency-Key": "edit-1"}
    first = http.post(f"{V1}/triples", json=mine, headers={**env.auth("editor"), **key})
    other = http.post(f"{V1}/triples", json=theirs, headers={**env.auth("other"), **key})
    assert first.status_code == 200 and other.status_code == 200, other.text
    assert other.json()["decision"] == "accepted"
    assert other.json()["edit_id"] != first.json()["edit_id"]
    for who, body, answer in (("editor", mine, first), ("other", theirs, other)):
        again = http.post(f"{V1}/triples", json=body, headers={**env.auth(who), **key})
        assert again.json()["edit_id"] == answer.json()["edit_id"]
    assert len(env.kb.history(limit=None)) == 2
    reused = http.post(f"{V1}/triples", json=theirs, headers={**env.auth("editor"), **key})
    assert_error(reused, 400, "invalid_input")
    assert len(env.kb.history(limit=None)) == 2


def test_sentences_are_limited_to_what_the_interpreter_reads(env: Env, http: TestClient) -> None:
    spec = http.get("/openapi.json").json()["components"]["schemas"]
    assert spec["SubmitText"]["properties"]["text"]["maxLength"] == MAX_TEXT_LENGTH
    assert spec["AskIn"]["properties"]["question"]["maxLength"] == MAX_TEXT_LENGTH
    sentence = "The capital of France is Paris " * 40
    r = http.post(
        f"{V1}/submit", json={"text": sentence[: MAX_TEXT_LENGTH + 1]}, headers=env.auth("editor")
    )
    assert assert_error(r, 422, "invalid_payload")["field"] == "text"
    r = http.post(
        f"{V1}/ask", json={"question": "x" * (MAX_TEXT_LENGTH + 1)}, headers=env.auth("viewer")
    )
    assert assert_error(r, 422, "invalid_payload")["field"] == "question"
    r = http.post(f"{V1}/submit", json={"text": "x" * MAX_TEXT_LENGTH}, headers=env.auth("editor"))
    assert r.status_code == 200, r.text


def test_dry_run_writes_nothing(env: Env, http: TestClient) -> None:
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Paris"]], "dry_run": True},
        headers=env.auth("editor"),
    )
    assert r.json()["decision"] == "accepted" and r.json()["edit_id"] is None
    assert env.kb.history(limit=None) == []


def test_neighbourhood_path_stats_schema(env: Env, http: TestClient) -> None:
    seed(env, http)
    h = env.auth("viewer")
    near = http.get(f"{V1}/entities/Paris/neighbourhood?hops=1", headers=h).json()
    assert {(f["subject"], f["object"]) for f in near} >= {("Paris", "Lyon")}
    chain = http.get(f"{V1}/path", params={"source": "France", "target": "Lyon"}, headers=h).json()
    assert [f["object"] for f in chain] == ["Paris", "Lyon"]
    assert http.get(f"{V1}/stats", headers=h).json()["asserted"] == 2
    names = {r["name"] for r in http.get(f"{V1}/schema", headers=h).json()["relations"]}
    assert {"capital", "likes"} <= names


def test_entity_names_with_slashes_and_spaces(env: Env, http: TestClient) -> None:
    http.post(
        f"{V1}/triples",
        json={"assert": [["AC/DC band", "likes", "Rock"]]},
        headers=env.auth("editor"),
    )
    r = http.get(f"{V1}/entities/AC%2FDC%20band/facts", headers=env.auth("viewer"))
    assert r.status_code == 200 and r.json()[0]["object"] == "Rock"


def test_history_filters(env: Env, http: TestClient) -> None:
    seed(env, http)
    http.post(
        f"{V1}/triples",
        json={"assert": [["Spain", "capital", "Madrid"]]},
        headers=env.auth("other"),
    )
    h = env.auth("viewer")
    everything = http.get(f"{V1}/edits", headers=h).json()
    assert [e["user"] for e in everything] == ["other", "editor"]
    assert [e["user"] for e in http.get(f"{V1}/edits?user=editor", headers=h).json()] == ["editor"]
    assert [e["user"] for e in http.get(f"{V1}/edits?entity=Madrid", headers=h).json()] == ["other"]
    assert len(http.get(f"{V1}/edits?limit=1", headers=h).json()) == 1
    first_at = everything[-1]["created_at"]
    assert http.get(f"{V1}/edits", params={"until": "2000-01-01T00:00:00"}, headers=h).json() == []
    assert len(http.get(f"{V1}/edits", params={"since": first_at}, headers=h).json()) == 2
    assert_error(http.get(f"{V1}/edits?entity=Atlantis", headers=h), 404, "not_found")


def test_one_edit_with_its_changes(env: Env, http: TestClient) -> None:
    first = seed(env, http)
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Nice"]]},
        headers=env.auth("editor"),
    )
    second = r.json()["edit_id"]
    detail = http.get(f"{V1}/edits/{second}", headers=env.auth("viewer")).json()
    assert detail["id"] == second and detail["kind"] == "edit" and detail["user"] == "editor"
    assert [f["object"] for f in detail["put_in_force"]] == ["Nice"]
    assert [(f["object"], f["edit_id"]) for f in detail["retired"]] == [("Paris", first)]


def test_rollback_and_cascade(env: Env, http: TestClient) -> None:
    first = seed(env, http)
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Nice"]]},
        headers=env.auth("editor"),
    )
    second = r.json()["edit_id"]
    h = env.auth("editor")
    assert_error(http.post(f"{V1}/edits/{first}/rollback", headers=h), 409, "rollback_refused")
    r = http.post(f"{V1}/edits/{first}/rollback", json={"cascade": True}, headers=h)
    assert r.status_code == 200, r.text
    undone = {step["rollback_of"] for step in r.json()}
    assert undone == {first, second}
    assert http.get(f"{V1}/entities/France/facts", headers=h).json() == []


def test_cascade_over_another_users_edit_needs_a_curator(env: Env, http: TestClient) -> None:
    """The edit that depends on the editor's is the curator's: the editor may not undo it."""
    first = seed(env, http)
    http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Nice"]]},
        headers=env.auth("curator"),
    )
    r = http.post(
        f"{V1}/edits/{first}/rollback", json={"cascade": True}, headers=env.auth("editor")
    )
    assert_error(r, 403, "forbidden")
    assert (
        http.get(f"{V1}/entities/France/facts", headers=env.auth("viewer")).json()[0]["object"]
        == "Nice"
    )
    r = http.post(
        f"{V1}/edits/{first}/rollback", json={"cascade": True}, headers=env.auth("curator")
    )
    assert r.status_code == 200 and len(r.json()) == 2


# --------------------------------------------------------------------- imports


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"subject": f"p{i}", "relation": "likes", "object": f"t{i}", "line": i + 2}
        for i in range(start, start + n)
    ]


def import_edits(env: Env) -> list[Any]:
    return [e for e in env.kb.history(limit=None) if e.kind is EditKind.IMPORT]


def test_import_chunk_is_applied_once_per_key(env: Env, http: TestClient) -> None:
    headers = {**env.auth("editor"), "Idempotency-Key": "file-abc-0"}
    body = {"rows": rows(50), "source": "people.csv"}
    first = http.post(f"{V1}/imports", json=body, headers=headers).json()
    again = http.post(f"{V1}/imports", json=body, headers=headers).json()
    assert first["added"] == 50 and first["replayed"] is False
    assert again["replayed"] is True and again["added"] == 50 and again["edits"] == first["edits"]
    assert len(import_edits(env)) == 1 and env.kb.stats()["asserted"] == 50
    # the journal names the file, with a tag unique to the chunk, and the file's line numbers
    entry = import_edits(env)[0]
    assert entry.request["source"].startswith("people.csv #") and entry.request["lines"] == [2, 51]
    # the same key with other rows is a conflict; another user's same key is their own
    assert_error(
        http.post(f"{V1}/imports", json={"rows": rows(3)}, headers=headers),
        409,
        "idempotency_conflict",
    )
    r = http.post(
        f"{V1}/imports", json=body, headers={**env.auth("other"), "Idempotency-Key": "file-abc-0"}
    )
    assert r.json()["replayed"] is False and r.json()["duplicates"] == 50


def test_import_keeps_client_line_numbers_for_bad_and_skipped_rows(
    env: Env, http: TestClient
) -> None:
    seed(env, http)
    body = {
        "rows": [
            {"subject": "Spain", "relation": "capital", "object": "Madrid", "line": 10},
            {"subject": "Bad\u0001name", "relation": "likes", "object": "x", "line": 11},
            {"subject": "France", "relation": "capital", "object": "Nice", "line": 40},
        ]
    }
    r = http.post(f"{V1}/imports", json=body, headers=env.auth("editor")).json()
    assert r["added"] == 1
    assert [b["line"] for b in r["bad_rows"]] == [11]
    assert [s["line"] for s in r["skipped"]] == [40]


def test_import_applied_but_unrecorded_is_found_in_the_journal(env: Env, http: TestClient) -> None:
    """The crash window: the chunk committed, its key not yet marked done. The retry finds
    the import edit in the journal and applies nothing."""
    env.faults.fail("import.applied", [0], RuntimeError("process died"))
    headers = {**env.auth("editor"), "Idempotency-Key": "window"}
    body = {"rows": rows(20), "source": "w.csv"}
    assert http.post(f"{V1}/imports", json=body, headers=headers).status_code == 500
    r = http.post(f"{V1}/imports", json=body, headers=headers).json()
    assert r["replayed"] is True and r["added"] == 20 and len(r["edits"]) == 1
    assert len(import_edits(env)) == 1 and env.kb.stats()["asserted"] == 20


def test_import_failed_before_applying_is_applied_on_retry(env: Env, http: TestClient) -> None:
    env.faults.fail("import.before", [0], RuntimeError("died"))
    headers = {**env.auth("editor"), "Idempotency-Key": "early"}
    body = {"rows": rows(5)}
    assert http.post(f"{V1}/imports", json=body, headers=headers).status_code == 500
    r = http.post(f"{V1}/imports", json=body, headers=headers).json()
    assert r["replayed"] is False and r["added"] == 5 and len(import_edits(env)) == 1


def test_import_policy_fail_reports_and_changes_nothing(env: Env, http: TestClient) -> None:
    seed(env, http)
    body = {
        "rows": [{"subject": "France", "relation": "capital", "object": "Nice"}],
        "policy": "fail",
    }
    r = http.post(f"{V1}/imports", json=body, headers=env.auth("editor")).json()
    assert r["failed"] and r["edits"] == []
    assert (
        http.get(f"{V1}/entities/France/facts", headers=env.auth("viewer")).json()[0]["object"]
        == "Paris"
    )


def test_new_relations_in_an_import_need_the_schema_role(env: Env, http: TestClient) -> None:
    body = {
        "rows": [{"subject": "A", "relation": "admires", "object": "B"}],
        "allow_new_relations": True,
    }
    assert_error(
        http.post(f"{V1}/imports", json=body, headers=env.auth("editor")), 403, "forbidden"
    )
    r = http.post(f"{V1}/imports", json=body, headers=env.auth("admin"))
    assert r.status_code == 200 and r.json()["added"] == 1


def test_upload_csv_and_jsonl(env: Env, http: TestClient) -> None:
    csv_text = "head,relation,tail\nA,likes,B\nC,likes\nD,likes,E\n"
    headers = {**env.auth("editor"), "Idempotency-Key": "up-1"}
    r = http.post(
        f"{V1}/imports/upload", files={"file": ("kg.csv", csv_text, "text/csv")}, headers=headers
    )
    data = r.json()
    assert r.status_code == 200 and data["added"] == 2 and data["rows"] == 3
    assert [b["line"] for b in data["bad_rows"]] == [3]
    again = http.post(
        f"{V1}/imports/upload", files={"file": ("kg.csv", csv_text, "text/csv")}, headers=headers
    )
    assert again.json()["replayed"] is True and len(import_edits(env)) == 1
    jsonl = '{"subject": "F", "relation": "likes", "object": "G"}\n'
    r = http.post(
        f"{V1}/imports/upload",
        files={"file": ("more.jsonl", jsonl, "application/x-ndjson")},
        data={"policy": "overwrite"},
        headers=env.auth("editor"),
    )
    assert r.json()["added"] == 1
    err = assert_error(
        http.post(
            f"{V1}/imports/upload",
            files={"file": ("kg.txt", "x", "text/plain")},
            headers=env.auth("editor"),
        ),
        400,
        "invalid_input",
    )
    assert err["field"] == "format"
    assert_error(
        http.post(f"{V1}/imports/upload", headers=env.auth("editor")), 422, "invalid_payload"
    )


def test_rollback_a_batch(env: Env, http: TestClient) -> None:
    r = http.post(f"{V1}/imports", json={"rows": rows(10)}, headers=env.auth("editor")).json()
    batch = r["batch"]
    assert_error(
        http.post(f"{V1}/batches/{batch}/rollback", headers=env.auth("other")), 403, "forbidden"
    )
    undone = http.post(f"{V1}/batches/{batch}/rollback", headers=env.auth("editor"))
    assert undone.status_code == 200 and undone.json()[0]["rollback_of"] == r["edits"][0]
    assert env.kb.stats()["asserted"] == 0
    assert_error(
        http.post(f"{V1}/batches/nope/rollback", headers=env.auth("editor")), 404, "not_found"
    )


# ---------------------------------------------------------------------- review


def held_edit(env: Env, http: TestClient) -> int:
    """An edit waiting for review: the editor changes a fact a curator locked."""
    seed(env, http)
    r = http.post(
        f"{V1}/locks",
        json={"entity": "France", "relation": "capital", "object": "Paris", "reason": "official"},
        headers=env.auth("curator"),
    )
    assert r.status_code == 200, r.text
    r = http.post(
        f"{V1}/triples",
        json={"assert": [["France", "capital", "Nice"]]},
        headers=env.auth("editor"),
    )
    assert r.json()["decision"] == "needs_review", r.text
    return int(r.json()["edit_id"])


def test_review_queue_approve_after_unlock(env: Env, http: TestClient) -> None:
    held = held_edit(env, http)
    queue = http.get(f"{V1}/review", headers=env.auth("curator")).json()
    assert [e["id"] for e in queue] == [held] and queue[0]["state"] == "held"
    locks = http.get(f"{V1}/locks", headers=env.auth("viewer")).json()
    r = http.delete(f"{V1}/locks/{locks[0]['id']}", headers=env.auth("curator"))
    assert r.status_code == 200 and r.json()["entity"] == "France"
    r = http.post(
        f"{V1}/review/{held}/approve", json={"reason": "checked"}, headers=env.auth("curator")
    )
    assert r.status_code == 200 and r.json()["decision"] == "accepted", r.text
    assert r.json()["report"]["review"]["by"] == "curator"
    assert http.get(f"{V1}/review", headers=env.auth("curator")).json() == []
    facts = http.get(f"{V1}/entities/France/facts", headers=env.auth("viewer")).json()
    assert facts[0]["object"] == "Nice"


def test_review_reject_with_reason(env: Env, http: TestClient) -> None:
    held = held_edit(env, http)
    r = http.post(
        f"{V1}/review/{held}/reject", json={"reason": "source?"}, headers=env.auth("curator")
    )
    assert r.json()["decision"] == "rejected" and r.json()["reason"] == "source?"
    detail = http.get(f"{V1}/edits/{held}", headers=env.auth("viewer")).json()
    assert detail["state"] == "refused" and detail["report"]["review"]["reason"] == "source?"
    err = assert_error(
        http.post(f"{V1}/review/{held}/approve", headers=env.auth("curator")), 400, "invalid_input"
    )
    assert "not waiting" in err["message"]


def test_notices_tell_the_author_and_are_marked_seen(env: Env, http: TestClient) -> None:
    held = held_edit(env, http)
    author, url = env.auth("editor"), f"{V1}/notices"
    assert http.get(url, headers=author).json() == []
    http.post(f"{V1}/review/{held}/reject", json={"reason": "source?"}, headers=env.auth("curator"))
    [notice] = http.get(url, headers=author).json()
    assert notice == {
        "edit_id": held,
        "decision": "rejected",
        "by": "curator",
        "at": notice["at"],
        "reason": "source?",
        "state": "refused",
        "summary": "+ France capital Nice",
        "seen": False,
    }
    assert http.get(url, headers=env.auth("curator")).json() == []  # only the author's
    r = http.post(f"{url}/seen", json={"up_to": notice["at"]}, headers=author)
    assert r.status_code == 200 and r.json() == {"user": "editor", "seen_up_to": notice["at"]}
    assert http.get(url, headers=author).json() == []
    seen = http.get(url, params={"include_seen": "true"}, headers=author).json()
    assert [(n["edit_id"], n["seen"]) for n in seen] == [(held, True)]
    assert http.post(f"{url}/seen", headers=author).status_code == 200  # no body: now
    err = assert_error(
        http.post(f"{url}/seen", json={"up_to": "soon"}, headers=author), 400, "invalid_input"
    )
    assert err["field"] == "up_to"
    assert_error(http.get(url, params={"limit": 0}, headers=author), 422, "invalid_payload")


# ----------------------------------------------------------------------- users


def test_user_administration(env: Env, http: TestClient) -> None:
    h = env.auth("admin")
    r = http.post(f"{V1}/users", json={"name": "zoe", "role": "editor"}, headers=h)
    assert r.status_code == 201 and r.json()["account"]["role"] == "editor"
    zoe = {"Authorization": f"Bearer {r.json()['token']}"}
    assert http.get(f"{V1}/whoami", headers=zoe).json()["name"] == "zoe"
    assert "zoe" in {a["name"] for a in http.get(f"{V1}/users", headers=h).json()}
    assert_error(http.post(f"{V1}/users", json={"name": "zoe"}, headers=h), 400, "invalid_input")
    r = http.put(f"{V1}/users/zoe/role", json={"role": "curator"}, headers=h)
    assert (
        r.json()["role"] == "curator"
        and http.get(f"{V1}/users/zoe", headers=h).json()["role"] == "curator"
    )
    # a user may make and revoke their own tokens; another's only an admin
    own = http.post(f"{V1}/users/zoe/tokens", json={"label": "laptop"}, headers=zoe)
    assert own.status_code == 201 and own.json()["user"] == "zoe"
    assert_error(http.post(f"{V1}/users/admin/tokens", headers=zoe), 403, "forbidden")
    assert http.delete(f"{V1}/users/zoe/tokens", headers=h).json()["revoked"] == 2
    assert_error(http.get(f"{V1}/whoami", headers=zoe), 401, "unauthorized")
    r = http.post(f"{V1}/users/zoe/disable", headers=h)
    assert r.json()["disabled"] is True
    assert_error(http.post(f"{V1}/users/zoe/tokens", headers=h), 403, "forbidden")
    assert http.post(f"{V1}/users/zoe/enable", headers=h).json()["disabled"] is False
    token = http.post(f"{V1}/users/zoe/tokens", headers=h).json()["token"]
    assert http.get(f"{V1}/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert_error(http.get(f"{V1}/users/nobody", headers=h), 404, "not_found")
    err = assert_error(http.post(f"{V1}/users/admin/disable", headers=h), 400, "invalid_input")
    assert "last" in err["message"]


def test_a_viewer_may_submit_a_question_but_not_an_edit(env: Env, http: TestClient) -> None:
    seed(env, http)
    h = env.auth("viewer")
    r = http.post(f"{V1}/submit", json={"text": "What is the capital of France?"}, headers=h)
    assert r.status_code == 200 and r.json()["answer"]["graph"] == ["Paris"]
    r = http.post(f"{V1}/submit", json={"text": "The capital of France is Nice"}, headers=h)
    assert_error(r, 403, "forbidden")


def test_a_dry_run_takes_the_decision_the_real_call_takes(env: Env, http: TestClient) -> None:
    """A dry run passes the same hold and toxic rules as the call it previews (it answered
    'accepted' for an edit the real call held, and for a toxic one)."""
    env.kb.submit_triples([("France", "capital", "Paris")], user="curator")
    before = env.kb.history(limit=None)
    cases = [
        ({"assert": [["France", "capital", "Lyon"]]}, "needs_review"),  # supersedes another's
        ({"assert": [["Joe", "likes", "n1gg3r"]]}, "rejected"),  # toxic
        ({"assert": [["Joe", "likes", "terrorist"]]}, "needs_review"),  # doubtful
        ({"assert": [["Italy", "capital", "Rome"]]}, "accepted"),
    ]
    for body, expected in cases:
        dry = http.post(f"{V1}/triples", json={**body, "dry_run": True}, headers=env.auth("editor"))
        assert dry.status_code == 200 and dry.json()["decision"] == expected, body
        assert dry.json()["edit_id"] is None
        assert env.kb.history(limit=None) == before  # nothing written
    for body, expected in cases:
        real = http.post(f"{V1}/triples", json=body, headers=env.auth("editor")).json()
        assert real["decision"] == expected, body


def test_an_import_meets_the_rules_an_edit_meets(env: Env, http: TestClient) -> None:
    """An editor's import with policy overwrite superseded another user's fact (one a
    curator had just approved, too) without review, and skipped the toxic filter; the same
    change in the chat is held. Now those rows are kept out, each with its reason."""
    seed(env, http)  # France capital Paris, asserted by the editor
    rows = [
        {"subject": "France", "relation": "capital", "object": "Lyon", "line": 2},
        {"subject": "Joe", "relation": "likes", "object": "n1gg3r", "line": 3},
        {"subject": "Joe", "relation": "likes", "object": "terrorist", "line": 4},
        {"subject": "Italy", "relation": "capital", "object": "Rome", "line": 5},
    ]
    body = {"rows": rows, "policy": "overwrite", "source": "rows.csv"}
    r = http.post(f"{V1}/imports", json=body, headers=env.auth("other"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["added"] == 1 and out["superseded"] == 0
    assert [b["line"] for b in out["bad_rows"]] == [3]
    assert "toxic-edit filter" in out["bad_rows"][0]["reason"]
    skipped = {s["line"]: s["reason"] for s in out["skipped"]}
    assert set(skipped) == {2, 4}
    assert "asserted by editor" in skipped[2] and "unsure" in skipped[4]
    assert [f.object for f in env.kb.facts("France") if f.relation == "capital"] == ["Paris"]
    with pytest.raises(NotFoundError):  # neither Joe row reached the graph
        env.kb.facts("Joe")
    # the owner of the fact, and a curator, may overwrite it by import
    body["rows"] = rows[:1]
    mine = http.post(f"{V1}/imports", json=body, headers=env.auth("editor")).json()
    assert mine["superseded"] == 1 and not mine["skipped"]


def test_a_close_but_different_name_comes_back_as_a_question(env: Env, http: TestClient) -> None:
    env.kb.edit([("Spain", "capital", "Madrid")], user="admin")
    r = http.post(
        f"{V1}/submit",
        json={"text": "The capital of France is Madridd"},
        headers=env.auth("editor"),
    )
    sub = r.json()
    assert r.status_code == 200 and sub["decision"] == "needs_clarification", sub
    assert sub["edit_id"] is None and "did you mean Madrid?" in sub["question"]
    assert sub["intent"]["suggestions"] == ["Madrid"]
    assert sub["suggestions"] == [
        "The capital of France is Madrid",
        'The capital of France is "Madridd"',
    ]
    facts = http.get(f"{V1}/entities/France/facts", headers=env.auth("viewer"))
    assert facts.status_code in (200, 404) and not (facts.status_code == 200 and facts.json())
