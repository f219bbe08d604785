"""Run the handler on ``events/*.json`` the way Lambda would, in one warm container.

Without ``MONGODB_URI``, an embedded stand-in server (wire protocol on loopback,
real CRUD semantics) plays Atlas.  With it, the events go to that deployment
(``MONGODB_DATABASE`` defaults to :data:`DEFAULT_DATABASE`){% if cookiecutter.auth_mode == "password" %}; the password comes from
``MONGODB_SECRET_ARN`` if set, else from ``MONGODB_USERNAME`` and
``MONGODB_PASSWORD``, which only this local invoker reads{% else %}, authenticating with your own AWS
credentials (environment or profile) as the function does with its role{% endif %}.

Each invocation prints a row, then what CloudWatch would get from it: the
function's JSON log line and its metrics.
"""

from __future__ import annotations

import argparse
import io
import json
import os
{%- if cookiecutter.auth_mode == "password" %}
import secrets
{%- endif %}
import sys
import time
import uuid
from contextlib import ExitStack, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

{% if cookiecutter.auth_mode == "password" -%}
from {{ cookiecutter.package_name }}.secret import Credentials
{% endif -%}
from local.standin import StandIn

EVENTS = Path(__file__).resolve().parent.parent / "events"
# create_item before get_item, so get_item can fetch what was just created.
EVENT_ORDER = {"health": 0, "create_item": 1, "get_item": 2}
DEFAULT_DATABASE = {{ cookiecutter.database_name | tojson }}
REGION = "{{ cookiecutter.aws_region }}"
{%- if cookiecutter.auth_mode == "password" %}
# Stands for the Secrets Manager secret when the password comes from elsewhere.
# pragma: allowlist nextline secret
LOCAL_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:000000000000:secret:local"
{%- else %}
# Throwaway credentials for signing the MONGODB-AWS conversation with the stand-in.
LOCAL_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-stand-in-key-id",
    "AWS_SECRET_ACCESS_KEY": "local-stand-in-not-a-secret",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "local-stand-in-session",
}
{%- endif %}


@dataclass
class FakeContext:
    """The parts of the Lambda context object the handler and Powertools read."""

    timeout_s: float
    function_name: str = "local-invoke"
    memory_limit_in_mb: int = {{ cookiecutter.lambda_memory_mb | int }}
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:000000000000:function:local-invoke"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One call: the answer, and what the function wrote for CloudWatch."""

    name: str
    call: int
    status: int
    ms: float
    body: str
    log_line: dict[str, Any]
    metrics: dict[str, float]
    sockets: int | None  # seen by the stand-in so far; None against a real deployment

    def row(self) -> str:
        sockets = "-" if self.sockets is None else str(self.sockets)
        new = int(self.metrics.get("ConnectionsCreated", 0))
        start = "cold" if self.log_line.get("cold_start") else "warm"
        return (
            f"{self.name:<12} {self.call:>4} {self.status:>6} {self.ms:>8.2f} {sockets:>7}"
            f" {new:>4}  {start}  {self.body}"
        )


def load_events(names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    paths = [EVENTS / f"{n}.json" for n in names] if names else sorted(EVENTS.glob("*.json"))
    ordered = sorted(paths, key=lambda p: EVENT_ORDER.get(p.stem, len(EVENT_ORDER)))
    return [(p.stem, json.loads(p.read_text())) for p in ordered]


def with_item_id(event: dict[str, Any], item_id: str) -> dict[str, Any]:
    """``events/get_item.json`` names an id no database holds; ask for the one just created."""
    path = f"/items/{item_id}"
    event = {**event, "rawPath": path, "pathParameters": {"id": item_id}}
    event["requestContext"] = {
        **event["requestContext"],
        "http": {**event["requestContext"]["http"], "path": path},
    }
    return event


def start_standin(stack: ExitStack) -> StandIn | None:
    """Start the stand-in unless MONGODB_URI points at a real deployment.

    The stand-in checks the same authentication the function uses: the
    MONGODB-AWS conversation (signed with throwaway local credentials, so no
    real AWS credentials ever reach it), or SCRAM-SHA-256 with a throwaway user
    (standing in for the Secrets Manager secret).
    """
    from {{ cookiecutter.package_name }} import mongo

    os.environ.setdefault("MONGODB_DATABASE", DEFAULT_DATABASE)
{%- if cookiecutter.auth_mode == "password" %}
    if os.environ.get("MONGODB_URI"):
        if not os.environ.get("MONGODB_SECRET_ARN"):
            credentials = local_credentials()
            os.environ["MONGODB_SECRET_ARN"] = LOCAL_SECRET_ARN
            mongo.reset_for_tests(mongo.ClientHolder(secret_reader=lambda arn: credentials))
        return None
    credentials = Credentials("local-user", secrets.token_urlsafe(24))
    server = stack.enter_context(
        StandIn(auth="password", users={credentials.username: credentials.password})
    )
    os.environ["MONGODB_SECRET_ARN"] = LOCAL_SECRET_ARN
    mongo.reset_for_tests(mongo.ClientHolder(secret_reader=lambda arn: credentials))
{%- else %}
    if os.environ.get("MONGODB_URI"):
        return None
    os.environ.update(LOCAL_AWS_CREDENTIALS)
    server = stack.enter_context(StandIn(auth="iam"))
    mongo.reset_for_tests()
{%- endif %}
    os.environ["MONGODB_URI"] = server.uri
    print(f"stand-in server on {server.address} (auth: {server.auth})")
    return server
{%- if cookiecutter.auth_mode == "password" %}


def local_credentials() -> Credentials:
    """The database user from MONGODB_USERNAME / MONGODB_PASSWORD (local runs only)."""
    username = os.environ.get("MONGODB_USERNAME", "")
    password = os.environ.get("MONGODB_PASSWORD", "")
    if not (username and password):
        raise SystemExit(
            "MONGODB_URI is set: set MONGODB_SECRET_ARN to read the password from Secrets "
            "Manager, or MONGODB_USERNAME and MONGODB_PASSWORD (read only by this local invoker)"
        )
    return Credentials(username, password)
{%- endif %}


def invoke(
    name: str, call: int, event: dict[str, Any], timeout_s: float, server: StandIn | None
) -> Invocation:
    from {{ cookiecutter.package_name }} import handler

    event = json.loads(json.dumps(event))  # each invocation gets its own copy
    event["requestContext"]["requestId"] = f"local-{uuid.uuid4().hex[:12]}"
    written = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(written):
        result = handler.handler(event, FakeContext(timeout_s))
    elapsed = (time.perf_counter() - started) * 1000
    lines = [json.loads(line) for line in written.getvalue().splitlines() if line.strip()]
    log_line: dict[str, Any] = next((line for line in lines if "status" in line), {})
    blob: dict[str, Any] = next((line for line in lines if "_aws" in line), {})
    metrics = {name: sum(blob[name]) for name in blob if isinstance(blob[name], list)}
    return Invocation(
        name=name,
        call=call,
        status=int(result["statusCode"]),
        ms=elapsed,
        body=str(result.get("body", "")),
        log_line=log_line,
        metrics=metrics,
        sockets=len(server.ports()) if server else None,
    )


def closing(invocations: list[Invocation], server: StandIn | None) -> str:
    """What the counts say about connection reuse, in one sentence."""
    first, rest = invocations[0], invocations[1:]
    opened_first = int(first.metrics.get("ConnectionsCreated", 0))
    opened_later = int(sum(i.metrics.get("ConnectionsCreated", 0) for i in rest))
    seen = ""
    if server is not None:
        seen = (
            f"sockets the server saw: {len(server.ports())} "
            f"({len(server.app_ports())} for commands, the rest for monitoring); "
        )
    if not rest:
        return f"{seen}the first invocation opened {opened_first} connection(s)"
    if opened_later == 0:
        return (
            f"{seen}the first invocation opened {opened_first} connection(s) and "
            f"the {len(rest)} after it opened none: every one reused them"
        )
    return (
        f"{seen}{opened_later} connection(s) opened after the first invocation "
        "(ConnectionsCreated above 0 when warm): sockets dropped while idle, or a client "
        "built per invocation"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("events", nargs="*", help="event names under events/ (default: all)")
    parser.add_argument("--repeat", type=int, default=2, help="invocations per event (default 2)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        server = start_standin(stack)
        from {{ cookiecutter.package_name }} import config

        timeout_s = config.load_settings().function_timeout_s
        created_id = ""
        done: list[Invocation] = []
        print(
            f"{'event':<12} {'call':>4} {'status':>6} {'ms':>8} {'sockets':>7} {'new':>4}"
            "  start body"
        )
        for name, sample in load_events(args.events):
            wanted = created_id if name == "get_item" else ""
            event = with_item_id(sample, wanted) if wanted else sample
            for call in range(1, args.repeat + 1):
                done.append(invoke(name, call, event, timeout_s, server))
                print(done[-1].row())
                print(f"    log      {json.dumps(done[-1].log_line, separators=(',', ':'))}")
                shown = " ".join(f"{k}={v:g}" for k, v in done[-1].metrics.items())
                print(f"    metrics  {shown}")
                if done[-1].status == 201:
                    created_id = str(json.loads(done[-1].body).get("id", ""))
        if done:
            print(closing(done, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
