"""The settings loader refuses unsafe or incomplete configuration, naming the variable."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import (
    DEFAULT_FUNCTION_TIMEOUT_S,
    ConfigError,
    load_settings,
    redact_uri,
)

{%- if cookiecutter.auth_mode == "password" %}

from .conftest import TEST_SECRET_ARN
{%- endif %}

ATLAS = "mongodb+srv://cluster0.abcde.mongodb.net/"


def env(**overrides: str) -> dict[str, str]:
    base = {"MONGODB_URI": ATLAS, "MONGODB_DATABASE": "app"}
{%- if cookiecutter.auth_mode == "password" %}
    base["MONGODB_SECRET_ARN"] = TEST_SECRET_ARN
{%- endif %}
    base.update(overrides)
    return base


def test_a_plain_atlas_string_loads() -> None:
    settings = load_settings(env())
    assert settings.uri == ATLAS
    assert settings.database == "app"
    assert settings.tls is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MONGODB_URI": ""}, "MONGODB_URI is not set"),
        ({"MONGODB_URI": "postgres://x"}, "must start with"),
        (
            # pragma: allowlist nextline secret
            {"MONGODB_URI": "mongodb+srv://user:hunter2@cluster0.abcde.mongodb.net/"},
            "holds credentials",
        ),
        ({"MONGODB_URI": ATLAS + "?authMechanism=SCRAM-SHA-1"}, "authMechanism"),
        ({"MONGODB_URI": ATLAS + "?authSource=admin"}, "authSource"),
        ({"MONGODB_URI": ATLAS + "?tls=false"}, "TLS cannot be disabled"),
        ({"MONGODB_URI": ATLAS + "?ssl=false"}, "TLS cannot be disabled"),
        ({"MONGODB_URI": ATLAS + "?tlsInsecure=true"}, "weakens TLS"),
        ({"MONGODB_URI": ATLAS + "?tlsAllowInvalidCertificates=true"}, "weakens TLS"),
        ({"MONGODB_URI": ATLAS + "?tlsAllowInvalidHostnames=true"}, "weakens TLS"),
        ({"MONGODB_DATABASE": ""}, "MONGODB_DATABASE is not set"),
    ],
)
def test_unsafe_or_missing_settings_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(env(**overrides))
    assert "hunter2" not in str(raised.value)


{% if cookiecutter.auth_mode == "password" -%}
def test_password_mode_needs_the_secret_arn() -> None:
    with pytest.raises(ConfigError, match="MONGODB_SECRET_ARN"):
        load_settings(env(MONGODB_SECRET_ARN=""))


{% endif -%}
def test_function_timeout_comes_from_the_stack_or_the_answer() -> None:
    assert load_settings(env()).function_timeout_s == DEFAULT_FUNCTION_TIMEOUT_S
    assert load_settings(env(FUNCTION_TIMEOUT_S="900")).function_timeout_s == 900
    assert load_settings(env(FUNCTION_TIMEOUT_S=" 3 ")).function_timeout_s == 3


@pytest.mark.parametrize("value", ["2", "901", "15s", "1.5", "-5", "0x10", "\u0661\u0665"])
def test_a_function_timeout_outside_lambdas_range_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"FUNCTION_TIMEOUT_S .* from 3 to 900"):
        load_settings(env(FUNCTION_TIMEOUT_S=value))


def test_tls_is_forced_on_for_non_loopback_hosts() -> None:
    assert load_settings(env(MONGODB_URI="mongodb://db.internal:27017/")).tls is True
    assert load_settings(env(MONGODB_URI="mongodb://127.0.0.1:27017/")).tls is False


def test_redaction_hides_credentials_and_option_values() -> None:
    redacted = redact_uri("mongodb+srv://user:hunter2@cluster0.example.net/?appName=secretish")
    assert "hunter2" not in redacted
    assert "user" not in redacted
    assert "secretish" not in redacted
    assert "cluster0.example.net" in redacted


def test_repr_never_shows_the_uri() -> None:
    settings = load_settings(env(MONGODB_URI=ATLAS + "?appName=visible-value"))
    assert "visible-value" not in repr(settings)
