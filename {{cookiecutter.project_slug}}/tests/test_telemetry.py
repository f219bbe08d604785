"""What CloudWatch gets from every invocation: one JSON log line and one EMF metrics blob."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import handler, telemetry
from local.standin import StandIn

from .conftest import FUNCTION_NAME, CloudWatch, FakeContext, Invoke, http_event

PROJECT = Path(__file__).resolve().parent.parent


def test_every_invocation_logs_one_json_line_with_its_correlation_id(
    container: StandIn, cloudwatch: CloudWatch
) -> None:
    events = [
        http_event("GET", "/health"),
        http_event("POST", "/items", {"n": 1}),
        http_event("GET", "/nowhere"),
        http_event("POST", "/items", "{not json"),
    ]
    contexts = [FakeContext() for _ in events]
    for event, context in zip(events, contexts, strict=True):
        handler.handler(event, context)
    lines = cloudwatch.access_logs()
    assert [line["correlation_id"] for line in lines] == [
        event["requestContext"]["requestId"] for event in events
    ]
    assert [line["function_request_id"] for line in lines] == [c.aws_request_id for c in contexts]
    assert [line["status"] for line in lines] == [200, 201, 404, 400]
    assert [line["cold_start"] for line in lines] == [True, False, False, False]
    first = lines[0]
    assert first["level"] == "INFO"
    assert first["service"] == telemetry.SERVICE
    assert first["function_name"] == FUNCTION_NAME
    assert (first["http_method"], first["path"]) == ("GET", "/health")
    assert first["duration_ms"] > 0
    assert len(cloudwatch.logs()) == len(events)  # nothing else was logged


def test_every_invocation_reports_the_contract_metrics(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch
) -> None:
    invoke("GET", "/health")
    invoke("GET", "/nowhere")  # no database call: still reported, as zeros
    blobs = [record for record in cloudwatch.read() if "_aws" in record]
    assert len(blobs) == 2
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == telemetry.NAMESPACE
        assert directive["Dimensions"] == [["service"]]
        assert blob["service"] == telemetry.SERVICE
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        assert tuple(units) == telemetry.METRIC_NAMES
        assert units == {name: unit.value for name, unit in telemetry.METRIC_UNITS.items()}
    first, second = cloudwatch.metrics()
    assert first["ColdStart"] == 1
    assert first["ConnectionsCreated"] >= 1
    assert first["DatabaseCommands"] >= 1
    assert first["DatabaseTime"] > 0
    assert second == dict.fromkeys(telemetry.METRIC_NAMES, 0)


def test_connections_are_created_on_the_first_invocation_only(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch
) -> None:
    for _ in range(20):
        invoke("GET", "/health")
        invoke("POST", "/items", {"n": 1})
    first, *warm = cloudwatch.metrics()
    assert first["ConnectionsCreated"] == len(container.app_ports()) == 1
    assert first["ColdStart"] == 1
    assert {m["ConnectionsCreated"] for m in warm} == {0}
    assert {m["ColdStart"] for m in warm} == {0}
    assert {m["DatabaseCommands"] for m in warm} == {1}  # one ping, or one insert
    assert {m["DatabaseErrors"] for m in warm} == {0}


def test_errors_the_driver_retried_away_are_still_counted(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch
) -> None:
    invoke("GET", "/health")
    container.hang_up_next("ping")
    assert invoke("GET", "/health")["statusCode"] == 200  # retried on a new socket
    _, retried = cloudwatch.metrics()
    assert retried["DatabaseErrors"] == 1  # the ping that was hung up on
    assert retried["DatabaseCommands"] >= 2  # it, its retry, and the new socket's handshake
    assert retried["ConnectionsCreated"] == 1


@pytest.mark.slow
def test_an_unreachable_cluster_shows_as_errors(
    container: StandIn, monkeypatch: pytest.MonkeyPatch, cloudwatch: CloudWatch
) -> None:
    from .test_faults import closed_port, new_client_for

    new_client_for(f"mongodb://127.0.0.1:{closed_port()}/", monkeypatch)
    response = handler.handler(http_event("GET", "/health"), FakeContext(remaining_ms=2_000))
    assert response["statusCode"] == 503
    (metrics,) = cloudwatch.metrics()
    assert metrics["DatabaseErrors"] >= 1  # failed server checks: no command ever ran
    assert metrics["DatabaseCommands"] == 0


def test_metric_names_are_documented_in_the_readme() -> None:
    """The names are a contract (alarms and dashboards): the README lists each one."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for name in telemetry.METRIC_NAMES:
        assert f"`{name}`" in readme, name


def emitted_by_a_fresh_process(**env: str) -> dict[str, Any]:
    """The EMF blob of one invocation in a new process (settings are read at import)."""
    script = (
        "from types import SimpleNamespace as Context\n"
        "from {{ cookiecutter.package_name }} import handler\n"
        "context = Context(function_name='f', memory_limit_in_mb=128, invoked_function_arn='a',"
        " aws_request_id='r', get_remaining_time_in_millis=lambda: 3000)\n"
        "handler.handler({'not': 'an HTTP event'}, context)\n"
    )
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    result = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env={**inherited, "PYTHONPATH": "src", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    (blob,) = [line for line in lines if "_aws" in line]
    found: dict[str, Any] = blob
    return found


def test_the_stack_can_name_the_namespace_and_service() -> None:
    default = emitted_by_a_fresh_process()
    assert default["_aws"]["CloudWatchMetrics"][0]["Namespace"] == telemetry.PROJECT
    assert default["service"] == telemetry.PROJECT
    named = emitted_by_a_fresh_process(
        POWERTOOLS_METRICS_NAMESPACE="Shop/Orders", POWERTOOLS_SERVICE_NAME="orders-api"
    )
    assert named["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop/Orders"
    assert named["service"] == "orders-api"
