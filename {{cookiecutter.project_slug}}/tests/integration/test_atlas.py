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

REQUIRED = "MONGODB_URI, MONGODB_DATABASE{{ ', MONGODB_SECRET_ARN' if cookiecutter.auth_mode == 'password' else '' }}"
pytestmark = pytest.mark.skipif(
    not os.environ.get("MONGODB_URI"), reason=f"set {REQUIRED} to run against a real deployment"
)


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def call(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path}},
    }
    if body is not None:
        event["body"] = body
    return handler.handler(event, Context())


def test_round_trip_against_the_deployment() -> None:
    mongo.reset_for_tests()
    assert call("GET", "/health")["statusCode"] == 200
    marker = uuid.uuid4().hex
    created = call("POST", "/items", json.dumps({"marker": marker}))
    assert created["statusCode"] == 201, created
    item_path = created["headers"]["location"]
    assert marker in call("GET", item_path)["body"]
