"""Generated projects are ruff-clean and pass mypy --strict, in every combination.

Every supported combination is linted (with package names on both sides of ``local``:
ruff sorts imports by name) and type-checked. Combinations whose Python code is identical
(network mode and IaC tool don't change it) share one mypy run: the fingerprint of the
code decides. The generated test suites, ``make invoke`` and ``make package`` run in
tests/test_user_path.py, each in the environment the project's own files build; the
fingerprint test below checks its variants run every distinct code's suite.
"""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, combination_id
from conftest import Render
from packaging.requirements import Requirement
from toolchains import (
    PROJECT_REQUIREMENTS,
    TOOLCHAINS,
    mypy_cache,
    project_venv,
    python_of,
    run,
)
from user_variants import VARIANTS

pytestmark = pytest.mark.slow

CODE_DIRS = ("src", "tests", "local", "scripts")
# Package names either side of "local" (the local/ tools' import sorts against them).
PACKAGE_NAMES = ("atlas_lambda_service", "orders_api")


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


@pytest.mark.parametrize("package_name", PACKAGE_NAMES)
@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_every_combination_is_ruff_clean(
    render_once: Render, venv_bin: Any, combo: dict[str, Any], package_name: str
) -> None:
    names = {} if package_name == PACKAGE_NAMES[0] else {"package_name": package_name}
    project = render_once(**combo, **names)
    ruff = str(venv_bin(python_of(project)) / "ruff")
    check = run([ruff, "check", "--no-cache", "."], project)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run([ruff, "format", "--check", "--no-cache", "."], project)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


_mypy_results: dict[str, subprocess.CompletedProcess[str]] = {}


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_every_combination_passes_mypy_strict(
    render_once: Render, venv_bin: Any, combo: dict[str, Any]
) -> None:
    project = render_once(**combo)
    key = fingerprint(project) + python_of(project)
    if key not in _mypy_results:
        mypy = str(venv_bin(python_of(project)) / "mypy")
        with mypy_cache(TOOLCHAINS / "mypy-cache" / python_of(project)) as cache:
            _mypy_results[key] = run(
                [mypy, "--cache-dir", str(cache), "--exclude", IAC_TEST_MODULES, *CODE_DIRS],
                project,
            )
    result = _mypy_results[key]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def on_demand(answers: dict[str, Any]) -> dict[str, Any]:
    return {**answers, "cold_start": "on_demand"}


def test_suite_variants_cover_every_code_fingerprint(render_once: Render) -> None:
    """Any combination's code is identical to one whose whole test suite (`make test-all`)
    runs in tests/test_user_path.py, but for what its cold-start mode adds: INIT code
    (cold_start.py), whose tests are fast, so every variant's `make test` runs them. That
    mode, with the combination's auth mode, must be some variant's."""
    covered = {fingerprint(render_once(**on_demand(v.answers))) for v in VARIANTS if v.full_suite}
    modes = {(v.answers.get("cold_start", "on_demand"), v.answers["auth_mode"]) for v in VARIANTS}
    for combo in SUPPORTED:
        assert fingerprint(render_once(**on_demand(combo))) in covered, combination_id(combo)
        assert (combo.get("cold_start", "on_demand"), combo["auth_mode"]) in modes


@pytest.mark.parametrize("auth_mode", ["iam", "password"])
def test_generated_dev_tools_are_pinned_as_the_toolchain_pins_them(
    render_once: Render, auth_mode: str
) -> None:
    """The generated project pins its dev tools exactly (CI must not break on a new ruff or
    mypy), at the versions this suite runs them at (tests/toolchains.py)."""
    pyproject = tomllib.loads((render_once(auth_mode=auth_mode) / "pyproject.toml").read_text())
    dev = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["dev"]]
    toolchain = {Requirement(pin).name: Requirement(pin) for pin in PROJECT_REQUIREMENTS}
    assert dev
    for requirement in dev:
        assert str(requirement.specifier).startswith("=="), f"{requirement} is not pinned"
        assert requirement.name in toolchain, f"{requirement.name}: not in PROJECT_REQUIREMENTS"
        assert requirement.specifier == toolchain[requirement.name].specifier, (
            requirement,
            toolchain[requirement.name],
        )
    runtime = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    pinned = {name for name in toolchain if name not in {r.name for r in runtime}}
    if auth_mode == "password":  # the superset: every dev tool the toolchain pins
        assert pinned == {r.name for r in dev}


@pytest.mark.parametrize(
    "answers",
    [
        {"auth_mode": "iam", "cold_start": "snapstart"},
        {"auth_mode": "password", "cold_start": "provisioned"},
    ],
    ids=["iam-snapstart", "password-provisioned"],
)
def test_python_3_14_projects_check_for_3_14_and_pass_their_suite_on_the_nearest_python(
    render_once: Render, venv_bin: Any, answers: dict[str, str], tmp_path: Path
) -> None:
    """Lambda runs Python 3.14; where no 3.14 interpreter exists (these machines), mypy still
    checks the code for 3.14 (ruff too: test_every_combination_is_ruff_clean does not cover
    3.14, so check it here), the fast suite runs on the nearest Python, and `make package`
    says it ships no bytecode."""
    project = render_once(python_version="3.14", **answers)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["ruff"]["target-version"] == "py314"
    assert pyproject["tool"]["mypy"]["python_version"] == "3.14"
    bin_dir = venv_bin("3.14")
    ruff = run([str(bin_dir / "ruff"), "check", "--no-cache", "."], project)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    with mypy_cache(TOOLCHAINS / "mypy-cache" / "3.14") as cache:
        mypy = run([str(bin_dir / "mypy"), "--cache-dir", str(cache),
                    "--exclude", IAC_TEST_MODULES, *CODE_DIRS], project)  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    if answers["auth_mode"] == "iam":  # one suite is enough to show the code runs (moto is slow)
        suite = run([str(bin_dir / "python"), "-m", "pytest", "-q", "-m", "not slow",
                     "-p", "no:cacheprovider"], project, timeout=300)  # fmt: skip
        assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    package = run([str(bin_dir / "python"), "-c",
                   "import sys, pathlib; sys.path.insert(0, 'scripts'); import package; "
                   f"print(package.compile_bytecode(pathlib.Path({str(tmp_path)!r})))"],
                  project)  # fmt: skip
    if package.stdout.strip().endswith("True"):
        return  # this machine has Python 3.14: the zip carries its bytecode
    assert "building with Python 3.13, not 3.14: no bytecode included" in package.stdout
    assert package.stdout.strip().endswith("False")
