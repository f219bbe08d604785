"""The shared MongoDB client: one per Lambda container, reused by every invocation.

Every connection option lives in :func:`client_options`, each with the reason
it is set.  The handler never builds or closes a client; it calls :func:`run`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pymongo
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import AutoReconnect, OperationFailure

from .config import DatabaseConfigError, Settings, load_settings
from .driver_events import DriverEvents
{%- if cookiecutter.auth_mode == "password" %}
from .secret import Credentials, SecretReader, read_secret
{%- endif %}

log = logging.getLogger(__name__)
{%- if cookiecutter.auth_mode == "password" %}
# At DEBUG, botocore logs signed requests (session tokens included) and response
# bodies (secret values included): keep it at INFO whatever the root level is.
{%- else %}
# At DEBUG, botocore logs signed requests (session tokens included): keep it at
# INFO whatever the root level is.
{%- endif %}
logging.getLogger("botocore").setLevel(logging.INFO)

Document = dict[str, Any]

# Atlas guidance: close idle sockets before the 350 s idle drop of NAT gateways
# and PrivateLink, so a thawed container never writes into a dead socket.
MAX_IDLE_TIME_MS = 60_000
# A container serves one request at a time: one pooled socket per node is all
# it can use.  Together with the one monitor socket per node this is the
# "2 connections per container per node" of the template's connection budget.
MAX_POOL_SIZE = 1
MIN_POOL_SIZE = 0
# Sharded clusters only: connect to a few mongos, not all of them.
SRV_MAX_HOSTS = 3
# Server selection and connecting must give up well before Lambda kills the
# invocation, so the caller gets a clear error instead of a timeout.
SERVER_SELECTION_SHARE = 0.3
CONNECT_SHARE = 0.2
MAX_SERVER_SELECTION_TIMEOUT_MS = 5_000
MAX_CONNECT_TIMEOUT_MS = 3_000
MIN_TIMEOUT_MS = 200
# Each database call (server selection, connecting, authenticating, the command
# and the driver's retries) gets this share of the function timeout, capped, and
# never more than the invocation has left.  Under a deadline the driver ignores
# serverSelectionTimeoutMS, so without this cap an unreachable cluster would use
# up the whole invocation.
OPERATION_SHARE = 0.3
MAX_OPERATION_MS = 5_000
# Time kept back from each invocation's deadline to build and return a response.
# Server selection re-checks every 0.5 s, so a deadline can be overrun by that much.
RESPONSE_RESERVE_S = 0.75
AUTH_FAILED = 18
{%- if cookiecutter.auth_mode == "iam" %}
AWS_AUTH = "MONGODB-AWS"
{%- else %}
SCRAM_MECHANISM = "SCRAM-SHA-256"
{%- endif %}
# What the driver did during the current invocation (sockets opened, commands,
# errors, time), from its own monitoring events: the handler reports it as metrics.
DRIVER_EVENTS = DriverEvents()


def _bounded_ms(share: float, ceiling_ms: int, function_timeout_s: int) -> int:
    return max(MIN_TIMEOUT_MS, min(ceiling_ms, int(function_timeout_s * 1000 * share)))


{% if cookiecutter.auth_mode == "iam" -%}
def client_options(settings: Settings) -> dict[str, Any]:
{%- else -%}
def client_options(settings: Settings, credentials: Credentials) -> dict[str, Any]:
{%- endif %}
    """Every keyword the client is built with, in one place."""
    options: dict[str, Any] = {
        "appname": settings.app_name,  # shows the function in Atlas's connection list
        "maxIdleTimeMS": MAX_IDLE_TIME_MS,
        "maxPoolSize": MAX_POOL_SIZE,
        "minPoolSize": MIN_POOL_SIZE,
        # Polling monitoring keeps one socket per node (streaming would add a
        # second, RTT, socket): the connection budget counts on it.
        "serverMonitoringMode": "poll",
        "serverSelectionTimeoutMS": _bounded_ms(
            SERVER_SELECTION_SHARE, MAX_SERVER_SELECTION_TIMEOUT_MS, settings.function_timeout_s
        ),
        "connectTimeoutMS": _bounded_ms(
            CONNECT_SHARE, MAX_CONNECT_TIMEOUT_MS, settings.function_timeout_s
        ),
        # The first operation after a frozen container thaws may meet a socket
        # the network dropped: retry it once on a fresh one.
        "retryWrites": True,
        "retryReads": True,
        "tls": settings.tls,
        "event_listeners": DRIVER_EVENTS.listeners(),
{%- if cookiecutter.auth_mode == "iam" %}
        # The driver signs with the execution role's credentials, which Lambda
        # puts in the environment; nothing secret is configured here.
        "authMechanism": AWS_AUTH,
        "authSource": "$external",
{%- else %}
        "authMechanism": SCRAM_MECHANISM,
        "authSource": "admin",
        "username": credentials.username,
        "password": credentials.password,
{%- endif %}
    }
    if settings.topology == "sharded" and settings.is_srv:
        options["srvMaxHosts"] = SRV_MAX_HOSTS
    return options


class ClientHolder:
{%- if cookiecutter.auth_mode == "iam" %}
    """Owns the container's client."""

    def __init__(self, settings_loader: Callable[[], Settings] = load_settings) -> None:
        self._settings_loader = settings_loader
{%- else %}
    """Owns the container's client; rebuilds it once when a rotated password is rejected."""

    def __init__(
        self,
        settings_loader: Callable[[], Settings] = load_settings,
        secret_reader: SecretReader = read_secret,
    ) -> None:
        self._settings_loader = settings_loader
        self._secret_reader = secret_reader
{%- endif %}
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._client: MongoClient[Document] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._settings_loader()
        return self._settings

    def client(self) -> MongoClient[Document]:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
        return self._client

    def database(self) -> Database[Document]:
        return self.client()[self.settings.database]

    def _build(self) -> MongoClient[Document]:
        settings = self.settings
{%- if cookiecutter.auth_mode == "iam" %}
        return MongoClient(settings.uri, **client_options(settings))
{%- else %}
        credentials = self._secret_reader(settings.secret_arn)
        return MongoClient(settings.uri, **client_options(settings, credentials))
{%- endif %}

    def rebuild(self) -> None:
        """Drop the client{% if cookiecutter.auth_mode == "password" %} and build the next one with a freshly read secret{% else %}: the next use builds a new one{% endif %}."""
        with self._lock:
            old, self._client = self._client, None
        if old is not None:
            old.close()

    def operation_timeout_s(self) -> float:
        return (
            _bounded_ms(OPERATION_SHARE, MAX_OPERATION_MS, self.settings.function_timeout_s) / 1000
        )

    def run[T](
        self, operation: Callable[[Database[Document]], T], *, idempotent: bool = False
    ) -> T:
        """Run ``operation`` with the container's client.

        CRUD operations are retried by the driver (retryReads/retryWrites).  Plain
        commands such as ``ping`` are not: pass ``idempotent=True`` to retry those
        once after a network error.{% if cookiecutter.auth_mode == "password" %}  After a rejected password the secret is read
        again and the operation retried once.{% endif %}
        """
        try:
            return self._run_retrying_network_errors(operation, idempotent)
        except OperationFailure as exc:
            if exc.code != AUTH_FAILED:
                raise
{%- if cookiecutter.auth_mode == "iam" %}
            raise DatabaseConfigError(
                "MongoDB rejected the function's IAM role: add the execution role's ARN "
                "as an $external AWS IAM database user"
            ) from None
{%- else %}
        log.warning("MongoDB rejected the password; re-reading the secret once (rotation?)")
        self.rebuild()
        try:
            return self._run_retrying_network_errors(operation, idempotent)
        except OperationFailure as exc:
            if exc.code != AUTH_FAILED:
                raise
            self.rebuild()  # the next invocation reads the secret again
            raise DatabaseConfigError(
                "MongoDB rejected the password from MONGODB_SECRET_ARN twice: make the "
                "secret's username and password match the Atlas database user"
            ) from None
{%- endif %}

    def _run_retrying_network_errors[T](
        self, operation: Callable[[Database[Document]], T], idempotent: bool
    ) -> T:
        # Nested inside the invocation's deadline, the earlier of the two applies.
        with pymongo.timeout(self.operation_timeout_s()):
            try:
                return operation(self.database())
            except AutoReconnect as exc:
                if not idempotent or exc.timeout:
                    raise
                log.info("network error (%s); retrying the idempotent command", type(exc).__name__)
                return operation(self.database())


_holder = ClientHolder()


def get_client() -> MongoClient[Document]:
    """The container's client, created on first use."""
    return _holder.client()


def run[T](operation: Callable[[Database[Document]], T], *, idempotent: bool = False) -> T:
    """Run one database operation with the container's client (see :meth:`ClientHolder.run`)."""
    return _holder.run(operation, idempotent=idempotent)


def drop_client() -> None:
    """Close the container's client, if it has one; the next operation builds a new one{% if cookiecutter.auth_mode == "password" %}
    with a freshly read secret{% endif %}."""
    _holder.rebuild()


def reset_for_tests(holder: ClientHolder | None = None) -> ClientHolder:
    """Close the current client and start over (tests simulate a new container)."""
    global _holder  # noqa: PLW0603 - one holder per container is the point of this module
    _holder.rebuild()
    _holder = holder or ClientHolder()
    return _holder


class Clock(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def invocation_deadline(context: Clock | None) -> Iterator[float | None]:
    """Bound every operation inside by the time this invocation has left."""
    if context is None:
        yield None
        return
    budget = context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_S
    with pymongo.timeout(max(budget, 0.001)):
        yield budget
