"""Fixtures: a stand-in Atlas node on loopback and a fresh "Lambda container" per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

{% if cookiecutter.auth_mode == "password" %}import boto3
import pytest
from moto import mock_aws
{% else %}import pytest
{% endif %}
from {{ cookiecutter.package_name }} import config, handler, mongo
from local.standin import StandIn, Topology

FUNCTION_NAME = "{{ cookiecutter.project_slug }}-fn"
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
    "AWS_EXECUTION_ENV": "AWS_Lambda_python{{ cookiecutter.python_version }}",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "{{ cookiecutter.lambda_memory_mb | int }}",
    "AWS_REGION": "{{ cookiecutter.aws_region }}",
    "AWS_DEFAULT_REGION": "{{ cookiecutter.aws_region }}",
    "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    # What Lambda puts in the environment for the execution role (throwaway values).
    "AWS_ACCESS_KEY_ID": "test-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "test-secret-access-key",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "test-session-token",
}
DATABASE = "app_test"
# pragma: allowlist nextline secret
TEST_SECRET_ARN = "arn:aws:secretsmanager:{{ cookiecutter.aws_region }}:123456789012:secret:db"
SECRET_NAME = "{{ cookiecutter.project_slug }}/mongodb"  # pragma: allowlist secret
DB_USER = "app-user"
DB_PASSWORD = "first-password-0123456789"  # pragma: allowlist secret
TOPOLOGY: Topology = "sharded" if config.CLUSTER_TOPOLOGY == "sharded" else "replica_set"


@dataclass
class FakeContext:
    """The part of the Lambda context the handler reads."""

    remaining_ms: int = config.FUNCTION_TIMEOUT_S * 1000
    function_name: str = FUNCTION_NAME

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(method: str, path: str, body: Any = None, **overrides: Any) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    event.update(overrides)
    return event


Invoke = Callable[..., dict[str, Any]]


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment Lambda gives the function (no real credentials)."""
    for name, value in LAMBDA_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MONGODB_DATABASE", DATABASE)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("MONGODB_SECRET_ARN", raising=False)
    return dict(LAMBDA_ENV)


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    """One stand-in Atlas node for the session, checking the function's kind of authentication."""
    with StandIn(topology=TOPOLOGY, auth=config.AUTH_MODE, users={DB_USER: DB_PASSWORD}) as server:
        yield server


@pytest.fixture
def standin(standin_server: StandIn) -> StandIn:
    """The stand-in, with nothing seen or stored yet."""
    standin_server.reset()
    return standin_server


{% if cookiecutter.auth_mode == "password" %}@dataclass
class SecretStore:
    """The function's Secrets Manager secret (moto), with a count of reads."""

    arn: str
    reads: int = 0

    def put(self, username: str, password: str) -> None:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=self.arn, SecretString=json.dumps({"username": username, "password": password})
        )

    def reader(self, arn: str) -> mongo.Credentials:
        """The container's secret reader: the real one, counted."""
        self.reads += 1
        return mongo.read_secret(arn)


@pytest.fixture
def secret_store(lambda_env: dict[str, str]) -> Iterator[SecretStore]:
    """Secrets Manager (moto) holding the DB user's secret."""
    with mock_aws():
        created = boto3.client("secretsmanager").create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        )
        yield SecretStore(arn=created["ARN"])


@pytest.fixture
def container(
    lambda_env: dict[str, str],
    standin: StandIn,
    secret_store: SecretStore,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StandIn]:
    """A fresh Lambda container pointed at the stand-in: the next invocation is a cold start."""
    monkeypatch.setenv("MONGODB_URI", standin.uri)
    monkeypatch.setenv("MONGODB_SECRET_ARN", secret_store.arn)
    mongo.reset_for_tests(mongo.ClientHolder(secret_reader=secret_store.reader))
    yield standin
    mongo.reset_for_tests()
{% else %}@pytest.fixture
def container(
    lambda_env: dict[str, str], standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StandIn]:
    """A fresh Lambda container pointed at the stand-in: the next invocation is a cold start."""
    monkeypatch.setenv("MONGODB_URI", standin.uri)
    mongo.reset_for_tests()
    yield standin
    mongo.reset_for_tests()
{% endif %}

@pytest.fixture
def invoke(container: StandIn) -> Invoke:
    """Call the handler as Lambda would, with a fresh context per invocation."""

    def _invoke(method: str, path: str, body: Any = None, **overrides: Any) -> dict[str, Any]:
        return handler.handler(http_event(method, path, body, **overrides), FakeContext())

    return _invoke
