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
