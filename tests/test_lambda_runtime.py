"""The loopback Lambda Runtime API (tests/lambda_runtime.py) against the real runtime client.

A tiny function, served by awslambdaric from the runtime virtualenv, goes through each
path the user-path tests rely on and the ones later work extends: a response, an error,
a handler that cannot be loaded (init error), SnapStart's restore, and boto3 reading a
secret from the Secrets Manager stand-in.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from lambda_runtime import (
    FunctionProcess,
    RuntimeAPI,
    RuntimeFailure,
    SecretsManager,
    lambda_environment,
    runtime_python,
    secrets_manager_env,
    serve,
)

PYTHON_VERSION = "3.13"
FUNCTION = """\
import os

import boto3

CONTAINER = os.urandom(8).hex()  # once per container, at init
INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    if event.get("fail"):
        raise ValueError("asked to fail")
    if "secret" in event:
        client = boto3.client("secretsmanager")
        try:
            return client.get_secret_value(SecretId=event["secret"])["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            return "not found"
    return {
        "event": event,
        "container": CONTAINER,
        "invocations": INVOCATIONS,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    }
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "app.py").write_text(FUNCTION)
    return root


def test_invocations_reach_one_container_and_answers_come_back(
    task_root: Path, tmp_path: Path
) -> None:
    with serve(
        task_root, "app.handler", python_version=PYTHON_VERSION, scratch=tmp_path,
        function_name="tiny", region="eu-west-1",
    ) as (api, process):  # fmt: skip
        answers = [api.invoke({"n": n}, timeout_s=30) for n in range(3)]
        assert process.exit_code is None
        deadline = time.monotonic() + 10
        while api.polls < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the runtime asks for the next event after answering
    bodies = [answer.json() for answer in answers]
    assert all(answer.ok for answer in answers)
    assert [body["event"] for body in bodies] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [body["invocations"] for body in bodies] == [1, 2, 3]
    assert len({body["container"] for body in bodies}) == 1
    assert len({body["request_id"] for body in bodies}) == 3
    assert [body["request_id"] for body in bodies] == [answer.request_id for answer in answers]
    assert bodies[0]["function_arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:tiny"
    assert all(20_000 < body["remaining_ms"] <= 30_000 for body in bodies)
    assert bodies[0]["initialization_type"] == "on-demand"
    assert api.polls == 4  # one per invocation, and the runtime waiting for the next


def test_a_raised_exception_is_posted_as_the_invocations_error(
    task_root: Path, tmp_path: Path
) -> None:
    with serve(
        task_root, "app.handler", python_version=PYTHON_VERSION, scratch=tmp_path
    ) as (api, process):  # fmt: skip
        failed = api.invoke({"fail": True})
        after = api.invoke({"n": 1})
        assert process.exit_code is None  # the container survives its handler's error
    assert not failed.ok
    assert failed.json()["errorType"] == "ValueError"
    assert failed.json()["errorMessage"] == "asked to fail"
    assert after.ok and after.json()["invocations"] == 2


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [("missing.handler", "Runtime.ImportModuleError"), ("app.nothing", "Runtime.HandlerNotFound")],
)
def test_a_handler_that_cannot_load_is_an_init_error(
    task_root: Path, tmp_path: Path, handler: str, error_type: str
) -> None:
    with pytest.raises(RuntimeFailure, match="failed during init"):  # noqa: SIM117
        with serve(task_root, handler, python_version=PYTHON_VERSION, scratch=tmp_path):
            pass  # pragma: no cover - init fails first
    log = (tmp_path / "function-runtime.log").read_text()
    assert error_type in log


def test_init_error_is_posted_to_the_runtime_api(task_root: Path, tmp_path: Path) -> None:
    with RuntimeAPI() as api:
        env = lambda_environment(
            api, task_root, "missing.handler", python_version=PYTHON_VERSION,
            function_name="tiny", region="us-east-1",
        )  # fmt: skip
        log = tmp_path / "runtime.log"
        python = runtime_python(PYTHON_VERSION)
        with FunctionProcess(python, "missing.handler", task_root, env, log) as process:
            deadline = time.monotonic() + 30
            while process.exit_code is None and time.monotonic() < deadline:
                time.sleep(0.05)
        assert process.exit_code not in (None, 0)
        assert api.init_error is not None and not api.ready.is_set()
    error = json.loads(api.init_error.body)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "missing" in error["errorMessage"]


def test_snapstart_waits_for_the_restore_before_the_first_event(
    task_root: Path, tmp_path: Path
) -> None:
    with serve(
        task_root, "app.handler", python_version=PYTHON_VERSION, scratch=tmp_path,
        initialization_type="snap-start",
    ) as (api, process):  # fmt: skip
        assert api.snapshot_requested.is_set()
        time.sleep(0.2)
        assert api.polls == 0 and process.exit_code is None  # frozen until restored
        api.restore()
        answer = api.invoke({"n": 1})
    assert answer.ok and answer.json()["initialization_type"] == "snap-start"
    assert api.restore_error is None


def test_boto3_in_the_runtime_reads_a_secret_from_the_stand_in(
    task_root: Path, tmp_path: Path
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"  # pragma: allowlist secret
    secret = json.dumps({"username": "u", "password": "p"})  # pragma: allowlist secret
    with (
        SecretsManager({arn: secret}) as secrets,
        serve(
            task_root, "app.handler", python_version=PYTHON_VERSION, scratch=tmp_path,
            function_env=secrets_manager_env(secrets.endpoint),
        ) as (api, _),
    ):  # fmt: skip
        found = api.invoke({"secret": arn})
        missing = api.invoke({"secret": arn + "-other"})
    assert found.ok and found.json() == secret
    assert missing.ok and missing.json() == "not found"
    assert secrets.reads == {arn: 1, arn + "-other": 1}
    assert secrets.unsigned == 0  # boto3 signed both with the role's credentials
