"""Generated projects pass their own checks: ruff, mypy, their tests, local invoke, packaging.

Every supported combination is linted and type-checked.  Combinations whose
Python code is identical (network mode and IaC tool don't change it) share one
mypy run and one test-suite run: the fingerprint of the code decides.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, combination, combination_id
from conftest import Render
from toolchains import PROJECT_REQUIREMENTS, TOOLCHAINS, project_venv, python_of, run

pytestmark = pytest.mark.slow

CODE_DIRS = ("src", "tests", "local", "scripts")
# The code variants the generated test suites run on: auth x topology on the default
# Python, plus the other Lambda runtime and architecture.
SUITE_VARIANTS: list[dict[str, Any]] = [
    combination(auth, "private_endpoint", "terraform", topology)
    for auth in ("iam", "password")
    for topology in ("replica_set", "sharded")
] + [
    combination("iam", "nat", "sam", "replica_set", python_version="3.12", architecture="x86_64"),
    combination("password", "peering", "terraform", "replica_set", python_version="3.12"),
    # Hostile free text: quotes, braces, shell metacharacters, unicode (raw blocks keep
    # cookiecutter from rendering the command-line value as Jinja).
    combination(
        "iam",
        "nat",
        "terraform",
        "replica_set",
        project_name='{% raw %}Ünïcode "q" {{ not jinja }} $(id) ;`x` \\{% endraw %}',
        database_name="données-ü&'x",
        aws_region="eu-west-1",
    ),
]


# The CDK stack's own test module needs the CDK libraries; tests/test_cdk.py type-checks
# and runs it for every distinct CDK variant.
IAC_TEST_MODULES = "tests/test_infra_"


def fingerprint(project: Path) -> str:
    digest = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((project / folder).rglob("*.py")):
            if path.relative_to(project).as_posix().startswith(IAC_TEST_MODULES):
                continue
            digest.update(path.relative_to(project).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def venv_bin() -> Any:
    """bin/ of the toolchain venv for a Python version, created once per machine."""
    cache: dict[str, Path] = {}

    def _bin(version: str) -> Path:
        if version not in cache:
            cache[version] = project_venv(version)
        return cache[version]

    return _bin


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_every_combination_is_ruff_clean(
    render_once: Render, venv_bin: Any, combo: dict[str, Any]
) -> None:
    project = render_once(**combo)
    ruff = str(venv_bin(python_of(project)) / "ruff")
    check = run([ruff, "check", "--no-cache", "."], project)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run([ruff, "format", "--check", "--no-cache", "."], project)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


_mypy_results: dict[str, subprocess.CompletedProcess[str]] = {}


@pytest.mark.parametrize("combo", [*SUPPORTED, *SUITE_VARIANTS[4:]], ids=combination_id)
def test_every_combination_passes_mypy_strict(
    render_once: Render, venv_bin: Any, combo: dict[str, Any]
) -> None:
    project = render_once(**combo)
    key = fingerprint(project) + python_of(project)
    if key not in _mypy_results:
        mypy = str(venv_bin(python_of(project)) / "mypy")
        cache = TOOLCHAINS / "mypy-cache" / python_of(project)
        _mypy_results[key] = run(
            [mypy, "--cache-dir", str(cache), "--exclude", IAC_TEST_MODULES, *CODE_DIRS], project
        )
    result = _mypy_results[key]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


@pytest.mark.parametrize("variant", SUITE_VARIANTS, ids=combination_id)
def test_generated_test_suite_passes(
    render_once: Render, venv_bin: Any, variant: dict[str, Any]
) -> None:
    project = render_once(**variant)
    python = str(venv_bin(python_of(project)) / "python")
    result = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_suite_variants_cover_every_code_fingerprint(render_once: Render) -> None:
    """Any combination's code is identical to one whose test suite runs above."""
    covered = {fingerprint(render_once(**v)) for v in SUITE_VARIANTS}
    for combo in SUPPORTED:
        assert fingerprint(render_once(**combo)) in covered, combination_id(combo)


@pytest.mark.parametrize("auth_mode", ["iam", "password"])
def test_local_invoke_shows_connection_reuse(
    render_once: Render, venv_bin: Any, auth_mode: str
) -> None:
    project = render_once(auth_mode=auth_mode)
    python = str(venv_bin(python_of(project)) / "python")
    env = {"PYTHONPATH": "src", "MONGODB_URI": ""}
    result = run([python, "-m", "local.invoke"], project, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    rows = [
        line.split()
        for line in lines
        if line.split()[:1] in (["health"], ["create_item"], ["get_item"])
    ]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("health", "1", "200"), ("health", "2", "200"),
        ("create_item", "1", "201"), ("create_item", "2", "201"),
        ("get_item", "1", "200"), ("get_item", "2", "200"),
    ]  # fmt: skip
    assert {r[4] for r in rows} == {"2"}  # the same 2 sockets from first call to last
    assert [r[6] for r in rows] == ["cold"] + ["warm"] * 5  # read from the JSON log lines
    assert "sockets the server saw: 2 (1 for commands" in result.stdout
    assert "the 5 after it opened none" in result.stdout  # ConnectionsCreated, per invocation
    assert f"(auth: {auth_mode})" in result.stdout


RUNTIME_PROVIDED = ("boto3/", "botocore/", "s3transfer/", "dateutil/", "jmespath/", "urllib3/")


@pytest.mark.parametrize(
    "answers",
    [
        {"auth_mode": "iam"},
        {"auth_mode": "password", "architecture": "x86_64", "python_version": "3.12"},
    ],
    ids=["iam-arm64-3.13", "password-x86_64-3.12"],
)
def test_package_builds_a_lambda_zip_without_the_runtime_sdk(
    render_once: Render, venv_bin: Any, answers: dict[str, str]
) -> None:
    project = render_once(**answers)
    python = str(venv_bin(python_of(project)) / "python")
    result = run([python, "scripts/package.py"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    archive = project / "dist" / "lambda.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert "atlas_lambda_service/handler.py" in names
    assert any(n.startswith("pymongo/") for n in names)
    assert any(n.startswith("bson/") for n in names)
    assert any(n.startswith("dns/") for n in names)
    assert any(n.startswith("aws_lambda_powertools/") for n in names)
    assert (answers["auth_mode"] == "iam") == any(n.startswith("pymongo_auth_aws/") for n in names)
    assert not [n for n in names if n.startswith(RUNTIME_PROVIDED)]
    # Bytecode for the runtime's Python only, the package's own modules included.
    tag = "cpython-" + python_of(project).replace(".", "")
    pyc = [n for n in names if n.endswith(".pyc")]
    assert f"atlas_lambda_service/__pycache__/handler.{tag}.pyc" in pyc
    assert all(f".{tag}." in n for n in pyc), pyc[:5]
    arch = "aarch64" if answers.get("architecture", "arm64") == "arm64" else "x86_64"
    native = [n for n in names if n.endswith(".so")]
    assert native and all(arch in n for n in native), native
    assert archive.stat().st_size < 6_500_000  # 0.3x `pip install "pymongo[aws]"`, zipped
    first = archive.read_bytes()
    again = run([python, "scripts/package.py"], project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert archive.read_bytes() == first, "the package is not reproducible"


def test_toolchain_pins_match_the_generated_ranges(render_once: Render) -> None:
    """The pinned versions the suite installs satisfy the generated pyproject's ranges."""
    import tomllib

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((render_once(auth_mode="password") / "pyproject.toml").read_text())
    ranges = {
        Requirement(r).name: Requirement(r)
        for r in pyproject["project"]["optional-dependencies"]["dev"]
    }
    for dependency in pyproject["project"]["dependencies"]:
        ranges[Requirement(dependency).name] = Requirement(dependency)
    for pin in PROJECT_REQUIREMENTS:
        requirement = Requirement(pin)
        if requirement.name in ranges:
            version = next(iter(requirement.specifier)).version
            assert ranges[requirement.name].specifier.contains(version), (
                pin,
                ranges[requirement.name],
            )
