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
``restore``               SnapStart: import, before-snapshot hooks (untimed), then the
                          after-restore hooks and the first ``GET /health``, timed
``provisioned``           provisioned concurrency: INIT connects (untimed), then the first
                          ``GET /health`` and the median of 21 more, timed
``keyed``                 import the handler, a first ``GET /health``, then ``POST /items``
                          three ways, timed: with an Idempotency-Key (the container's
                          first: imports the idempotency module, creates the TTL index),
                          with another key, without a key
``serve``                 BENCH_KINDS, among ``product`` (the handler), ``resolver``
                          (the handler's routing and database work without its logging
                          and metrics: ``handler.serve``), ``naive``, ``ping`` (a bare
                          ``db.command("ping")`` on a connected client) and
                          ``ping_events`` (the same on a client with the project's
                          driver-event listeners), ``baseline`` (the handler before
                          Powertools); kinds alternate in blocks: a first
                          call each, print READY, wait for a line on stdin,
                          BENCH_CALLS timed calls each, print RESULT, wait for a line, exit

The function's own output (its JSON log lines and EMF metrics, one of each per
invocation) goes to a file, as Lambda sends stdout to its log pipe; the protocol
lines above go to the original stdout.
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
BLOCK = 50  # warm calls in a row of one kind before the other kind's turn
PACKAGE = os.environ.get("BENCH_PACKAGE", "")
# The same service as generated before Powertools (BASELINE_REF in bench/run.py), under
# another package name so both can serve in one container.
BASELINE_PACKAGE = os.environ.get("BENCH_BASELINE_PACKAGE", "")


class FakeContext:
    """The part of the Lambda context object the handler and Powertools read."""

    function_name = "bench-fn"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench-fn"
    aws_request_id = "bench-request"

    def __init__(self, timeout_s: float = 15.0) -> None:
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


PROTOCOL = sys.stdout  # READY and RESULT lines for bench/measure.py


def lambda_logging() -> None:
    """A root handler, as the Lambda runtime installs before it loads the function, and
    the function's stdout to a file (Lambda: its log pipe), one write per line."""
    import logging
    import tempfile

    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.WARNING)  # noqa: SIM115
    sys.stdout = tempfile.TemporaryFile("w", buffering=1)  # noqa: SIM115 - until exit


def load_product(package: str = PACKAGE) -> tuple[Any, Any]:
    """Import the generated handler; in password mode, read the secret from the environment.

    BENCH_SECRET_READER=real keeps the real Secrets Manager reader (pointed at a
    loopback endpoint by AWS_ENDPOINT_URL_SECRETS_MANAGER)."""
    handler = importlib.import_module(f"{package}.handler")
    mongo = sys.modules[f"{package}.mongo"]
    if AUTH == "password" and os.environ.get("BENCH_SECRET_READER") != "real":
        # Credentials live in secret.py (mongo.py before Powertools: the baseline).
        where = sys.modules.get(f"{package}.secret", mongo)
        credentials = where.Credentials(
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


def restore() -> dict[str, Any]:
    """SnapStart (a cold_start=snapstart render): INIT and the before-snapshot hooks, untimed
    (Lambda runs them once, to take the snapshot), then what a restored container pays:
    the after-restore hooks and the first ``GET /health``."""
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    lambda_logging()
    event = load_event()
    handler, _ = load_product()
    for func, args, kwargs in reversed(get_before_snapshot()):  # as the runtime runs them
        func(*args, **kwargs)
    t0 = time.perf_counter()
    for func, args, kwargs in get_after_restore():
        func(*args, **kwargs)
    t1 = time.perf_counter()
    status = handler.handler(event, FakeContext())["statusCode"]
    t2 = time.perf_counter()
    return {"ms": ms(t2 - t0), "hooks_ms": ms(t1 - t0), "status": status}


def provisioned() -> dict[str, Any]:
    """Provisioned concurrency (a cold_start=provisioned render): INIT as Lambda runs it for a
    provisioned container (it connects), untimed; then the first ``GET /health``, and the
    median of the next ones (warm), timed."""
    lambda_logging()
    event = load_event()
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "provisioned-concurrency"
    t0 = time.perf_counter()
    handler, _ = load_product()
    t1 = time.perf_counter()
    status = handler.handler(event, FakeContext())["statusCode"]
    t2 = time.perf_counter()
    warm = []
    for _ in range(21):
        started = time.perf_counter()
        handler.handler(event, FakeContext())
        warm.append(time.perf_counter() - started)
    warm.sort()
    return {"ms": ms(t2 - t1), "init_ms": ms(t1 - t0), "warm_ms": ms(warm[10]), "status": status}


def keyed() -> dict[str, Any]:
    """What the first request with an Idempotency-Key costs a container."""
    import json

    lambda_logging()
    handler, _ = load_product()
    status = handler.handler(load_event(), FakeContext())["statusCode"]
    with open(os.environ["BENCH_EVENT"].replace("health.json", "create_item.json")) as file:
        post = json.load(file)
    timings = {}
    for name, key in (("first_key_ms", "bench-1"), ("next_key_ms", "bench-2"), ("no_key_ms", None)):
        event = json.loads(json.dumps(post))
        if key:
            event["headers"]["idempotency-key"] = key
        t0 = time.perf_counter()
        answer = handler.handler(event, FakeContext())["statusCode"]
        timings[name] = ms(time.perf_counter() - t0)
        status = max(status, answer - 1)  # 201 expected: reported as 200 when all went well
    return {**timings, "status": status}


def caller(kind: str, event: dict[str, Any]) -> Any:
    """One invocation of ``kind`` (see the module's docstring)."""
    if kind in {"ping", "ping_events"}:
        import naive
        from pymongo import MongoClient

        options = naive.auth_options()
        if kind == "ping_events":  # the listeners the project registers on its client
            load_product()
            events = importlib.import_module(f"{PACKAGE}.driver_events").DriverEvents()
            options["event_listeners"] = events.listeners()
        client: Any = MongoClient(os.environ["MONGODB_URI"], **options)
        database = client[os.environ["MONGODB_DATABASE"]]

        def ping(context: FakeContext) -> int:
            database.command("ping")
            return 200

        return ping
    if kind == "naive":
        handler = importlib.import_module("naive")
    else:
        handler = load_product(BASELINE_PACKAGE if kind == "baseline" else PACKAGE)[0]
    if kind == "resolver":

        def serve(context: FakeContext) -> int:
            return int(handler.serve(event, context)["statusCode"])

        return serve

    def invoke(context: FakeContext) -> int:
        return int(handler.handler(event, context)["statusCode"])

    return invoke


def serve(kinds: list[str], calls: int) -> dict[str, Any]:
    """Warm calls of each kind.  Two kinds alternate in blocks of BLOCK calls: each runs
    hot within its block (as a warm container does), and load from elsewhere on the
    machine, which changes over much longer spans, hits both alike."""
    lambda_logging()
    event = load_event()
    calls_of = {kind: caller(kind, event) for kind in kinds}
    first_status = max(call(FakeContext()) for call in calls_of.values())
    print("READY", file=PROTOCOL, flush=True)
    sys.stdin.readline()
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    failures = 0
    for block in range(-(-calls // BLOCK)):
        for kind in kinds if block % 2 == 0 else kinds[::-1]:
            call = calls_of[kind]
            for _ in range(min(BLOCK, calls - block * BLOCK)):
                context = FakeContext()  # made by the runtime before it calls the handler
                t0 = time.perf_counter()
                status = call(context)
                samples[kind].append(time.perf_counter() - t0)
                failures += status != 200
    result: dict[str, Any] = {"first_status": first_status, "calls": calls, "failures": failures}
    for kind, found in samples.items():
        found.sort()
        result[kind] = {f"p{q}_ms": ms(percentile(found, q)) for q in (10, 25, 50, 75, 90, 99)}
        result[kind]["mean_ms"] = ms(sum(found) / len(found))
    return result


def main() -> int:
    scenario = sys.argv[1]
    if scenario == "floor-import":
        result = floor_import()
    elif scenario == "cold":
        result = cold()
    elif scenario == "keyed":
        result = keyed()
    elif scenario == "restore":
        result = restore()
    elif scenario == "provisioned":
        result = provisioned()
    elif scenario in {"first", "naive-first"}:
        result = first(naive=scenario == "naive-first")
    elif scenario == "serve":
        result = serve(os.environ["BENCH_KINDS"].split(","), int(os.environ["BENCH_CALLS"]))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    result["since_start_ms"] = ms(time.perf_counter() - STARTED)
    import json

    print("RESULT " + json.dumps(result), file=PROTOCOL, flush=True)
    if scenario == "serve":
        sys.stdin.readline()  # stay alive (sockets open) until the driver has counted
    # A container is frozen, not shut down: skip the interpreter's teardown (pymongo's
    # exit hooks wait for its monitor threads), which no invocation ever pays.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
