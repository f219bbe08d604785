"""Serve a deployment package the way AWS Lambda does, on loopback.

Lambda runs a Python function with the runtime interface client (``awslambdaric``, the
code the managed Python runtimes run): it imports the handler from the task root (the
unpacked zip), then asks the Lambda Runtime API for the next event, calls the handler and
posts the result back, forever. ``RuntimeAPI`` plays Lambda's side of that protocol on
127.0.0.1; ``FunctionProcess`` starts ``awslambdaric`` on an unpacked zip in an
environment like Lambda's: a runtime virtualenv holding ``awslambdaric`` and boto3 (the
managed runtime ships boto3; deployment packages leave it out), the task root on the
path, the environment variables Lambda sets, nothing from the project's own venv.

Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

- ``GET  /2018-06-01/runtime/invocation/next``: the next event, with its request id and
  deadline in headers; blocks until there is one.
- ``POST /2018-06-01/runtime/invocation/<id>/response`` and ``.../<id>/error``.
- ``POST /2018-06-01/runtime/init/error``: the handler could not be loaded.
- ``GET  /2018-06-01/runtime/restore/next`` and ``POST /2018-06-01/runtime/restore/error``:
  SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``); the runtime asks after init,
  Lambda snapshots, and answers when the snapshot is restored (``RuntimeAPI.restore``).

``SecretsManager`` answers ``GetSecretValue`` (boto3's JSON protocol) on loopback, for
functions that read a secret: point boto3 at it with ``AWS_ENDPOINT_URL_SECRETS_MANAGER``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from toolchains import ensure_venv, find_python

API_PREFIX = "/2018-06-01/runtime"
# What a managed Python runtime holds besides the standard library: the runtime interface
# client and the AWS SDK (boto3 and its dependencies come with it).
RUNTIME_REQUIREMENTS = ["awslambdaric==4.2.2", "boto3==1.44.5"]
FUNCTION_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
# Every invocation gets a fresh request id; the ARN is what Lambda would send.
ACCOUNT = "123456789012"


def runtime_python(python_version: str) -> Path:
    """The interpreter of a Lambda-like runtime for ``python_version`` (created once)."""
    bin_dir = ensure_venv(
        f"lambda-runtime-py{python_version}",
        find_python(python_version),
        RUNTIME_REQUIREMENTS,
        use_uv=True,
    )
    return bin_dir / "python"


def unpack(archive: Path, task_root: Path) -> Path:
    """Unpack a deployment package as Lambda does: its root becomes the task root."""
    task_root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as package:
        package.extractall(task_root)
    return task_root


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime stopped between requests resets its keep-alive connection: not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _LoopbackService:
    """An HTTP service on a loopback port, served from a thread inside ``with``."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Outcome:
    """What the runtime posted for one invocation (or for init)."""

    request_id: str
    ok: bool  # /response, not /error
    body: bytes
    error_type: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Pending:
    request_id: str
    event: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


class RuntimeFailure(AssertionError):
    """The runtime did not behave as Lambda expects (no answer, an init error, ...)."""


class RuntimeAPI(_LoopbackService):
    """Lambda's side of the Runtime API for one execution environment.

    ``invoke`` queues an event and waits for the runtime's answer. ``init_error`` and
    ``restore_error`` hold what the runtime reported, ``polls`` counts ``/next`` calls,
    ``ready`` is set at the runtime's first ``/next`` (init is over).
    """

    def __init__(self, function_name: str = "function", region: str = "us-east-1") -> None:
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
        self.init_error: Outcome | None = None
        self.restore_error: Outcome | None = None
        self.polls = 0
        self.ready = threading.Event()
        self.snapshot_requested = threading.Event()  # SnapStart: init done, restore/next asked
        self._restored = threading.Event()
        self._events: queue.Queue[_Pending | None] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._serve(self._handler_class())

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self.host_port
        return f"{host}:{port}"

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        self._restored.set()
        self._events.put(None)  # releases a waiting /next
        super().__exit__(*exc_info)

    # --- Lambda's side ------------------------------------------------------------

    def invoke(self, event: Any, timeout_s: float = 15.0, wait_s: float = 60.0) -> Outcome:
        """Send ``event`` to the function; the runtime's response or error."""
        pending = _Pending(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            deadline_ms=int((time.time() + timeout_s) * 1000),
        )
        with self._lock:
            self._pending[pending.request_id] = pending
        self._events.put(pending)
        if not pending.done.wait(wait_s):
            raise RuntimeFailure(f"no answer to invocation {pending.request_id} in {wait_s} s")
        assert pending.outcome is not None
        return pending.outcome

    def restore(self) -> None:
        """SnapStart: the snapshot is restored; answer the runtime's ``restore/next``."""
        self._restored.set()

    # --- the runtime's side (HTTP) --------------------------------------------------

    def _next(self) -> _Pending | None:
        self.polls += 1
        self.ready.set()
        while not self._closed:
            with contextlib.suppress(queue.Empty):
                return self._events.get(timeout=0.5)
        return None

    def _answer(self, request_id: str, ok: bool, body: bytes, error_type: str | None) -> bool:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        pending.outcome = Outcome(request_id, ok, body, error_type)
        pending.done.set()
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reports what matters

            def _reply(
                self,
                status: HTTPStatus,
                body: bytes = b"",
                headers: Mapping[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                if self.path == f"{API_PREFIX}/invocation/next":
                    pending = api._next()
                    if pending is None:  # shutting down
                        self._reply(HTTPStatus.GONE)
                        return
                    self._reply(
                        HTTPStatus.OK,
                        pending.event,
                        {
                            "Content-Type": "application/json",
                            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                            "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
                            "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                            "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-"
                            f"{uuid.uuid4().hex[:24]};Sampled=0",
                        },
                    )
                elif self.path == f"{API_PREFIX}/restore/next":
                    api.snapshot_requested.set()
                    api._restored.wait()
                    self._reply(HTTPStatus.OK)
                else:
                    self._reply(HTTPStatus.NOT_FOUND)

            def do_POST(self) -> None:
                body = self._body()
                error_type = self.headers.get(FUNCTION_ERROR_TYPE)
                parts = self.path.removeprefix(f"{API_PREFIX}/").split("/")
                if parts[:1] == ["invocation"] and len(parts) == 3:
                    _, request_id, kind = parts
                    if kind in {"response", "error"} and api._answer(
                        request_id, kind == "response", body, error_type
                    ):
                        self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                    else:
                        self._reply(HTTPStatus.BAD_REQUEST, b'{"errorType":"InvalidRequestID"}')
                elif parts == ["init", "error"]:
                    api.init_error = Outcome("init", False, body, error_type)
                    self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                elif parts == ["restore", "error"]:
                    api.restore_error = Outcome("restore", False, body, error_type)
                    self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                else:
                    self._reply(HTTPStatus.NOT_FOUND)

        return Handler


def lambda_environment(
    api: RuntimeAPI,
    task_root: Path,
    handler: str,
    *,
    python_version: str,
    function_name: str,
    region: str,
    memory_mb: int = 1024,
    initialization_type: str = "on-demand",
    function_env: Mapping[str, str] | None = None,
    container_credentials: ContainerCredentials | None = None,
) -> dict[str, str]:
    """The environment Lambda gives a Python function (throwaway role credentials: in the
    environment, or from ``container_credentials`` as under SnapStart)."""
    credentials = (
        container_credentials.env()
        if container_credentials is not None
        else {
            "AWS_ACCESS_KEY_ID": "ASIALOCALRUNTIMEKEY0",
            "AWS_SECRET_ACCESS_KEY": "local-runtime-not-a-secret",  # pragma: allowlist secret
            "AWS_SESSION_TOKEN": "local-runtime-session-token",
        }
    )
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(task_root),
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python_version}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]0123456789abcdef",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # The execution role's temporary credentials (throwaway values).
        **credentials,
        **(function_env or {}),
    }


class FunctionProcess:
    """``awslambdaric`` serving ``handler`` from ``task_root``, until the context exits.

    Output goes to ``log`` (stdout and stderr together, as Lambda's log stream).
    """

    def __init__(
        self, python: Path, handler: str, task_root: Path, env: Mapping[str, str], log: Path
    ) -> None:
        self.log = log
        self._args = [str(python), "-m", "awslambdaric", handler]
        self._cwd = task_root
        self._env = dict(env)
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FunctionProcess:
        with self.log.open("wb") as sink:
            self._process = subprocess.Popen(
                self._args,
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process is not None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def exit_code(self) -> int | None:
        assert self._process is not None
        return self._process.poll()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, api: RuntimeAPI, timeout_s: float = 60.0) -> None:
        """Wait until init is over: the first ``/next`` (or ``restore/next``), or a failure."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if api.ready.is_set() or api.snapshot_requested.is_set():
                return
            if api.init_error is not None or self.exit_code is not None:
                raise RuntimeFailure(
                    f"the runtime failed during init (exit code {self.exit_code}); "
                    f"init error: {api.init_error.body.decode() if api.init_error else None}\n"
                    + self.output()[-4000:]
                )
            time.sleep(0.05)
        raise RuntimeFailure(f"the runtime did not finish init in {timeout_s} s\n{self.output()}")


@contextlib.contextmanager
def serve(
    archive_or_root: Path,
    handler: str,
    *,
    python_version: str,
    scratch: Path,
    function_name: str = "function",
    region: str = "us-east-1",
    function_env: Mapping[str, str] | None = None,
    initialization_type: str = "on-demand",
    extra_env: Mapping[str, str] | None = None,
    container_credentials: ContainerCredentials | None = None,
) -> Iterator[tuple[RuntimeAPI, FunctionProcess]]:
    """A function from a zip (or an already unpacked task root), served and initialized."""
    task_root = archive_or_root
    if archive_or_root.is_file():
        task_root = unpack(archive_or_root, scratch / "task")
    python = runtime_python(python_version)
    with RuntimeAPI(function_name, region) as api:
        env = lambda_environment(
            api,
            task_root,
            handler,
            python_version=python_version,
            function_name=function_name,
            region=region,
            initialization_type=initialization_type,
            function_env=function_env,
            container_credentials=container_credentials,
        )
        env.update(extra_env or {})
        log = scratch / f"{function_name}-runtime.log"
        with FunctionProcess(python, handler, task_root, env, log) as process:
            process.wait_ready(api)
            yield api, process


# --------------------------------------------------------------------------- AWS stand-ins


class SecretsManager(_LoopbackService):
    """``secretsmanager:GetSecretValue`` on loopback, for boto3 pointed at it.

    ``reads`` counts the calls per secret ARN; an unknown ARN gets the error AWS sends.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.secrets = dict(secrets)
        self.reads: dict[str, int] = {}
        self.unsigned = 0  # requests without a SigV4 Authorization header
        self._serve(self._handler_class())
        self._versions = itertools.count(1)

    @property
    def endpoint(self) -> str:
        host, port = self.host_port
        return f"http://{host}:{port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: HTTPStatus, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                    store.unsigned += 1
                if self.headers.get("X-Amz-Target") != "secretsmanager.GetSecretValue":
                    self._reply(
                        HTTPStatus.BAD_REQUEST,
                        {"__type": "UnknownOperationException", "message": "not stood in"},
                    )
                    return
                arn = str(request.get("SecretId", ""))
                store.reads[arn] = store.reads.get(arn, 0) + 1
                if arn not in store.secrets:
                    self._reply(
                        HTTPStatus.BAD_REQUEST,
                        {
                            "__type": "ResourceNotFoundException",
                            "message": "Secrets Manager can't find the specified secret.",
                        },
                    )
                    return
                self._reply(
                    HTTPStatus.OK,
                    {
                        "ARN": arn,
                        "Name": arn.rsplit(":", 1)[-1],
                        "SecretString": store.secrets[arn],
                        "VersionId": str(uuid.UUID(int=next(store._versions))),
                        "VersionStages": ["AWSCURRENT"],
                        "CreatedDate": time.time(),
                    },
                )

        return Handler


class ContainerCredentials(_LoopbackService):
    """The role's credentials endpoint Lambda gives SnapStart functions
    (``AWS_CONTAINER_CREDENTIALS_FULL_URI``, asked with ``AWS_CONTAINER_AUTHORIZATION_TOKEN``)
    on loopback. ``requests`` holds each request's Authorization header."""

    TOKEN = "local-container-authorization-token"  # pragma: allowlist secret
    ACCESS_KEY_ID = "ASIACONTAINERCREDS00"

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._serve(self._handler_class())

    def env(self) -> dict[str, str]:
        host, port = self.host_port
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{host}:{port}/2021-04-23/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.TOKEN,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization", "")
                endpoint.requests.append(authorization)
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                document = {
                    "AccessKeyId": endpoint.ACCESS_KEY_ID,
                    "SecretAccessKey": "local-container-not-a-secret",  # pragma: allowlist secret
                    "Token": "local-container-session-token",
                    "Expiration": expires,
                }
                ok = authorization == endpoint.TOKEN
                body = json.dumps(document if ok else {"message": "denied"}).encode()
                self.send_response(HTTPStatus.OK if ok else HTTPStatus.UNAUTHORIZED)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def secrets_manager_env(endpoint: str) -> dict[str, str]:
    """Environment that points boto3's Secrets Manager client at ``endpoint``."""
    return {"AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}


def http_api_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for the ``$default`` route."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.test"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "api.example.test",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "lambda-runtime-test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event
