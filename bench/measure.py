"""Measure one rendered project against the stand-in server; print ``RESULT <json>``.

Runs on the generated project's dev venv (the stand-in needs mockupdb and
mongomock).  The stand-in lives in this process; every measured "container"
is a fresh bench/container.py process on ``--python``, an interpreter that
holds what a deployed function has.  Figures are medians over fresh processes;
each comparison's two sides are interleaved so drift hits both alike.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
CONTAINER = BENCH / "container.py"
DATABASE = "app"
DB_USER = "bench-user"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench"
HELLO_COMMANDS = ("hello", "ismaster", "isMaster")
# Throwaway values: what Lambda puts in the environment for the execution role.
THROWAWAY_AWS = {
    "AWS_ACCESS_KEY_ID": "bench-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "bench-not-a-secret",
    "AWS_SESSION_TOKEN": "bench-session-token",
}


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every numeric field over the samples, and how many there were."""
    keys = [k for k, v in samples[0].items() if isinstance(v, int | float) and k != "status"]
    summary: dict[str, Any] = {k: statistics.median(s[k] for s in samples) for k in keys}
    summary["n"] = len(samples)
    return summary


class SecretsManagerStub(BaseHTTPRequestHandler):
    """GetSecretValue on loopback, for the real secret reader (AWS_ENDPOINT_URL_SECRETS_MANAGER)."""

    secret = "{}"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps(
            {"ARN": SECRET_ARN, "Name": "bench", "SecretString": self.secret, "VersionId": "v1"}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def secrets_manager_stub(username: str, password: str) -> Iterator[str]:
    SecretsManagerStub.secret = json.dumps({"username": username, "password": password})
    server = ThreadingHTTPServer(("127.0.0.1", 0), SecretsManagerStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Bench:
    def __init__(self, args: argparse.Namespace, server: Any, password: str, home: Path) -> None:
        self.args = args
        self.server = server
        self.errors: dict[int, IO[str]] = {}
        project: Path = args.project
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # empty: no ~/.aws of this machine
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(
                [str(project / "src"), *([str(args.baseline_src)] if args.baseline_src else [])]
            ),
            "BENCH_BASELINE_PACKAGE": args.baseline_package,
            "AWS_LAMBDA_FUNCTION_NAME": "bench-fn",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{args.python_version}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            **THROWAWAY_AWS,
            "MONGODB_URI": server.uri,
            "MONGODB_DATABASE": DATABASE,
            "BENCH_AUTH": args.auth,
            "BENCH_PACKAGE": args.package,
            "BENCH_EVENT": str(project / "events" / "health.json"),
        }
        if args.auth == "password":
            self.env.update(
                MONGODB_SECRET_ARN=SECRET_ARN, BENCH_DB_USER=DB_USER, BENCH_DB_PASSWORD=password
            )

    # --- one fresh process -------------------------------------------------------

    def start(self, scenario: str, **env: str) -> subprocess.Popen[str]:
        errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in finish(); never fills up
        process = subprocess.Popen(
            [self.args.python, str(CONTAINER), scenario],
            env={**self.env, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        self.errors[process.pid] = errors
        return process

    def expect(self, process: subprocess.Popen[str], prefix: str) -> str:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        process.wait()
        errors = self.errors[process.pid]
        errors.seek(0)
        raise RuntimeError(
            f"container exited ({process.returncode}) before {prefix!r}:\n{errors.read()}"
        )

    def finish(self, process: subprocess.Popen[str]) -> None:
        process.communicate()
        self.errors.pop(process.pid).close()

    @staticmethod
    def send(process: subprocess.Popen[str], line: str = "go") -> None:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()

    def once(self, scenario: str, **env: str) -> dict[str, Any]:
        """Run one fresh process to the end; its result plus its wall time."""
        started = time.perf_counter()
        process = self.start(scenario, **env)
        result: dict[str, Any] = json.loads(self.expect(process, "RESULT "))
        result["wall_ms"] = (time.perf_counter() - started) * 1000  # spawn to result
        self.finish(process)
        if process.returncode != 0 or result.get("status", 200) != 200:
            raise RuntimeError(f"{scenario}: {result} (exit {process.returncode})")
        return result

    def interleaved(self, scenarios: dict[str, tuple[str, dict[str, str]]]) -> dict[str, Any]:
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
        for _ in range(self.args.reps):
            for name, (scenario, env) in scenarios.items():
                samples[name].append(self.once(scenario, **env))
        return {name: summarise(found) for name, found in samples.items()}

    # --- what the server saw -----------------------------------------------------

    def sockets(self) -> dict[str, int]:
        """Sockets seen (by client port), those that carried commands, connection
        handshakes (a cross-check of the port count) and commands handled."""
        handshakes = sum(
            1 for name in HELLO_COMMANDS for r in self.server.commands(name) if "client" in r.doc
        )
        return {
            "sockets": len(self.server.ports()),
            "app_sockets": len(self.server.app_ports()),
            "handshakes": handshakes,
            "commands": len(self.server.received),
        }

    def serve(self, kinds: str, calls: int) -> dict[str, Any]:
        """One warm container: first call, then ``calls`` timed ones per kind (two kinds
        alternate call by call); the sockets the server saw before and after."""
        self.server.reset()
        process = self.start("serve", BENCH_KINDS=kinds, BENCH_CALLS=str(calls))
        self.expect(process, "READY")
        after_first = self.sockets()
        self.send(process)
        result: dict[str, Any] = json.loads(self.expect(process, "RESULT "))
        after_all = self.sockets()
        self.send(process, "exit")
        self.finish(process)
        if result["failures"] or result["first_status"] != 200:
            raise RuntimeError(f"{kinds}: {result}")
        commands = (after_all["commands"] - after_first["commands"]) / max(calls, 1)
        return {**result, "commands_per_call": commands, "first": after_first, "after": after_all}

    def warm(self, kinds: str, runs: int, calls: int) -> dict[str, Any]:
        """``runs`` warm containers serving ``kinds`` in alternating blocks.  Per kind, the
        medians over the runs of each run's percentiles; for the first kind, the median
        over the runs of its ratio to (and, in ``diff_us``, its difference from) each other
        kind within the same run; and the sockets of a container serving the first alone."""
        names = kinds.split(",")
        found = [self.serve(kinds, calls) for _ in range(runs)]
        summary: dict[str, Any] = {}
        for kind in names:
            summary[kind] = {"calls": calls, **summarise([run[kind] for run in found])}
        mine = names[0]
        for other in names[1:]:  # within each container: same placement, same moments
            for q in ("p50", "p99"):
                summary[mine][f"{q}_ratio_to_{other}"] = statistics.median(
                    run[mine][f"{q}_ms"] / run[other][f"{q}_ms"] for run in found
                )
        diffs: dict[str, float] = {}
        for a, b in itertools.permutations(names, 2):
            diffs[f"{a}-{b}"] = statistics.median(
                (run[a]["p50_ms"] - run[b]["p50_ms"]) * 1000 for run in found
            )
        summary["diff_us"] = diffs
        if len(names) > 1:  # sockets from a container serving the first kind alone
            found = [self.serve(mine, calls)]
        first_kind = summary[mine]
        first_kind["commands_per_call"] = statistics.median(r["commands_per_call"] for r in found)
        for count in ("sockets", "app_sockets", "handshakes"):
            for when in ("first", "after"):
                first_kind[f"{count}_{when}"] = statistics.median(r[when][count] for r in found)
        return summary

    def concurrent(self, kind: str, containers: int, calls: int) -> dict[str, Any]:
        """``containers`` processes at once; the sockets the (single) node sees."""
        self.server.reset()
        processes = [
            self.start("serve", BENCH_KINDS=kind, BENCH_CALLS=str(calls)) for _ in range(containers)
        ]
        for process in processes:
            self.expect(process, "READY")
        for process in processes:
            self.send(process)
        for process in processes:
            json.loads(self.expect(process, "RESULT "))
        seen = self.sockets()  # every container still alive, its sockets still open
        for process in processes:
            self.send(process, "exit")
            self.finish(process)
        return {"containers": containers, "calls_each": calls + 1, **seen}


def bytecode_free_copy(python: str, project: Path, scratch: Path) -> str:
    """PYTHONPATH of a copy of the function's code and dependencies without bytecode,
    as scripts/package.py ships them (Lambda's /var/task is read-only: nothing is cached)."""
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(project / "src", scratch / "src", ignore=ignore)
    shutil.copytree(purelib, scratch / "site", ignore=ignore)
    return f"{scratch / 'src'}{os.pathsep}{scratch / 'site'}"


SECTIONS = ("cold", "layouts", "first", "keyed", "warm", "naive", "concurrent")
# Measured on a render of that cold-start mode (bench/run.py asks for them by name).
COLD_START_SECTIONS = ("snapstart", "provisioned")
WARM_KINDS = "product,resolver,ping,ping_events"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(args.project))
    from local.standin import StandIn

    password = secrets.token_urlsafe(18)
    users = {DB_USER: password} if args.auth == "password" else {}
    results: dict[str, Any] = {"auth": args.auth}
    sections = set(args.sections.split(","))
    with (
        tempfile.TemporaryDirectory() as scratch,
        StandIn(auth=args.auth, users=users) as server,
    ):
        bench = Bench(args, server, password, Path(scratch))
        if "cold" in sections:
            log(f"{args.auth}: cold start, {args.reps} fresh processes each")
            results["cold"] = bench.interleaved(
                {"floor": ("floor-import", {}), "product": ("cold", {})}
            )
        for layout in args.layout if "layouts" in sections else []:
            name, path = layout.split("=", 1)
            log(f"{args.auth}: cold start, {name} layout")
            # Lambda's code directories are read-only: nothing compiled at import is kept.
            on_path = {"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
            if name == "baseline":
                on_path["BENCH_PACKAGE"] = args.baseline_package
            results.setdefault("layouts", {})[name] = bench.interleaved(
                {"floor": ("floor-import", on_path), "product": ("cold", on_path)}
            )
        if "cold" in sections and args.auth == "password" and not args.quick:
            log(f"{args.auth}: cold start without bytecode")
            path = bytecode_free_copy(args.python, args.project, Path(scratch) / "nopyc")
            nopyc = {"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
            results["cold_nopyc"] = bench.interleaved(
                {"floor": ("floor-import", nopyc), "product": ("cold", nopyc)}
            )
        if "first" in sections:
            log(f"{args.auth}: first invocation, {args.reps} fresh processes each")
            first = {"product": ("first", {}), "naive": ("naive-first", {})}
            if args.auth == "password":
                with secrets_manager_stub(DB_USER, password) as endpoint:
                    first["product_secrets"] = (
                        "first",
                        {
                            "BENCH_SECRET_READER": "real",
                            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
                        },
                    )
                    results["first"] = bench.interleaved(first)
            else:
                results["first"] = bench.interleaved(first)
        for mode, scenario in (("snapstart", "restore"), ("provisioned", "provisioned")):
            if mode not in sections:
                continue
            log(f"{args.auth}: {mode} vs on demand, {args.reps} fresh processes each")
            # The real secret reader (boto3, one loopback call), as a deployed function has.
            with secrets_manager_stub(DB_USER, password) as endpoint:
                real = (
                    {"BENCH_SECRET_READER": "real", "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}
                    if args.auth == "password"
                    else {}
                )
                results[mode] = bench.interleaved(
                    {mode: (scenario, real), "on_demand": ("first", real)}
                )
        if "keyed" in sections:
            log(f"{args.auth}: the first POST with an Idempotency-Key, {args.reps} containers")
            samples = []
            for _ in range(args.reps):
                server.reset()
                samples.append(bench.once("keyed"))
            results["keyed"] = summarise(samples)
        if "warm" in sections:
            kinds = WARM_KINDS + (",baseline" if args.baseline_src else "")
            log(f"{args.auth}: warm, {args.warm_runs} x {args.warm_calls} calls of {kinds}")
            warm = bench.warm(kinds, args.warm_runs, args.warm_calls)
            results["warm"] = {
                "product": warm["product"],
                "floor": warm["ping"],
                "resolver": warm["resolver"],
                "ping_events": warm["ping_events"],
                "diff_us": warm["diff_us"],
            }
            if args.baseline_src:
                results["warm"]["baseline"] = warm["baseline"]
        if "naive" in sections:
            log(f"{args.auth}: naive warm, {args.naive_runs} x {args.warm_calls} calls")
            naive = bench.warm("naive", args.naive_runs, args.warm_calls)["naive"]
            results.setdefault("warm", {})["naive"] = naive
        if "concurrent" in sections:
            log(f"{args.auth}: {args.containers} containers at once")
            results["concurrent"] = {
                "product": bench.concurrent("product", args.containers, args.container_calls),
                "naive": bench.concurrent("naive", args.containers, args.container_calls),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--auth", choices=["iam", "password"], required=True)
    parser.add_argument("--python", required=True, help="interpreter for the containers")
    parser.add_argument("--python-version", default="3.13")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--warm-calls", type=int, default=1000)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--containers", type=int, default=8)
    parser.add_argument("--container-calls", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--baseline-src", type=Path, help="src/ of the project before Powertools")
    parser.add_argument("--baseline-package", default="baseline_service")
    parser.add_argument(
        "--layout",
        action="append",
        default=[],
        help="NAME=PYTHONPATH: also time the cold start with the code and its dependencies there",
    )
    args = parser.parse_args(argv)
    print("RESULT " + json.dumps(measure(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
