"""Nothing secret reaches the logs, on any path that can fail."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from {{ cookiecutter.package_name }} import handler, mongo
from local.standin import StandIn

from .conftest import LAMBDA_ENV, FakeContext, http_event

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


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_failures_log_without_the_uri_or_secrets(
    container: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    FAILURES[failure](container, monkeypatch)
    mongo.reset_for_tests(mongo.ClientHolder(secret_reader=mongo.read_secret))
    caplog.set_level(logging.DEBUG)
    response = handler.handler(http_event("GET", "/health"), FakeContext(remaining_ms=3_000))
    assert response["statusCode"] >= 500
    assert any(record.levelno >= logging.ERROR for record in caplog.records)
    for secret in [URI_MARKER, "uri-marker-7f3a", *SECRETS]:
        assert secret not in caplog.text, f"{secret!r} reached the logs"
        assert secret not in response["body"]
