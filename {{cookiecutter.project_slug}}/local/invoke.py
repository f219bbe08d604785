"""Run the handler on ``events/*.json`` the way Lambda would, in one warm container.

With ``MONGODB_URI`` set, the events go to that deployment.  Without it, an
embedded stand-in server (wire protocol on loopback, real CRUD semantics) plays
Atlas, and the report shows connection reuse: each invocation's latency and the
sockets the server saw.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.standin import StandIn

EVENTS = Path(__file__).resolve().parent.parent / "events"
ITEM_ID_PLACEHOLDER = "{item_id}"
# create_item before get_item, so get_item can fetch what was just created.
EVENT_ORDER = {"health": 0, "create_item": 1, "get_item": 2}
DEFAULT_DATABASE = {{ cookiecutter.database_name | tojson }}
# pragma: allowlist nextline secret
LOCAL_SECRET_ARN = "arn:aws:secretsmanager:{{ cookiecutter.aws_region }}:000000000000:secret:local-standin"
# Throwaway credentials for signing the MONGODB-AWS conversation with the stand-in.
LOCAL_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-stand-in-key-id",
    "AWS_SECRET_ACCESS_KEY": "local-stand-in-not-a-secret",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "local-stand-in-session",
}


@dataclass
class FakeContext:
    """The parts of the Lambda context object the handler reads."""

    timeout_s: float
    function_name: str = "local-invoke"
    aws_request_id: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_events(names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    paths = [EVENTS / f"{n}.json" for n in names] if names else sorted(EVENTS.glob("*.json"))
    ordered = sorted(paths, key=lambda p: EVENT_ORDER.get(p.stem, len(EVENT_ORDER)))
    return [(p.stem, json.loads(p.read_text())) for p in ordered]


def start_standin(stack: ExitStack) -> StandIn | None:
    """Start the stand-in unless MONGODB_URI points at a real deployment.

    The stand-in checks the same authentication the function uses: the
    MONGODB-AWS conversation (signed with throwaway local credentials, so no
    real AWS credentials ever reach it), or SCRAM-SHA-256 with a throwaway user
    (standing in for the Secrets Manager secret).
    """
    if os.environ.get("MONGODB_URI"):
        return None
    from {{ cookiecutter.package_name }} import config, mongo

    os.environ.setdefault("MONGODB_DATABASE", DEFAULT_DATABASE)
    if config.AUTH_MODE == "iam":
        os.environ.update(LOCAL_AWS_CREDENTIALS)
        server = stack.enter_context(StandIn(auth="iam"))
    else:
        credentials = mongo.Credentials("local-user", secrets.token_urlsafe(24))
        server = stack.enter_context(
            StandIn(auth="password", users={credentials.username: credentials.password})
        )
        os.environ["MONGODB_SECRET_ARN"] = LOCAL_SECRET_ARN
        mongo.reset_for_tests(mongo.ClientHolder(secret_reader=lambda arn: credentials))
    os.environ["MONGODB_URI"] = server.uri
    print(f"stand-in server on {server.address} (auth: {server.auth})")
    return server


def text_of(result: dict[str, Any]) -> str:
    return str(result["body"])[:60]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("events", nargs="*", help="event names under events/ (default: all)")
    parser.add_argument("--repeat", type=int, default=2, help="invocations per event (default 2)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        server = start_standin(stack)
        from {{ cookiecutter.package_name }} import config, handler

        last_id = ""
        print(f"{'event':<12} {'call':>4} {'status':>6} {'ms':>8} {'sockets':>8}  body")
        for name, event in load_events(args.events):
            for call in range(1, args.repeat + 1):
                text = json.dumps(event).replace(ITEM_ID_PLACEHOLDER, last_id or "0" * 24)
                started = time.perf_counter()
                result = handler.handler(json.loads(text), FakeContext(config.FUNCTION_TIMEOUT_S))
                elapsed = (time.perf_counter() - started) * 1000
                body = json.loads(result["body"])
                if isinstance(body, dict) and result["statusCode"] == 201:
                    last_id = str(body.get("id", ""))
                sockets = str(len(server.ports())) if server else "-"
                status = result["statusCode"]
                timing = f"{status:>6} {elapsed:>8.2f} {sockets:>8}"
                print(f"{name:<12} {call:>4} {timing}  {text_of(result)}")
        if server is not None:
            print(
                f"sockets the server saw: {len(server.ports())} "
                f"({len(server.app_ports())} for commands, the rest for monitoring); "
                "every invocation after the first reused them"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
