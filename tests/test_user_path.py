"""The user path: a generated project's README commands and CI pass in the environment its
own files build, and its deployment package runs where Lambda runs it.

One render per distinct dependency set a project can have (``VARIANTS``; the test
``test_variants_cover_every_dependency_set`` derives the sets from the rendered
pyproject.toml), with package names on both sides of ``local`` (ruff sorts imports by
name). For each:

1. CI as GitHub runs it, in a background thread: every job of the generated
   ``.github/workflows/ci.yml`` in a fresh copy of the render, its ``run:`` steps in order
   under bash -eo pipefail, the workflow's Python first on PATH (what setup-python does).
2. Meanwhile the README: its quick-start commands in order (``make lint test package
   invoke``) in another copy. The project's own Makefile builds ``.venv`` from its own files.
3. ``make invoke`` against "a real deployment", set in ``.env`` from ``.env.example``: a
   stand-in server reached by its URI and, in password mode, a loopback Secrets Manager.
4. Where the function really runs: ``dist/lambda.zip`` unpacked as Lambda's task root and
   served by the runtime interface client under the handler path the infrastructure
   declares, with boto3 beside it as in the managed runtime (tests/lambda_runtime.py):
   53 invocations through the Runtime API, 2 sockets on the database. Initialised as the
   variant's cold-start mode has Lambda do it: SnapStart (``snap-start``: no socket and no
   credentials resolved when the runtime waits on restore/next, the role's credentials then
   served by a loopback container-credentials endpoint and, in IAM mode, signing the
   MONGODB-AWS conversation) or provisioned (2 sockets at the end of INIT, none new after).
5. The zip CI built in its fresh checkout is byte-identical to the README's.

uv is on PATH (``make`` then builds with it, from the uv cache under .toolchains/), except
for the default project, which takes the pip path that a machine without uv takes (and
GitHub's runners). The README's ``make test`` runs the fast tests, CI's ``make test-all``
all of them (in the variants that bring new code: see tests/user_variants.py): the
generated suites run here, in their own environments, and nowhere else. Then come the
Makefile's own promises, checked without building anything: the Python warning, the uv
and pip paths, ``.env``, and the README's targets and layout.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from combinations import SUPPORTED, combination_id
from conftest import TEMPLATE, render
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config
from lambda_runtime import (
    ContainerCredentials,
    SecretsManager,
    http_api_event,
    secrets_manager_env,
    serve,
)
from toolchains import TOOLCHAINS, find_python, mypy_cache, uv_bin, uv_env
from user_variants import VARIANTS, Variant

PYTHON_VERSIONS = ("3.13", "3.12")
PYTHON_WARNING = "WARNING: .venv runs Python"
# The architecture a zip must be built for to load its native extensions on this machine.
HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
RUNTIME_PROVIDED = ("boto3/", "botocore/", "s3transfer/", "dateutil/", "jmespath/", "urllib3/")
STEP_TIMEOUT_S = 900
# One mypy cache per Python for every variant (mypy checks each module's source against
# it): a cold mypy over the CDK libraries takes most of a minute, and every CDK variant
# would pay it twice.
MYPY_CACHE = TOOLCHAINS / "mypy-cache-user"


# --------------------------------------------------------------------------- dependency sets


def render_file(relative: str, **answers: Any) -> str:
    """One template file rendered with ``answers`` (milliseconds; no project written)."""
    context = generate_context(
        context_file=str(TEMPLATE / "cookiecutter.json"), extra_context=answers
    )
    context["cookiecutter"] = prompt_for_config(context, no_input=True)
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    source = (TEMPLATE / "{{cookiecutter.project_slug}}" / relative).read_text()
    return environment.from_string(source).render(**context)


def dependency_set(answers: Mapping[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What `make install` installs: the Python, the runtime and the dev requirements."""
    pyproject = tomllib.loads(render_file("pyproject.toml", **answers))
    project = pyproject["project"]
    return (
        pyproject["tool"]["mypy"]["python_version"],
        tuple(sorted(project["dependencies"])),
        tuple(sorted(project["optional-dependencies"]["dev"])),
    )


def test_variants_cover_every_dependency_set() -> None:
    """Every supported combination, on every Lambda Python, installs what one variant does,
    and no two variants install the same (each costs a full run)."""
    covered = [dependency_set(v.answers) for v in VARIANTS]
    assert len(set(covered)) == len(covered), "two variants share a dependency set"
    for combo in SUPPORTED:
        for python_version in PYTHON_VERSIONS:
            answers = {**combo, "python_version": python_version}
            assert dependency_set(answers) in covered, f"{combination_id(answers)}: no variant"


def package_of(answers: Mapping[str, Any]) -> str:
    pyproject = tomllib.loads(render_file("pyproject.toml", **answers))
    return Path(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]).name


def test_variants_put_package_names_on_both_sides_of_local() -> None:
    names = [package_of(v.answers) for v in VARIANTS]
    assert min(names) < "local" < max(names)
    for cdk in (True, False):
        sides = {
            name < "local"
            for name, v in zip(names, VARIANTS, strict=True)
            if (v.answers["iac_tool"] == "cdk") == cdk
        }
        assert sides == {True, False}, f"cdk={cdk}: names on one side of local only"
    assert {v.installer for v in VARIANTS} == {"pip", "uv"}
    assert {v.architecture for v in VARIANTS} == {"arm64", "x86_64"}


# --------------------------------------------------------------------------- environment

SCRUBBED = {
    "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTEST_ADDOPTS",
    # A template `make test FOO=bar` passes FOO to every make below it through these.
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
}  # fmt: skip
SCRUBBED_PREFIXES = ("MONGODB_", "AWS_", "UV_", "PYTEST_XDIST", "POWERTOOLS_")


def user_environment(
    bin_dir: Path, python_version: str, *, uv: bool, setup_python: bool = False
) -> dict[str, str]:
    """A user's shell: python3.X first on PATH, uv too if ``uv``, nothing of this test run.

    ``setup_python`` also makes it ``python`` and ``python3``, as actions/setup-python does.
    Without ``uv``, the Makefile's ``UV`` is set empty, as on a machine without uv: a uv
    elsewhere on PATH (this venv has one) is not found by accident.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = find_python(python_version)
    names = [f"python{python_version}", *(["python", "python3"] if setup_python else [])]
    for name in names:
        (bin_dir / name).symlink_to(python)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SCRUBBED and not name.startswith(SCRUBBED_PREFIXES)
    }
    if uv:
        (bin_dir / "uv").symlink_to(uv_bin())
    else:
        env["UV"] = ""  # `UV ?= $(shell command -v uv)` keeps a value the environment sets
    env.update(uv_env())
    env["MYPY_CACHE_DIR"] = str(MYPY_CACHE / f"py{python_version}")
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    return env


@contextmanager
def mypy_cache_lock(args: list[str], env: Mapping[str, str]) -> Iterator[None]:
    """One `make lint` at a time per mypy cache (toolchains.mypy_cache says why)."""
    cache = Path(env.get("MYPY_CACHE_DIR", "/nonexistent"))
    if "make lint" not in " ".join(args) or not cache.is_relative_to(MYPY_CACHE):
        yield
        return
    with mypy_cache(cache):
        yield


@dataclass
class Step:
    label: str
    returncode: int
    seconds: float
    output: str

    def tail(self, chars: int = 6000) -> str:
        return (
            f"--- {self.label}: exit {self.returncode} after {self.seconds:.0f} s\n"
            + (self.output[-chars:])
        )


@dataclass
class Record:
    """Every command a variant ran, in order, with its exit code and output."""

    steps: list[Step] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, label: str, args: list[str], cwd: Path, env: Mapping[str, str]) -> Step:
        started = time.monotonic()
        with mypy_cache_lock(args, env):
            result = subprocess.run(
                args,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
            )
        step = Step(label, result.returncode, time.monotonic() - started, result.stdout)
        with self.lock:
            self.steps.append(step)
        return step

    @contextmanager
    def timed(self, label: str) -> Iterator[None]:
        """Time what runs in the block (in this process) as a step of its own."""
        started = time.monotonic()
        yield
        with self.lock:
            self.steps.append(Step(label, 0, time.monotonic() - started, ""))

    def failures(self) -> list[Step]:
        return [step for step in self.steps if step.returncode != 0]

    def report(self) -> str:
        failed = self.failures()
        timings = ", ".join(f"{s.label} {s.seconds:.0f}s" for s in self.steps)
        return "\n".join([f"steps: {timings}", *(s.tail() for s in failed)])


# --------------------------------------------------------------------------- README and CI


def readme_commands(project: Path) -> list[str]:
    """The commands of the README's quick start, in order."""
    readme = (project / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the README's quick start has no bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def ci_jobs(project: Path) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """``{job: [(run script, env), ...]}`` from the generated ci.yml, in order."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert "defaults" not in workflow, "defaults: not modelled here"
    jobs: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for name, job in workflow["jobs"].items():
        assert "defaults" not in job and "services" not in job and "container" not in job, name
        steps = []
        for step in job["steps"]:
            if "run" in step:
                assert "working-directory" not in step and "shell" not in step, step
                env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                steps.append((str(step["run"]), {k: str(v) for k, v in env.items()}))
        jobs[name] = steps
    return jobs


FULL_SUITE = "make test-all"


@contextmanager
def ci_in_background(
    pristine: Path, scratch: Path, env: Mapping[str, str], record: Record, full_suite: bool
) -> Iterator[dict[str, Path]]:
    """Every CI job in its own fresh copy, in a thread of its own (the job with the slow
    tests first: they mostly wait); yields each job's directory, and waits for the jobs
    at the end of the block (if the block fails, after the step that is running).

    GitHub runs the jobs on machines of their own; one after the other here keeps the
    load to two commands per test (this and the README's), which the generated suite's
    deadline tests are written for. Without ``full_suite``, the job that runs the slow
    tests is left out."""
    jobs = ci_jobs(pristine)
    assert jobs and all(jobs.values()), jobs
    assert any(script.strip() == FULL_SUITE for steps in jobs.values() for script, _ in steps)
    if not full_suite:
        jobs = {
            name: steps
            for name, steps in jobs.items()
            if FULL_SUITE not in {script.strip() for script, _ in steps}
        }
    checkouts = {name: scratch / f"ci-{name}" for name in jobs}
    ci_env = {**env, "CI": "true", "GITHUB_ACTIONS": "true"}

    cancelled = threading.Event()

    def job(name: str) -> None:
        shutil.copytree(pristine, checkouts[name], symlinks=True)
        for index, (script, step_env) in enumerate(jobs[name]):
            if cancelled.is_set():
                return
            bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
            label = f"CI {name} #{index + 1} `{script.strip()}`"
            if record.run(label, bash, checkouts[name], {**ci_env, **step_env}).returncode:
                return  # a failed step ends the job, as on GitHub

    def all_jobs() -> None:
        for name in sorted(jobs, key=lambda name: FULL_SUITE not in str(jobs[name])):
            job(name)

    thread = threading.Thread(target=all_jobs)
    thread.start()
    try:
        yield checkouts
    except BaseException:
        cancelled.set()
        raise
    finally:
        thread.join(STEP_TIMEOUT_S * 4)


# --------------------------------------------------------------------------- the database

# Runs in the project's own .venv: its stand-in server, until stdin says otherwise.
STANDIN_DRIVER = """\
import json, sys
from local.standin import StandIn

auth, topology, users = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with StandIn(topology=topology, auth=auth, users=users) as server:
    print(json.dumps({"uri": server.uri}), flush=True)
    for line in sys.stdin:
        if line.strip() == "sockets":
            print(json.dumps({"sockets": len(server.ports())}), flush=True)
        elif line.strip() == "signers":  # the access key id of each MONGODB-AWS conversation
            signers = [str(c.get("client_second", {}).get("a", "")).partition("Credential=")[2]
                       .split("/")[0] for c in server.aws_conversations]
            print(json.dumps({"signers": signers}), flush=True)
        else:
            break
"""


@dataclass
class Database:
    uri: str
    _process: subprocess.Popen[str]

    def sockets(self) -> int:
        """Client sockets that sent the stand-in at least one command."""
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write("sockets\n")
        self._process.stdin.flush()
        count: int = json.loads(self._process.stdout.readline())["sockets"]
        return count

    def signers(self) -> list[str]:
        """The access key id that signed each MONGODB-AWS conversation."""
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write("signers\n")
        self._process.stdin.flush()
        found: list[str] = json.loads(self._process.stdout.readline())["signers"]
        return found


@contextmanager
def stand_in(
    project: Path, auth: str, topology: str, users: Mapping[str, str]
) -> Iterator[Database]:
    """The project's stand-in server (local/standin.py), in the project's own venv."""
    process = subprocess.Popen(
        [str(project / ".venv" / "bin" / "python"), "-c", STANDIN_DRIVER, auth, topology,
         json.dumps(dict(users))],
        cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout
        line = process.stdout.readline()
        assert line, f"the stand-in did not start (exit code {process.wait()})"
        yield Database(json.loads(line)["uri"], process)
    finally:
        assert process.stdin
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


DB_USER = "app-user"
DB_PASSWORD = "user-path-password-0123456789"  # pragma: allowlist secret
SECRET_ARN = (
    "arn:aws:secretsmanager:{region}:123456789012:secret:user-path-db"  # pragma: allowlist secret
)
THROWAWAY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAUSERPATHKEY00000",
    "AWS_SECRET_ACCESS_KEY": "user-path-not-a-secret",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "user-path-session-token",
}


@dataclass
class Deployment:
    """A "real" deployment on loopback: the database and, in password mode, its secret."""

    database: Database
    secrets: SecretsManager
    secret_arn: str | None

    def function_env(self, database_name: str) -> dict[str, str]:
        env = {"MONGODB_URI": self.database.uri, "MONGODB_DATABASE": database_name}
        if self.secret_arn:
            env["MONGODB_SECRET_ARN"] = self.secret_arn
            env.update(secrets_manager_env(self.secrets.endpoint))
        return env


@contextmanager
def deployment(project: Path, answers: Mapping[str, Any]) -> Iterator[Deployment]:
    password = answers["auth_mode"] == "password"
    arn = SECRET_ARN.format(region=answers.get("aws_region", "us-east-1")) if password else None
    secret = json.dumps({"username": DB_USER, "password": DB_PASSWORD})
    users = {DB_USER: DB_PASSWORD} if password else {}
    with (
        SecretsManager({arn: secret} if arn else {}) as secrets,
        stand_in(project, answers["auth_mode"], answers["cluster_topology"], users) as database,
    ):
        yield Deployment(database, secrets, arn)


def env_file(project: Path, values: Mapping[str, str]) -> str:
    """``.env`` as a user writes it: ``.env.example`` with its blanks filled in, and what
    it does not name (the credentials a profile would give) added."""
    lines = (project / ".env.example").read_text().splitlines()
    named = {line.split("=", 1)[0] for line in lines if "=" in line and line[:1].isalpha()}
    lines = [
        f"{line}{shlex.quote(values[line[:-1]])}" if line.endswith("=") and line[:-1] in values
        else line
        for line in lines
    ]  # fmt: skip
    lines += [f"{name}={shlex.quote(value)}" for name, value in values.items() if name not in named]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the function


def declared_handler(project: Path, package: str, iac_tool: str) -> str:
    """The handler path the infrastructure gives the function: ``<package>.<module>.<name>``."""
    found = {
        match.group(0)
        for path in (project / "infra" / iac_tool).rglob("*")
        if path.is_file() and path.suffix in {".tf", ".yaml", ".yml", ".py", ".json"}
        for match in re.finditer(rf"\b{package}(?:\.\w+)+\b", path.read_text())
    }
    assert len(found) == 1, f"infra/{iac_tool} should name one handler, names {sorted(found)}"
    return found.pop()


def invoke_through_the_runtime(api: Any) -> tuple[list[tuple[str, int, int]], list[str]]:
    """53 invocations as API Gateway sends them; ``(what, expected, got)`` and errors."""
    results: list[tuple[str, int, int]] = []
    errors: list[str] = []

    def call(what: str, expected: int, event: dict[str, Any]) -> dict[str, Any]:
        outcome = api.invoke(event)
        if not outcome.ok:
            errors.append(f"{what}: the runtime posted an error: {outcome.body[:500]!r}")
            return {}
        response: dict[str, Any] = outcome.json()
        results.append((what, expected, int(response.get("statusCode", 0))))
        return response

    call("GET /health", 200, http_api_event("GET", "/health"))
    for index in range(25):
        created = call(
            "POST /items", 201, http_api_event("POST", "/items", {"name": f"item {index}"})
        )
        item_id = json.loads(created.get("body") or "{}").get("id", "0" * 24)
        call("GET /items/{id}", 200, http_api_event("GET", f"/items/{item_id}"))
    call("GET /items/<absent>", 404, http_api_event("GET", "/items/" + "0" * 24))
    call("GET /no-such-route", 404, http_api_event("GET", "/no-such-route"))
    return results, errors


MAX_ZIP_BYTES = 6_500_000


INITIALIZATION_TYPES = {
    "on_demand": "on-demand",
    "snapstart": "snap-start",
    "provisioned": "provisioned-concurrency",
}


def initialised(
    cold_start: str, api: Any, target: Deployment, role: ContainerCredentials, function: Any
) -> int:
    """The database's sockets when INIT is over. SnapStart: at the snapshot (the runtime
    waits on restore/next), which must hold no socket and no credentials; then restore."""
    sockets = target.database.sockets()
    if cold_start == "snapstart":
        assert api.snapshot_requested.is_set() and api.polls == 0, function.output()[-3000:]
        assert role.requests == [], "credentials resolved before the snapshot"
        if target.secret_arn:
            assert target.secrets.reads.get(target.secret_arn, 0) == 0, "secret read before it"
        api.restore()
    return sockets


def check_the_zip(archive: Path, variant: Variant, package: str) -> list[str]:
    """What Lambda needs from the package (beyond loading it, which the runtime proves)."""
    names = zipfile.ZipFile(archive).namelist()
    problems = []
    if bundled := [n for n in names if n.startswith(RUNTIME_PROVIDED)]:
        problems.append(f"ships what the runtime provides: {bundled[:3]}")
    tag = "cpython-" + variant.python_version.replace(".", "")
    if f"{package}/__pycache__/handler.{tag}.pyc" not in names:
        problems.append(f"no {tag} bytecode for {package}/handler.py")
    machine = "aarch64" if variant.architecture == "arm64" else "x86_64"
    if wrong := [n for n in names if n.endswith(".so") and machine not in n]:
        problems.append(f"native code for another machine than {machine}: {wrong[:3]}")
    if (size := archive.stat().st_size) >= MAX_ZIP_BYTES:  # 0.3x `pip install "pymongo[aws]"`
        problems.append(f"{size} bytes: the zip outgrew {MAX_ZIP_BYTES}")
    return problems


# --------------------------------------------------------------------------- the test


def project_answers(project: Path) -> tuple[str, str]:
    """(package, function name) of a rendered project."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    package = Path(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]).name
    return package, pyproject["project"]["name"]


# The longest first, so that two workers finish together.
SCHEDULE = sorted(
    VARIANTS, key=lambda v: (not v.full_suite, v.answers["iac_tool"] != "cdk", v.installer)
)


@pytest.mark.slow
@pytest.mark.parametrize("variant", SCHEDULE, ids=lambda v: v.id)
def test_user_path(variant: Variant, tmp_path: Path) -> None:
    answers = variant.answers
    pristine = render(tmp_path / "render", **answers)
    package, function_name = project_answers(pristine)
    uv = variant.installer == "uv"
    record = Record()

    # 1. CI, in the background: its test job waits on the generated suite's timeouts.
    ci_env = user_environment(tmp_path / "ci-bin", variant.python_version, uv=uv,
                              setup_python=True)  # fmt: skip
    with ci_in_background(pristine, tmp_path, ci_env, record, variant.full_suite) as checkouts:
        # 2. The README's quick start, in order.
        project = tmp_path / "user"
        shutil.copytree(pristine, project, symlinks=True)
        env = user_environment(tmp_path / "user-bin", variant.python_version, uv=uv)
        commands = readme_commands(project)
        assert commands[:4] == ["make lint", "make test", "make package", "make invoke"], commands
        for command in commands:
            step = record.run(f"README `{command}`", command.split(), project, env)
            assert step.returncode == 0, record.report()
            assert PYTHON_WARNING not in step.output, step.tail()
        venv_config = (project / ".venv" / "pyvenv.cfg").read_text()
        assert (re.search(r"^uv = ", venv_config, re.MULTILINE) is not None) == uv, venv_config
        version = re.search(r"^version(?:_info)? = (\d+\.\d+)", venv_config, re.MULTILINE)
        assert version and version.group(1) == variant.python_version, venv_config
        archive = project / "dist" / "lambda.zip"
        problems = check_the_zip(archive, variant, package)
        assert not problems, problems

        database_name = str(answers.get("database_name", "app"))
        region = str(answers.get("aws_region", "us-east-1"))
        with deployment(project, answers) as target:
            # 3. `make invoke` against that deployment, configured in .env.
            settings = {**target.function_env(database_name), **THROWAWAY_CREDENTIALS}
            (project / ".env").write_text(env_file(project, settings))
            step = record.run("`make invoke` with .env", ["make", "invoke"], project, env)
            assert step.returncode == 0, record.report()
            assert target.database.sockets() >= 1, "make invoke did not reach MONGODB_URI from .env"
            if target.secret_arn:
                assert target.secrets.reads.get(target.secret_arn, 0) >= 1, step.tail()

        # 4. The zip, served as Lambda serves it, on a fresh database, and initialised as
        # the variant's cold-start mode has Lambda do it.
        cold_start = str(answers.get("cold_start", "on_demand"))
        with (
            record.timed("dist/lambda.zip in the Lambda runtime"),
            deployment(project, answers) as target,
            ContainerCredentials() as role,
        ):
            function_env = {
                **target.function_env(database_name),
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                "FUNCTION_TIMEOUT_S": str(answers.get("lambda_timeout_s", "15")),
            }
            handler = declared_handler(project, package, answers["iac_tool"])
            with serve(
                archive, handler, python_version=variant.python_version, scratch=tmp_path,
                function_name=function_name, region=region, function_env=function_env,
                extra_env={"PYTHONVERBOSE": "1", "PYTHONDONTWRITEBYTECODE": "1"},
                initialization_type=INITIALIZATION_TYPES[cold_start],
                container_credentials=role if cold_start == "snapstart" else None,
            ) as (api, function):  # fmt: skip
                at_init = initialised(cold_start, api, target, role, function)
                results, errors = invoke_through_the_runtime(api)
                sockets = target.database.sockets()
                signers = target.database.signers()
                still_running = function.exit_code is None
            log = function.output()
            if target.secret_arn:
                reads = target.secrets.reads.get(target.secret_arn, 0)
                assert reads == 1, f"{reads} secret reads for one container"
                assert target.secrets.unsigned == 0
        assert not errors, [*errors, log[-3000:]]
        assert [r for r in results if r[1] != r[2]] == [], results
        assert len(results) == 53 and still_running and api.init_error is None
        assert sockets == 2, f"53 invocations used {sockets} sockets (1 pooled + 1 monitoring)"
        connected_at_init = 2 if cold_start == "provisioned" else 0  # monitoring + pooled
        assert at_init == connected_at_init, log[-3000:]
        if cold_start == "snapstart":
            # Restored: hooks ran, and the role's credentials came from the container endpoint.
            assert "restored from a snapshot" in log and api.restore_error is None, log[-3000:]
            assert role.requests and set(role.requests) == {role.TOKEN}, role.requests
            if answers["auth_mode"] == "iam":
                assert signers == [role.ACCESS_KEY_ID], signers
        if cold_start == "provisioned":
            assert "connected during INIT" in log, log[-3000:]
        task = tmp_path / "task"
        tag = "cpython-" + variant.python_version.replace(".", "")
        # Imported from the zip's bytecode, as Lambda does: its task root is read-only.
        assert f"code object from '{task}/{package}/__pycache__/handler.{tag}.pyc'" in log
        if HOST_ARCHITECTURE.get(platform.machine()) == variant.architecture:
            assert re.search(rf"extension module '[\w.]+' loaded from '{task}/", log), (
                "no native extension of the zip loaded"
            )

    # 5. CI's verdict; its package job's zip is the README's, byte for byte.
    assert not record.failures(), record.report()
    ci_steps = [step for step in record.steps if step.label.startswith("CI ")]
    scripts = [script.strip() for steps in ci_jobs(pristine).values() for script, _ in steps]
    if not variant.full_suite:
        scripts = [script for script in scripts if script != FULL_SUITE]
    assert len(ci_steps) == len(scripts), ci_steps
    built = [c / "dist" / "lambda.zip" for c in checkouts.values() if (c / "dist").exists()]
    assert built and all(p.read_bytes() == archive.read_bytes() for p in built), (
        "the package is not reproducible"
    )
    print(f"{variant.id}: {record.report()}", file=sys.stderr)


# --------------------------------------------------------------------------- the Makefile

MAKE = shutil.which("make") or "make"
MAKE_TARGET = re.compile(r"^([a-z-]+):([^#\n]*)(?:##\s*(.*))?$", re.MULTILINE)


def other_python() -> tuple[str, str]:
    """(a Lambda Python version, an interpreter of another version): this one."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    return ("3.12" if running == "3.13" else "3.13"), sys.executable


def fake_venv(project: Path, python: str) -> None:
    """A .venv whose python is ``python`` for version checks and prints its arguments
    (with the MONGODB_ variables it sees) for anything else; its tools do the same."""
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -c ]; then exec "{python}" "$@"; fi\n'
        'echo "ran: python $* uri=[$MONGODB_URI] database=[$MONGODB_DATABASE]"\n'
    )
    for name in ("ruff", "mypy"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "ran: {name} $*"\n')
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    time.sleep(0.01)
    (project / ".venv" / ".installed").touch()  # newer than pyproject.toml: no rebuild


def venv_targets(project: Path) -> list[str]:
    makefile = (project / "Makefile").read_text()
    return [m.group(1) for m in MAKE_TARGET.finditer(makefile) if "$(STAMP)" in m.group(2)]


def test_every_target_that_uses_the_venv_checks_its_python(tmp_path: Path) -> None:
    project = render(tmp_path)
    makefile = (project / "Makefile").read_text()
    targets = venv_targets(project)
    assert {"install", "test", "test-all", "lint", "invoke", "package"} <= set(targets)
    for match in MAKE_TARGET.finditer(makefile):
        if "$(STAMP)" in match.group(2):
            assert "check-python" in match.group(2).split(), match.group(0)


@pytest.mark.parametrize("same_python", [False, True], ids=["other-python", "runtime-python"])
def test_make_says_on_every_target_when_the_venv_is_not_on_the_runtimes_python(
    tmp_path: Path, same_python: bool
) -> None:
    version, other = other_python()
    project = render(tmp_path, python_version=version)
    fake_venv(project, find_python(version) if same_python else other)
    env = user_environment(tmp_path / "bin", version, uv=False)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    for target in venv_targets(project):
        result = subprocess.run(
            [MAKE, target], cwd=project, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ran: " in result.stdout or target == "install", (target, result.stdout)
        if same_python:
            assert PYTHON_WARNING not in result.stderr, (target, result.stderr)
        else:
            assert f"{PYTHON_WARNING} {running}, not {version}" in result.stderr, (
                target,
                result.stderr,
            )
            assert f"make clean install PYTHON=/path/to/python{version}" in result.stderr


def only_on_path(bin_dir: Path, **links: str) -> dict[str, str]:
    """An environment whose PATH is ``bin_dir`` holding exactly ``links`` (name -> target)."""
    bin_dir.mkdir(parents=True)
    for name, target in links.items():
        (bin_dir / name).symlink_to(target)
    return {"PATH": str(bin_dir), "HOME": str(bin_dir), "LANG": "C.UTF-8"}


def test_without_the_runtimes_python_make_falls_back_to_python3_and_says_so(
    tmp_path: Path,
) -> None:
    version, other = other_python()
    project = render(tmp_path, python_version=version)
    env = only_on_path(tmp_path / "bin", python3=other)
    dry = subprocess.run([MAKE, "-n", "install"], cwd=project, env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert f"{tmp_path / 'bin' / 'python3'} -m venv .venv" in dry.stdout, dry.stdout
    check = subprocess.run([MAKE, "check-python"], cwd=project, env=env, capture_output=True,
                           text=True, check=False)  # fmt: skip
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert check.returncode == 0
    assert f"{PYTHON_WARNING} {running}, not {version}" in check.stderr, check.stderr


def test_with_the_runtimes_python_or_uv_make_uses_them_quietly(tmp_path: Path) -> None:
    version, _ = other_python()
    project = render(tmp_path, python_version=version)
    python = find_python(version)
    for name, links, expected in [
        ("python", {f"python{version}": python}, f"python/python{version} -m venv .venv"),
        ("uv", {"uv": uv_bin()}, f"uv/uv venv --quiet --seed --python {version} .venv"),
    ]:
        env = only_on_path(tmp_path / name, **links)
        dry = subprocess.run([MAKE, "-n", "install"], cwd=project, env=env, capture_output=True,
                             text=True, check=False)  # fmt: skip
        assert f"{tmp_path}/{expected}" in dry.stdout, (name, dry.stdout)
        check = subprocess.run([MAKE, "check-python"], cwd=project, env=env,
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert check.returncode == 0 and check.stderr == "", (name, check.stderr)


def test_an_inactive_pyenv_python_is_found_where_pyenv_installed_it(tmp_path: Path) -> None:
    """pyenv's shim for a version that is not active does not run; make looks in pyenv's root."""
    version, other = other_python()
    project = render(tmp_path, python_version=version)
    root = tmp_path / "pyenv-root"
    installed = root / "versions" / f"{version}.99" / "bin"
    installed.mkdir(parents=True)
    (installed / f"python{version}").symlink_to(find_python(version))
    env = only_on_path(tmp_path / "bin", python3=other)
    pyenv = tmp_path / "bin" / "pyenv"
    pyenv.write_text(f"#!/bin/sh\necho {root}\n")
    pyenv.chmod(0o755)
    dry = subprocess.run([MAKE, "-n", "install"], cwd=project, env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert f"python{version} -m venv .venv" in dry.stdout, dry.stdout
    assert f"{tmp_path / 'bin' / 'python3'} -m venv" not in dry.stdout, dry.stdout
    check = subprocess.run([MAKE, "check-python"], cwd=project, env=env, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert check.returncode == 0 and check.stderr == "", check.stderr


# --------------------------------------------------------------------------- .env


def test_make_invoke_reads_dot_env_and_the_environment_wins(tmp_path: Path) -> None:
    version, _ = other_python()
    project = render(tmp_path, python_version=version)
    fake_venv(project, find_python(version))
    env = user_environment(tmp_path / "bin", version, uv=False)

    def invoke(**extra: str) -> str:
        result = subprocess.run([MAKE, "invoke"], cwd=project, env={**env, **extra},
                                capture_output=True, text=True, check=False)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "uri=[] database=[]" in invoke()  # no .env: nothing read, the stand-in runs
    (project / ".env").write_text(
        env_file(project, {"MONGODB_URI": "mongodb+srv://cluster0.ab1cd.mongodb.net/"})
    )
    from_file = invoke()
    assert "reading .env" in from_file
    assert "uri=[mongodb+srv://cluster0.ab1cd.mongodb.net/] database=[app]" in from_file
    assert "database=[from-env]" in invoke(MONGODB_DATABASE="from-env")
    assert ".env\n" in (project / ".gitignore").read_text().splitlines(keepends=True)


@pytest.mark.parametrize(
    "answers",
    [{}, {"auth_mode": "password", "database_name": "données-ü&'x`id`;x"}],
    ids=["iam", "password-hostile-database"],
)
def test_env_example_sources_to_the_answers_and_names_only_what_is_read(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    (tmp_path / ".env.example").write_text(render_file(".env.example", **answers))
    shown = subprocess.run(
        ["sh", "-c", 'set -a; . ./.env.example; printf "%s\\n" "$MONGODB_DATABASE"'],
        cwd=tmp_path, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    assert shown == answers.get("database_name", "app") + "\n"
    assigned = {
        line.split("=", 1)[0].lstrip("# ")
        for line in (tmp_path / ".env.example").read_text().splitlines()
        if re.match(r"^(# )?[A-Z_]+=", line)
    }
    expected = {"MONGODB_URI", "MONGODB_DATABASE", "AWS_PROFILE", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS"}  # fmt: skip
    # Password mode: the secret's ARN, or (local runs only) the database user itself.
    password = {"MONGODB_SECRET_ARN", "MONGODB_USERNAME", "MONGODB_PASSWORD"}
    assert assigned == expected | (password if answers else set())


# --------------------------------------------------------------------------- the README


def test_readme_names_every_make_target_and_only_those(tmp_path: Path) -> None:
    project = render(tmp_path, iac_tool="cdk")
    readme = (project / "README.md").read_text()
    shown = set(re.findall(r"^make ([a-z-]+)", readme, re.MULTILINE))
    makefile = (project / "Makefile").read_text()
    documented = {m.group(1) for m in MAKE_TARGET.finditer(makefile) if m.group(3)}
    assert shown == documented - {"help"}


@pytest.mark.parametrize("package_name", ["a", "atlas_lambda_service", "x" * 40])
def test_readme_layout_block_is_aligned_for_any_package_name(package_name: str) -> None:
    readme = render_file("README.md", package_name=package_name)
    block = readme.split("## Layout", 1)[1].split("```")[1].strip("\n").splitlines()
    assert len(block) > 5 and any(package_name in line for line in block)
    columns = {re.search(r"\S\s{2,}(\S)", line).end(1) for line in block}  # type: ignore[union-attr]
    assert len(columns) == 1, block
