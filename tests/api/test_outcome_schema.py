"""One definition per outcome: the HTTP API answers with the outcome types themselves, so its
OpenAPI schema says what a client gets, and the client reads the answer with the same type."""

from __future__ import annotations

from fastapi.testclient import TestClient

from knowsync import Account, Role
from knowsync.client import account_from_dict

from .conftest import Env

V1 = "/api/v1"


def test_an_account_is_one_type_from_the_service_to_the_client(env: Env, http: TestClient) -> None:
    spec = http.get("/openapi.json").json()["components"]["schemas"]
    assert set(spec["Account"]["properties"]) == {
        "name",
        "role",
        "created_at",
        "created_by",
        "disabled",
    }
    assert set(spec["Role"]["enum"]) == {r.value for r in Role}  # the roles, by name
    answer = http.get(f"{V1}/whoami", headers=env.auth("curator")).json()
    assert account_from_dict(answer) == env.kb.get_user("curator")
    assert isinstance(account_from_dict(answer), Account)


def test_a_malformed_account_is_refused_by_its_type() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        account_from_dict({"name": "x", "role": "emperor", "created_at": ""})


def test_submissions_results_and_import_reports_are_one_type_each(
    env: Env, http: TestClient
) -> None:
    from knowsync import Decision, EditResult, ImportReport, Submission
    from knowsync.client import _import_report, result_from_dict, submission_from_dict

    spec = http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for gone in ("SubmissionOut", "EditResultOut"):  # no HTTP copies of the outcomes
        assert gone not in schemas
    assert set(schemas["Decision"]["enum"]) == {d.value for d in Decision}
    assert set(schemas["Submission"]["properties"]) == set(Submission.__dataclass_fields__)
    assert schemas["Submission"]["properties"]["decision"] == {
        "$ref": "#/components/schemas/Decision"
    }
    # a result's report stands beside its three fields, as the answers always had it
    result = schemas["EditResultJSON"]
    assert set(result["properties"]) == {"edit_id", "decision", "dry_run"}
    assert result["additionalProperties"] is True
    # an import's answer is the report and whether its key had been seen
    imported = schemas["ImportOut"]["properties"]
    assert set(imported) == set(ImportReport.__dataclass_fields__) | {"replayed"}

    auth = env.auth("editor")
    sub = http.post(
        f"{V1}/triples", json={"assert": [["France", "capital", "Paris"]]}, headers=auth
    )
    read = submission_from_dict(sub.json())
    assert isinstance(read, Submission) and read.decision is Decision.ACCEPTED
    assert read.to_dict() == sub.json()
    undo = http.post(f"{V1}/edits/{read.edit_id}/rollback", headers=auth).json()
    step = result_from_dict(undo[0])
    assert isinstance(step, EditResult) and step.report["rollback_of"] == read.edit_id
    assert step.to_dict() == undo[0]
    rows = {"rows": [{"subject": "Spain", "relation": "capital", "object": "Madrid"}]}
    chunk = http.post(f"{V1}/imports", json=rows, headers=auth).json()
    report = _import_report(chunk)
    assert isinstance(report, ImportReport) and report.added == 1
    assert {**report.to_dict(), "replayed": False} == chunk


def test_malformed_outcomes_are_refused_by_their_types() -> None:
    import pydantic
    import pytest

    from knowsync.client import _import_report, result_from_dict, submission_from_dict

    with pytest.raises(pydantic.ValidationError):
        submission_from_dict({"decision": "maybe"})
    with pytest.raises(pydantic.ValidationError):
        result_from_dict({"edit_id": "seven", "decision": "accepted"})
    with pytest.raises(pydantic.ValidationError):
        _import_report({"batch": "b", "rows": "many"})
