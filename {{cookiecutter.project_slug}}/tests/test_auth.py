{%- if cookiecutter.auth_mode == "iam" -%}
"""IAM authentication: the server sees MONGODB-AWS, signed with the execution role's credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from {{ cookiecutter.package_name }} import config, mongo
from local.standin import StandIn

from .conftest import LAMBDA_ENV, CloudWatch, Invoke

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def expected_signature(authorization: str, amz_date: str, server_nonce: bytes) -> str:
    """Recompute the SigV4 signature of the GetCallerIdentity request independently."""
    credential = re.search(r"Credential=([^,]+)", authorization)
    signed = re.search(r"SignedHeaders=([^,]+)", authorization)
    assert credential, authorization
    assert signed, authorization
    key_id, date, region, service, terminator = credential[1].split("/")
    assert (key_id, service, terminator) == (LAMBDA_ENV["AWS_ACCESS_KEY_ID"], "sts", "aws4_request")
    values = {
        "content-length": str(len(STS_BODY)),
        "content-type": "application/x-www-form-urlencoded",
        "host": "sts.amazonaws.com",
        "x-amz-date": amz_date,
        "x-amz-security-token": LAMBDA_ENV["AWS_SESSION_TOKEN"],
        "x-mongodb-gs2-cb-flag": "n",
        "x-mongodb-server-nonce": base64.b64encode(server_nonce).decode(),
    }
    names = signed[1].split(";")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{values[name]}\n" for name in names),
            signed[1],
            hashlib.sha256(STS_BODY.encode()).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/{terminator}"
    canonical_hash = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{canonical_hash}"
    key = ("AWS4" + LAMBDA_ENV["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (date, region, service, terminator):
        key = hmac.digest(key, part.encode(), "sha256")
    return hmac.new(key, to_sign.encode(), "sha256").hexdigest()


def test_server_sees_a_signed_mongodb_aws_conversation(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    starts = container.commands("saslStart")
    assert starts, "no authentication happened"
    assert starts[0].doc["mechanism"] == "MONGODB-AWS"
    assert starts[0].database == "$external"
    conversation = container.aws_conversations[0]
    assert len(conversation["client_first"]["r"]) == 32  # the client nonce
    assert conversation["client_first"]["p"] == 110  # GS2 flag "n": no channel binding
    second = conversation["client_second"]
    assert second["t"] == LAMBDA_ENV["AWS_SESSION_TOKEN"]  # the role's session token
    authorization = second["a"]
    assert "x-amz-security-token" in authorization
    assert authorization.endswith(
        "Signature=" + expected_signature(authorization, second["d"], conversation["server_nonce"])
    )


def test_no_credentials_anywhere_in_configuration(container: StandIn, invoke: Invoke) -> None:
    invoke("GET", "/health")
    settings = config.load_settings()
    assert "@" not in settings.uri
    options = mongo.client_options(settings)
    assert options["authMechanism"] == "MONGODB-AWS"
    assert options["authSource"] == "$external"
    assert not {"username", "password"} & set(options)


def test_authentication_happens_once_per_socket_not_per_invocation(
    container: StandIn, invoke: Invoke
) -> None:
    for _ in range(20):
        assert invoke("GET", "/health")["statusCode"] == 200
    assert len(container.commands("saslStart")) == len(container.app_ports()) == 1


def test_role_not_registered_in_atlas_is_a_clear_error(
    container: StandIn, invoke: Invoke, cloudwatch: CloudWatch, caplog: pytest.LogCaptureFixture
) -> None:
    container.auth = "password"  # the server now refuses every MONGODB-AWS conversation
    response = invoke("GET", "/health")
    assert response["statusCode"] == 500
    errors = [line for line in cloudwatch.logs() if line["level"] == "ERROR"]
    assert errors
    assert "IAM role" in errors[0]["message"]
    for text in (cloudwatch.text, caplog.text):
        assert LAMBDA_ENV["AWS_SECRET_ACCESS_KEY"] not in text
        assert LAMBDA_ENV["AWS_SESSION_TOKEN"] not in text
{%- else -%}
"""Password authentication: SCRAM-SHA-256, the secret read once per container, rotation."""

from __future__ import annotations

import logging

import pytest
from moto import mock_aws

from {{ cookiecutter.package_name }} import mongo
from {{ cookiecutter.package_name }}.config import DatabaseConfigError
from local.standin import StandIn

from .conftest import DB_PASSWORD, DB_USER, CloudWatch, Invoke, SecretStore


def test_server_sees_scram_sha_256_for_the_secret_user(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    starts = container.commands("saslStart")
    assert [s.doc["mechanism"] for s in starts] == ["SCRAM-SHA-256"]
    assert starts[0].database == "admin"
    assert f"n={DB_USER}".encode() in bytes(starts[0].doc["payload"])


def test_secret_is_read_once_per_container(
    container: StandIn, invoke: Invoke, secret_store: SecretStore
) -> None:
    for _ in range(25):
        assert invoke("GET", "/health")["statusCode"] == 200
    assert secret_store.reads == 1


def test_secret_never_reaches_the_logs(
    container: StandIn,
    invoke: Invoke,
    secret_store: SecretStore,
    cloudwatch: CloudWatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    invoke("GET", "/health")
    container.set_password(DB_USER, "rotated-on-the-server-only")
    container.drop_connections()  # new sockets authenticate again, and are refused
    assert invoke("GET", "/health")["statusCode"] == 500  # logs a warning and an error
    assert {"WARNING", "ERROR"} <= {line["level"] for line in cloudwatch.logs()}
    for text in (cloudwatch.text, caplog.text):
        assert DB_PASSWORD not in text
        assert "rotated-on-the-server-only" not in text
        assert container.uri not in text


def test_rotated_password_rebuilds_the_client_once(
    container: StandIn, invoke: Invoke, secret_store: SecretStore
) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    old_client = mongo.get_client()
    # Rotation: Secrets Manager and Atlas get the new password; the container still has the old.
    secret_store.put(DB_USER, "second-password-9876543210")
    container.set_password(DB_USER, "second-password-9876543210")
    container.drop_connections()  # new sockets must authenticate again
    assert invoke("POST", "/items", {"after": "rotation"})["statusCode"] == 201
    assert secret_store.reads == 2
    assert mongo.get_client() is not old_client
    for _ in range(5):
        assert invoke("GET", "/health")["statusCode"] == 200
    assert secret_store.reads == 2


def test_wrong_secret_fails_clearly_without_a_loop(
    container: StandIn,
    invoke: Invoke,
    secret_store: SecretStore,
    cloudwatch: CloudWatch,
) -> None:
    secret_store.put(DB_USER, "not-the-password")
    response = invoke("GET", "/health")
    assert response["statusCode"] == 500
    assert "database configuration error" in response["body"]
    assert secret_store.reads == 2  # the first read, and exactly one fresh read after the refusal
    assert len(container.commands("saslStart")) == 2
    assert "rejected the password" in cloudwatch.text
    assert "not-the-password" not in cloudwatch.text


def test_unreachable_secrets_manager_is_a_clear_error(
    lambda_env: dict[str, str],
    standin: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MONGODB_URI", standin.uri)
    monkeypatch.setenv(
        "MONGODB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"
    )
    with mock_aws():
        holder = mongo.ClientHolder()
        with pytest.raises(DatabaseConfigError, match="cannot read secret"):
            holder.client()
{%- endif %}
