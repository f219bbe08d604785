"""One container, many invocations: sockets are opened once and survive network faults."""

from __future__ import annotations

import time

import pytest

from local.standin import StandIn

from .conftest import CloudWatch, Invoke

WARM_INVOCATIONS = 1_000


@pytest.mark.slow
def test_warm_invocations_open_no_new_sockets(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch
) -> None:
    """Seen from the server (sockets by client port) and from the function (its metrics)."""
    assert invoke("GET", "/health")["statusCode"] == 200
    after_first = container.ports()
    # One monitoring socket and one pooled socket: the connection budget's 2 per node.
    assert len(after_first) <= 2
    for _ in range(WARM_INVOCATIONS):
        assert invoke("GET", "/health")["statusCode"] == 200
    assert container.ports() == after_first
    assert len(container.commands("ping")) == WARM_INVOCATIONS + 1
    first, *warm = cloudwatch.metrics()
    assert first["ConnectionsCreated"] >= 1
    assert len(warm) == WARM_INVOCATIONS
    assert {m["ConnectionsCreated"] for m in warm} == {0}


def test_writes_and_reads_share_the_same_socket(container: StandIn, invoke: Invoke) -> None:
    created = invoke("POST", "/items", {"n": 1})
    assert created["statusCode"] == 201
    for _ in range(50):
        invoke("POST", "/items", {"n": 2})
        invoke("GET", "/health")
    assert len(container.app_ports()) == 1


def test_server_hang_up_between_invocations_is_survived(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    before = container.app_ports()
    container.hang_up_next("ping")
    assert invoke("GET", "/health")["statusCode"] == 200
    pings = container.commands("ping")
    assert len(pings) == 3  # the first call, the one hung up on, its single retry
    assert pings[-1].port not in before  # retried on a fresh socket


def test_hang_up_during_insert_is_retried_once(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    container.hang_up_next("insert")
    response = invoke("POST", "/items", {"sku": "retry-me"})
    assert response["statusCode"] == 201
    inserts = container.commands("insert")
    assert len(inserts) == 2  # the original and exactly one retry
    assert inserts[0].doc["txnNumber"] == inserts[1].doc["txnNumber"]  # same retryable write
    assert container.collection("app_test", "items").count_documents({"sku": "retry-me"}) == 1


@pytest.mark.slow
def test_sockets_dropped_while_frozen_are_replaced_without_error(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch
) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    before = container.app_ports()
    assert container.drop_connections() >= 1  # the NAT gateway forgets the idle flows
    time.sleep(1.1)  # the driver checks sockets idle for more than a second before reuse
    assert invoke("POST", "/items", {"after": "thaw"})["statusCode"] == 201
    assert container.app_ports() - before, "a fresh socket carried the insert"
    assert len(container.commands("insert")) == 1  # no error, so nothing needed retrying
    assert invoke("GET", "/health")["statusCode"] == 200
    _, thawed, warm = cloudwatch.metrics()
    assert thawed["ConnectionsCreated"] == 1  # the replacement, and only it
    assert warm["ConnectionsCreated"] == 0
