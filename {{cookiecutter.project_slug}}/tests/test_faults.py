"""Faults a Lambda container meets in real life, survived or reported clearly."""

from __future__ import annotations

import json
import random
import socket
import time

import pytest

from {{ cookiecutter.package_name }} import handler, mongo
{%- if cookiecutter.auth_mode == "password" %}
from {{ cookiecutter.package_name }}.secret import Credentials
{%- endif %}
from local.standin import NOT_WRITABLE_PRIMARY, StandIn

from .conftest import DATABASE, FakeContext, Invoke, http_event


def test_primary_step_down_during_a_write_is_retried_once(
    container: StandIn, invoke: Invoke
) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    container.fail_next("insert", NOT_WRITABLE_PRIMARY, "not primary", ("RetryableWriteError",))
    assert invoke("POST", "/items", {"sku": "step-down"})["statusCode"] == 201
    assert len(container.commands("insert")) == 2
    assert container.collection(DATABASE, "items").count_documents({"sku": "step-down"}) == 1


def test_write_applied_before_the_hang_up_is_not_duplicated(
    container: StandIn, invoke: Invoke
) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    container.apply_then_hang_up_next("insert")
    assert invoke("POST", "/items", {"sku": "once"})["statusCode"] == 201
    inserts = container.commands("insert")
    assert len(inserts) == 2  # the one whose answer was lost, and exactly one retry
    assert inserts[0].doc["txnNumber"] == inserts[1].doc["txnNumber"]
    assert container.collection(DATABASE, "items").count_documents({"sku": "once"}) == 1


def test_under_a_deadline_the_driver_keeps_retrying(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    container.hang_up_next("insert")
    container.apply_then_hang_up_next("insert")
    assert invoke("POST", "/items", {"sku": "twice-unlucky"})["statusCode"] == 201
    assert len(container.commands("insert")) == 3
    assert container.collection(DATABASE, "items").count_documents({"sku": "twice-unlucky"}) == 1


@pytest.mark.slow
def test_a_server_that_keeps_failing_ends_within_the_operation_budget(
    container: StandIn, invoke: Invoke
) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    for _ in range(200):
        container.hang_up_next("insert")
    started = time.monotonic()
    response = invoke("POST", "/items", {"sku": "never"})
    elapsed = time.monotonic() - started
    assert response["statusCode"] in {503, 504}
    assert elapsed < mongo.ClientHolder().operation_timeout_s() + mongo.RESPONSE_RESERVE_S
    assert container.collection(DATABASE, "items").count_documents({"sku": "never"}) == 0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def new_client_for(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The container's next client connects to ``uri``."""
    monkeypatch.setenv("MONGODB_URI", uri)
{%- if cookiecutter.auth_mode == "password" %}
    mongo.reset_for_tests(mongo.ClientHolder(secret_reader=lambda arn: Credentials("u", "p")))
{%- else %}
    mongo.reset_for_tests()
{%- endif %}


@pytest.mark.slow
@pytest.mark.parametrize("remaining_ms", [15_000, 2_000])
def test_unreachable_server_fails_fast_with_a_clear_error(
    container: StandIn, monkeypatch: pytest.MonkeyPatch, remaining_ms: int
) -> None:
    new_client_for(f"mongodb://127.0.0.1:{closed_port()}/", monkeypatch)
    started = time.monotonic()
    response = handler.handler(http_event("GET", "/health"), FakeContext(remaining_ms=remaining_ms))
    elapsed = time.monotonic() - started
    assert response["statusCode"] == 503
    assert "database unavailable" in response["body"]
    budget_s = mongo.ClientHolder().operation_timeout_s()
    assert elapsed < min(remaining_ms / 1000, budget_s + mongo.RESPONSE_RESERVE_S)


FAULT_RATE = 0.02
SOAK_INVOCATIONS = 1_500


@pytest.mark.slow
def test_random_faults_lose_nothing_and_duplicate_nothing(
    container: StandIn, invoke: Invoke
) -> None:
    """Every acknowledged write is stored exactly once; every read and ping succeeds."""
    rng = random.Random(20261123)
    assert invoke("GET", "/health")["statusCode"] == 200
    container.inject_random_faults(FAULT_RATE, rng)
    acknowledged: list[int] = []
    ids: list[str] = []
    for seq in range(SOAK_INVOCATIONS):
        roll = rng.random()
        if roll < 0.6 or not ids:
            response = invoke("POST", "/items", {"seq": seq})
            assert response["statusCode"] == 201, response
            acknowledged.append(seq)
            ids.append(json.loads(response["body"])["id"])
        elif roll < 0.85:
            assert invoke("GET", f"/items/{rng.choice(ids)}")["statusCode"] == 200
        else:
            assert invoke("GET", "/health")["statusCode"] == 200
    stored = sorted(doc["seq"] for doc in container.collection(DATABASE, "items").find())
    assert stored == acknowledged
    kinds = {kind for _, kind in container.injected}
    assert kinds == {"hang_up", "apply_then_hang_up", "step_down"}, container.injected
    assert len(container.injected) >= 10
