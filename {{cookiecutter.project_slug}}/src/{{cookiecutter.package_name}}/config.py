"""Environment variables -> one frozen, validated :class:`Settings` object.

The loader refuses what would make the connection unsafe or fragile (credentials
or auth parameters in the URI, TLS switched off) with an error that names the
variable and never echoes a secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

AuthMode = Literal["iam", "password"]
Topology = Literal["replica_set", "sharded"]

# Fixed when the project was generated; change them with the template, not here.
AUTH_MODE: AuthMode = "{{ cookiecutter.auth_mode }}"
CLUSTER_TOPOLOGY: Topology = "{{ cookiecutter.cluster_topology }}"
DEFAULT_APP_NAME = "{{ cookiecutter.project_slug }}"
# The stacks set FUNCTION_TIMEOUT_S to the function's timeout; local runs use the answer.
DEFAULT_FUNCTION_TIMEOUT_S = {{ cookiecutter.lambda_timeout_s | int }}
FUNCTION_TIMEOUT_RANGE_S = (3, 900)

# URI options that belong to the client module, not to the connection string:
# the module sets the auth mechanism itself (DESIGN: MONGODB_URI is the plain
# string Atlas shows).
AUTH_OPTIONS = frozenset({"authmechanism", "authsource", "authmechanismproperties"})
# Options that weaken TLS; refused whatever their value.
INSECURE_TLS_OPTIONS = frozenset(
    {
        "tlsinsecure",
        "tlsallowinvalidcertificates",
        "tlsallowinvalidhostnames",
        "tlsdisableocspendpointcheck",
        "tlsdisablecertificaterevocationcheck",
    }
)
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class ConfigError(ValueError):
    """A setting is missing or unsafe. The message names the variable."""


class DatabaseConfigError(RuntimeError):
    """The database cannot be reached as configured; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    uri: str
    database: str
{%- if cookiecutter.auth_mode == "password" %}
    secret_arn: str
{%- endif %}
    app_name: str
    topology: Topology
    function_timeout_s: int
    is_srv: bool
    loopback_only: bool

    def __repr__(self) -> str:  # the URI never reaches a log through repr()
        return (
            f"Settings(uri={redact_uri(self.uri)!r}, database={self.database!r}, "
            f"app_name={self.app_name!r})"
        )

    @property
    def tls(self) -> bool:
        """TLS is on for every real deployment; only a loopback stand-in runs without it."""
        return self.is_srv or not self.loopback_only


def redact_uri(uri: str) -> str:
    """The URI with any user info and every option value removed."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable connection string>"
    hosts = parts.netloc.rpartition("@")[2]
    user = "<redacted>@" if "@" in parts.netloc else ""
    options = "&".join(f"{key}=..." for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{user}{hosts}{parts.path or '/'}" + (f"?{options}" if options else "")


def _is_loopback(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_uri(uri: str) -> tuple[bool, bool]:
    """Validate MONGODB_URI; return (is_srv, every host is loopback)."""
    if not uri:
        raise ConfigError("MONGODB_URI is not set: set it to the connection string Atlas shows")
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ConfigError("MONGODB_URI is not a valid connection string") from None
    if parts.scheme not in {"mongodb", "mongodb+srv"}:
        raise ConfigError(
            f"MONGODB_URI ({redact_uri(uri)}) must start with mongodb+srv:// or mongodb://"
        )
    if "@" in parts.netloc:
        raise ConfigError(
            f"MONGODB_URI ({redact_uri(uri)}) holds credentials; remove them: "
{%- if cookiecutter.auth_mode == "iam" %}
            "the function authenticates with its IAM role"
{%- else %}
            "the password is read from MONGODB_SECRET_ARN"
{%- endif %}
        )
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = key.lower()
        if name in AUTH_OPTIONS:
            raise ConfigError(
                f"MONGODB_URI ({redact_uri(uri)}) sets {key}; remove it: the client module "
                "chooses the auth mechanism itself"
            )
        if name in INSECURE_TLS_OPTIONS:
            raise ConfigError(
                f"MONGODB_URI ({redact_uri(uri)}) sets {key}, which weakens TLS; remove it"
            )
        if name in {"tls", "ssl"} and value.lower() in FALSE_WORDS:
            raise ConfigError(
                f"MONGODB_URI ({redact_uri(uri)}) sets {key}={value}; TLS cannot be disabled"
            )
    hosts = [h for h in parts.netloc.split(",") if h]
    if not hosts:
        raise ConfigError(f"MONGODB_URI ({redact_uri(uri)}) names no host")
    return parts.scheme == "mongodb+srv", all(_is_loopback(h) for h in hosts)


def _function_timeout_s(env: Mapping[str, str]) -> int:
    raw = env.get("FUNCTION_TIMEOUT_S", "").strip()
    if not raw:
        return DEFAULT_FUNCTION_TIMEOUT_S
    low, high = FUNCTION_TIMEOUT_RANGE_S
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not low <= int(raw) <= high:
        raise ConfigError(
            f"FUNCTION_TIMEOUT_S ({raw[:16]!r}) must be the function's timeout: "
            f"a whole number of seconds from {low} to {high}"
        )
    return int(raw)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    uri = env.get("MONGODB_URI", "").strip()
    is_srv, loopback_only = _check_uri(uri)
    database = env.get("MONGODB_DATABASE", "").strip()
    if not database:
        raise ConfigError("MONGODB_DATABASE is not set: set it to the database name, e.g. app")
{%- if cookiecutter.auth_mode == "password" %}
    secret_arn = env.get("MONGODB_SECRET_ARN", "").strip()
    if not secret_arn:
        raise ConfigError(
            "MONGODB_SECRET_ARN is not set: set it to the ARN of the Secrets Manager secret "
            'that holds {"username": ..., "password": ...}'
        )
{%- endif %}
    return Settings(
        uri=uri,
        database=database,
{%- if cookiecutter.auth_mode == "password" %}
        secret_arn=secret_arn,
{%- endif %}
        app_name=env.get("AWS_LAMBDA_FUNCTION_NAME") or DEFAULT_APP_NAME,
        topology=CLUSTER_TOPOLOGY,
        function_timeout_s=_function_timeout_s(env),
        is_srv=is_srv,
        loopback_only=loopback_only,
    )
