"""Nothing secret reaches the logs, on any path that can fail: neither the JSON lines the
function writes for CloudWatch nor anything else logged in the process."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from {{ cookiecutter.package_name }} import handler, mongo
{%- if cookiecutter.auth_mode == "password" %}
from {{ cookiecutter.package_name }}.secret import read_secret
{%- endif %}
from local.standin import StandIn

from .conftest import LAMBDA_ENV, CloudWatch, FakeContext, http_event

URI_MARKER = "appName=uri-marker-7f3a"
SECRETS = [LAMBDA_ENV["AWS_SECRET_ACCESS_KEY"], LAMBDA_ENV["AWS_SESSION_TOKEN"], "hunter2"]


def unreachable(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", f"mongodb://127.0.0.1:1/?{URI_MARKER}")


def credentials_in_uri(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # pragma: allowlist nextline secret
    monkeypatch.setenv("MONGODB_URI", f"mongodb://app:hunter2@{server.address}/?{URI_MARKER}")


def tls_disabled(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", f"mongodb+srv://cluster0.example.net/?tls=false&{URI_MARKER}")


def auth_refused(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", f"{server.uri}?{URI_MARKER}")
    server.users.clear()  # no SCRAM user any more
    server.auth = "password" if server.auth == "iam" else "iam"  # refuse the function's mechanism


def server_error(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", f"{server.uri}?{URI_MARKER}")
    server.fail_next("ping", 8000, "AtlasError: quota exceeded")


FAILURES: dict[str, Callable[[StandIn, pytest.MonkeyPatch], None]] = {
    "unreachable": unreachable,
    "credentials in the URI": credentials_in_uri,
    "TLS disabled": tls_disabled,
    "authentication refused": auth_refused,
    "server error": server_error,
}


@pytest.mark.parametrize(
    "failure",
    [pytest.param(f, marks=pytest.mark.slow) if f == "unreachable" else f for f in FAILURES],
)
def test_failures_log_without_the_uri_or_secrets(
    container: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    cloudwatch: CloudWatch,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    FAILURES[failure](container, monkeypatch)
{%- if cookiecutter.auth_mode == "password" %}
    mongo.reset_for_tests(mongo.ClientHolder(secret_reader=read_secret))
{%- else %}
    mongo.reset_for_tests()
{%- endif %}
    caplog.set_level(logging.DEBUG)
    response = handler.handler(http_event("GET", "/health"), FakeContext(remaining_ms=3_000))
    assert response["statusCode"] >= 500
    logs = cloudwatch.logs()
    assert any(line["level"] == "ERROR" for line in logs), logs
    (access,) = cloudwatch.access_logs()
    assert access["status"] == response["statusCode"]
    for secret in [URI_MARKER, "uri-marker-7f3a", *SECRETS]:
        assert secret not in cloudwatch.text, f"{secret!r} reached the function's logs"
        assert secret not in caplog.text, f"{secret!r} reached a library's logs"
        assert secret not in response["body"]
