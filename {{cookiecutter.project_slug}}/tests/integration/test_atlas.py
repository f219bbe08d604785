"""Against a real deployment: runs only when MONGODB_URI is set.

MONGODB_URI=mongodb+srv://cluster0.xxxxx.mongodb.net/ MONGODB_DATABASE=app make test
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import handler, mongo

from ..conftest import FakeContext, header, http_event

REQUIRED = "MONGODB_URI, MONGODB_DATABASE{{ ', MONGODB_SECRET_ARN' if cookiecutter.auth_mode == 'password' else '' }}"
pytestmark = pytest.mark.skipif(
    not os.environ.get("MONGODB_URI"), reason=f"set {REQUIRED} to run against a real deployment"
)


def call(method: str, path: str, body: str | None = None, **headers: str) -> dict[str, Any]:
    event = http_event(method, path, body)
    event["headers"].update(headers)
    response: dict[str, Any] = handler.handler(event, FakeContext(remaining_ms=10_000))
    return response


def test_round_trip_against_the_deployment() -> None:
    mongo.reset_for_tests()
    assert call("GET", "/health")["statusCode"] == 200
    marker = uuid.uuid4().hex
    created = call("POST", "/items", json.dumps({"marker": marker}))
    assert created["statusCode"] == 201, created
    item_path = header(created, "location")
    assert item_path
    assert marker in call("GET", item_path)["body"]


def test_idempotency_keys_against_the_deployment() -> None:
    """The records, their unique _id and the TTL index, on a real server."""
    mongo.reset_for_tests()
    key, body = uuid.uuid4().hex, json.dumps({"marker": uuid.uuid4().hex})
    first = call("POST", "/items", body, **{"idempotency-key": key})
    again = call("POST", "/items", body, **{"idempotency-key": key})
    assert first["statusCode"] == again["statusCode"] == 201, (first, again)
    assert again["body"] == first["body"]
    assert header(again, "idempotent-replayed") == "true"
    other = call("POST", "/items", json.dumps({"other": 1}), **{"idempotency-key": key})
    assert other["statusCode"] == 422, other
