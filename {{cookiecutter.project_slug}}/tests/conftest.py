"""Fixtures: a stand-in Atlas node on loopback, a fresh "Lambda container" per test, and
what the function writes to stdout, read back as CloudWatch would get it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aws_lambda_powertools.logging.logger as powertools_logger
{% if cookiecutter.auth_mode == "password" %}import boto3
import pytest
from moto import mock_aws
{% else %}import pytest
{% endif %}
from {{ cookiecutter.package_name }} import config, handler, mongo
{%- if cookiecutter.auth_mode == "password" %}
from {{ cookiecutter.package_name }}.secret import Credentials, read_secret
{%- endif %}
from local.standin import StandIn, Topology

FUNCTION_NAME = "{{ cookiecutter.project_slug }}-fn"
REGION = "{{ cookiecutter.aws_region }}"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
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
{%- if cookiecutter.auth_mode == "password" %}
# pragma: allowlist nextline secret
TEST_SECRET_ARN = "arn:aws:secretsmanager:{{ cookiecutter.aws_region }}:123456789012:secret:db"
SECRET_NAME = "{{ cookiecutter.project_slug }}/mongodb"  # pragma: allowlist secret
{%- endif %}
DB_USER = "app-user"
DB_PASSWORD = "first-password-0123456789"  # pragma: allowlist secret
TOPOLOGY: Topology = "sharded" if config.CLUSTER_TOPOLOGY == "sharded" else "replica_set"


@dataclass
class FakeContext:
    """The part of the Lambda context the handler and Powertools read."""

    remaining_ms: int = config.DEFAULT_FUNCTION_TIMEOUT_S * 1000
    function_name: str = FUNCTION_NAME
    memory_limit_in_mb: int = {{ cookiecutter.lambda_memory_mb | int }}
    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(method: str, path: str, body: Any = None, **overrides: Any) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, with a request id of its own."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": f"req-{uuid.uuid4().hex[:12]}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    event.update(overrides)
    return event


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, whatever its case (HTTP header names are case-insensitive)."""
    found = {key.lower(): value for key, value in response.get("headers", {}).items()}
    return found.get(name.lower())


Invoke = Callable[..., dict[str, Any]]


@dataclass
class CloudWatch:
    """What the function wrote to stdout, which Lambda sends to CloudWatch Logs: one JSON
    log line and one EMF metrics blob per invocation, and nothing that is not JSON."""

    capsys: pytest.CaptureFixture[str]
    written: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> list[dict[str, Any]]:
        out = self.capsys.readouterr().out
        self.written += out
        for line in out.splitlines():
            if line.strip():
                self.records.append(json.loads(line))  # fails on anything but JSON
        return self.records

    @property
    def text(self) -> str:
        """Everything written so far, as text."""
        self.read()
        return self.written

    def logs(self) -> list[dict[str, Any]]:
        return [r for r in self.read() if "level" in r]

    def access_logs(self) -> list[dict[str, Any]]:
        """The one line per invocation that says what was served."""
        return [r for r in self.logs() if "status" in r]

    def metrics(self) -> list[dict[str, float]]:
        """Per invocation: each metric's value, from the EMF blob."""
        blobs = [r for r in self.read() if "_aws" in r]
        found = []
        for blob in blobs:
            (directive,) = blob["_aws"]["CloudWatchMetrics"]
            names = [m["Name"] for m in directive["Metrics"]]
            found.append({name: sum(blob[name]) for name in names})
        return found


@pytest.fixture
def cloudwatch(capsys: pytest.CaptureFixture[str]) -> CloudWatch:
    capsys.readouterr()  # start from this test's output
    return CloudWatch(capsys)


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment Lambda gives the function (no real credentials)."""
    for name, value in LAMBDA_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MONGODB_DATABASE", DATABASE)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("FUNCTION_TIMEOUT_S", raising=False)
{%- if cookiecutter.auth_mode == "password" %}
    monkeypatch.delenv("MONGODB_SECRET_ARN", raising=False)
{%- endif %}
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


@pytest.fixture
def new_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next invocation is a container's first: Powertools flags it as a cold start."""
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)


{% if cookiecutter.auth_mode == "password" %}@dataclass
class SecretStore:
    """The function's Secrets Manager secret (moto), with a count of reads."""

    arn: str
    reads: int = 0

    def put(self, username: str, password: str) -> None:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=self.arn, SecretString=json.dumps({"username": username, "password": password})
        )

    def reader(self, arn: str) -> Credentials:
        """The container's secret reader: the real one, counted."""
        self.reads += 1
        return read_secret(arn)


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
    new_container: None,
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
    lambda_env: dict[str, str],
    standin: StandIn,
    new_container: None,
    monkeypatch: pytest.MonkeyPatch,
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
        response: dict[str, Any] = handler.handler(
            http_event(method, path, body, **overrides), FakeContext()
        )
        return response

    return _invoke
