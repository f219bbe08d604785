"""The HTTP API: routes, status codes, and bad input refused with nothing written."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.web import MAX_BODY_BYTES, MAX_DEPTH
from local.standin import StandIn

from .conftest import DATABASE, FakeContext, Invoke, header


def body(response: dict[str, Any]) -> Any:
    assert header(response, "content-type") == "application/json"
    return json.loads(response["body"])


def stored(server: StandIn) -> int:
    return int(server.collection(DATABASE, "items").count_documents({}))


def test_health_pings_the_database(container: StandIn, invoke: Invoke) -> None:
    response = invoke("GET", "/health")
    assert response["statusCode"] == 200
    assert body(response) == {"ok": True}
    assert container.commands("ping")


def test_create_then_get_an_item(container: StandIn, invoke: Invoke) -> None:
    item = {
        "name": "widget",
        "price": 9.5,
        "tags": ["a", "b"],
        "nested": {"deep": [1, {"x": None}]},
    }
    created = invoke("POST", "/items", item)
    assert created["statusCode"] == 201
    item_id = body(created)["id"]
    assert header(created, "location") == f"/items/{item_id}"
    fetched = invoke("GET", f"/items/{item_id}")
    assert fetched["statusCode"] == 200
    assert body(fetched) == {**item, "id": item_id}


def test_unknown_item_is_404(container: StandIn, invoke: Invoke) -> None:
    response = invoke("GET", "/items/65f0c0ffee0000000000beef")
    assert response["statusCode"] == 404
    assert body(response) == {"error": "item not found"}


def test_base64_body_is_accepted(container: StandIn, invoke: Invoke) -> None:
    encoded = base64.b64encode(json.dumps({"b64": True}).encode()).decode()
    response = invoke("POST", "/items", encoded, isBase64Encoded=True)
    assert response["statusCode"] == 201


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/nowhere", 404, None),
        ("DELETE", "/items/65f0c0ffee0000000000beef", 405, "GET"),
        ("GET", "/items", 405, "POST"),
        ("POST", "/health", 405, "GET"),
        ("GET", "/items/not-an-id", 400, None),
        ("GET", "/items/65f0c0ffee0000000000beeg", 400, None),
    ],
)
def test_routing_errors(
    container: StandIn, invoke: Invoke, method: str, path: str, status: int, allow: str | None
) -> None:
    response = invoke(method, path)
    assert response["statusCode"] == status
    assert "error" in body(response)
    assert header(response, "allow") == allow
    assert not container.commands("find")


BAD_BODIES: list[tuple[str, Any, dict[str, Any], int]] = [
    ("malformed JSON", '{"a": ', {}, 400),
    ("not an object", "[1, 2]", {}, 400),
    ("a bare string", '"x"', {}, 400),
    ("NaN", '{"a": NaN}', {}, 400),
    ("empty body", "", {}, 400),
    ("operator key", {"$where": "1"}, {}, 400),
    ("nested operator key", {"a": {"$gt": 1}}, {}, 400),
    ("dotted key", {"a.b": 1}, {}, 400),
    ("client-chosen _id", {"_id": "mine"}, {}, 400),
    ("integer beyond int64", '{"n": 99999999999999999999}', {}, 400),
    (
        "deeply nested",
        json.dumps(json.loads("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))),
        {},
        400,
    ),
    ("pathologically nested", '{"a":' + "[" * 100_00 + "]" * 100_00 + "}", {}, 400),
    ("oversized", {"blob": "x" * (MAX_BODY_BYTES + 1)}, {}, 413),
    ("wrong content type", {"a": 1}, {"headers": {"content-type": "text/plain"}}, 415),
    ("no content type", {"a": 1}, {"headers": {}}, 415),
    (
        "bad charset",
        {"a": 1},
        {"headers": {"content-type": "application/json; charset=latin-1"}},
        415,
    ),
    ("invalid base64", "!!!", {"isBase64Encoded": True}, 400),
    ("invalid utf-8", base64.b64encode(b'{"a": "\xff"}').decode(), {"isBase64Encoded": True}, 400),
]


@pytest.mark.parametrize(
    ("case", "payload", "overrides", "status"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
def test_bad_bodies_are_refused_and_nothing_is_written(
    container: StandIn,
    invoke: Invoke,
    case: str,
    payload: Any,
    overrides: dict[str, Any],
    status: int,
) -> None:
    response = invoke("POST", "/items", payload, **overrides)
    assert response["statusCode"] == status, response["body"]
    assert "error" in body(response)
    assert not container.commands("insert")
    assert stored(container) == 0


@pytest.mark.parametrize(
    "event",
    [{"foo": "bar"}, [], None, {"requestContext": "x", "rawPath": "/health"}, {"rawPath": 3}],
    ids=["unrelated", "list", "none", "bad-context", "bad-path"],
)
def test_not_an_http_event_is_400(container: StandIn, event: Any) -> None:
    from {{ cookiecutter.package_name }} import handler

    response = handler.handler(event, FakeContext())
    assert response["statusCode"] == 400
    assert body(response) == {"error": "not an HTTP API (payload 2.0) event"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=st.dictionaries(st.text(), json_values, max_size=5))
def test_any_json_object_is_stored_faithfully_or_refused_cleanly(
    container: StandIn, invoke: Invoke, document: dict[str, Any]
) -> None:
    before = stored(container)
    response = invoke("POST", "/items", document)
    if response["statusCode"] == 201:
        assert stored(container) == before + 1
        fetched = invoke("GET", f"/items/{body(response)['id']}")
        assert body(fetched) == {**document, "id": body(response)["id"]}
    else:
        assert 400 <= response["statusCode"] < 500, response
        assert stored(container) == before
