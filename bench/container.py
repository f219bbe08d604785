"""One measured "Lambda container": a fresh process that runs one scenario and reports it.

bench/measure.py starts this script once per sample, on an interpreter that
holds what a deployed function has (the package's dependencies and the
runtime's boto3), with the generated project's ``src`` on PYTHONPATH and the
stand-in server's address in MONGODB_URI.  It prints ``RESULT <json>`` last.

Scenarios:

``floor-import``          ``import pymongo``, nothing else (the cold-start floor)
``cold``                  import the handler module and initialise: build the client
                          (IAM: also the imports the first MONGODB-AWS authentication makes)
``first``                 import the handler, then its first ``GET /health``
``naive-first``           the same with bench/naive.py
``serve`` / ``naive-serve`` / ``ping-serve``
                          first call, print READY, wait for a line on stdin, then
                          BENCH_CALLS timed calls, print RESULT, wait for a line, exit;
                          ``ping-serve`` is a bare ``db.command("ping")`` on one client
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

# Modules the interpreter has loaded already; `typing` is left to what is measured.
import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AUTH = os.environ["BENCH_AUTH"]  # "iam" or "password"
PACKAGE = os.environ.get("BENCH_PACKAGE", "")


class FakeContext:
    """The part of the Lambda context object the handler reads."""

    def __init__(self, timeout_s: float = 15.0) -> None:
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_logging() -> None:
    """A root handler, as the Lambda runtime installs before it loads the function."""
    import logging

    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.WARNING)  # noqa: SIM115


def load_product() -> tuple[Any, Any]:
    """Import the generated handler; in password mode, read the secret from the environment.

    BENCH_SECRET_READER=real keeps the real Secrets Manager reader (pointed at a
    loopback endpoint by AWS_ENDPOINT_URL_SECRETS_MANAGER)."""
    handler = importlib.import_module(f"{PACKAGE}.handler")
    mongo = sys.modules[f"{PACKAGE}.mongo"]
    if AUTH == "password" and os.environ.get("BENCH_SECRET_READER") != "real":
        credentials = mongo.Credentials(
            os.environ["BENCH_DB_USER"], os.environ["BENCH_DB_PASSWORD"]
        )
        mongo.reset_for_tests(mongo.ClientHolder(secret_reader=lambda arn: credentials))
    return handler, mongo


def load_event() -> dict[str, Any]:
    import json

    with open(os.environ["BENCH_EVENT"]) as file:
        event: dict[str, Any] = json.load(file)
    return event


def ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def percentile(sorted_samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, -(-len(sorted_samples) * q // 100))
    return sorted_samples[int(rank) - 1]


def floor_import() -> dict[str, Any]:
    t0 = time.perf_counter()
    import pymongo  # noqa: F401

    return {"ms": ms(time.perf_counter() - t0)}


def cold() -> dict[str, Any]:
    t0 = time.perf_counter()
    _, mongo = load_product()
    t1 = time.perf_counter()
    if AUTH == "iam":
        # What pymongo imports on the first MONGODB-AWS authentication (boto3 among them).
        import pymongo.synchronous.auth_aws  # noqa: F401
        import pymongo_auth_aws  # noqa: F401
    t2 = time.perf_counter()
    mongo.get_client()
    t3 = time.perf_counter()
    return {
        "ms": ms(t3 - t0),
        "import_ms": ms(t1 - t0),
        "auth_import_ms": ms(t2 - t1),
        "client_ms": ms(t3 - t2),
    }


def first(naive: bool) -> dict[str, Any]:
    lambda_logging()
    event = load_event()
    t0 = time.perf_counter()
    if naive:
        handler = importlib.import_module("naive")
    else:
        handler, _ = load_product()
    t1 = time.perf_counter()
    status = handler.handler(event, FakeContext())["statusCode"]
    t2 = time.perf_counter()
    return {"ms": ms(t2 - t1), "import_ms": ms(t1 - t0), "total_ms": ms(t2 - t0), "status": status}


def serve(kind: str, calls: int) -> dict[str, Any]:
    lambda_logging()
    event = load_event()
    if kind == "ping-serve":
        import naive
        from pymongo import MongoClient

        client: Any = MongoClient(os.environ["MONGODB_URI"], **naive.auth_options())
        database = client[os.environ["MONGODB_DATABASE"]]

        def call() -> int:
            database.command("ping")
            return 200

    else:
        handler = importlib.import_module("naive") if kind == "naive-serve" else load_product()[0]

        def call() -> int:
            return int(handler.handler(event, context)["statusCode"])

    context = FakeContext()
    first_status = call()
    print("READY", flush=True)
    sys.stdin.readline()
    samples, failures = [], 0
    for _ in range(calls):
        context = FakeContext()  # made by the runtime before it calls the handler
        t0 = time.perf_counter()
        status = call()
        samples.append(time.perf_counter() - t0)
        failures += status != 200
    samples.sort()
    return {
        "first_status": first_status,
        "calls": calls,
        "failures": failures,
        "p50_ms": ms(percentile(samples, 50)) if samples else None,
        "p99_ms": ms(percentile(samples, 99)) if samples else None,
        "mean_ms": ms(sum(samples) / len(samples)) if samples else None,
    }


def main() -> int:
    scenario = sys.argv[1]
    if scenario == "floor-import":
        result = floor_import()
    elif scenario == "cold":
        result = cold()
    elif scenario in {"first", "naive-first"}:
        result = first(naive=scenario == "naive-first")
    elif scenario in {"serve", "naive-serve", "ping-serve"}:
        result = serve(scenario, int(os.environ.get("BENCH_CALLS", "0")))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    result["since_start_ms"] = ms(time.perf_counter() - STARTED)
    import json

    print("RESULT " + json.dumps(result), flush=True)
    if scenario.endswith("serve"):
        sys.stdin.readline()  # stay alive (sockets open) until the driver has counted
    # A container is frozen, not shut down: skip the interpreter's teardown (pymongo's
    # exit hooks wait for its monitor threads), which no invocation ever pays.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
