"""Toolchains the template's tests need, installed once per machine and reused.

Heavy tools live in virtualenvs under ``.toolchains/`` (git-ignored): one per
Lambda Python version for the generated projects' dev dependencies, and one for
checkov, which must not share an environment (it downgrades boto3 and others).
Each is rebuilt only when its requirement list changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOLCHAINS = Path(os.environ.get("TEMPLATE_TOOLCHAINS", ROOT / ".toolchains"))

# The generated project's dev dependencies, a superset over both auth modes: the generated
# pyproject.toml pins the same versions (test_generated_projects.py checks), and so do the
# ruff pre-commit hook (test_ecosystem.py) and requirements.lock for pymongo.
PROJECT_REQUIREMENTS = [
    "pymongo[aws]==4.20.0",
    "aws-lambda-powertools==3.37.0",
    "boto3==1.44.5",
    "boto3-stubs[secretsmanager]==1.43.126",
    "moto[secretsmanager]==5.2.5",
    "hypothesis==6.170.15",
    "mockupdb==1.8.1",
    "mongomock==4.3.0",
    "mypy==2.4.1",
    "pytest==9.2.0",
    "ruff==0.17.6",
    "snapshot-restore-py==1.0.0",
]


@contextmanager
def mypy_cache(cache: Path) -> Iterator[Path]:
    """``cache`` for one mypy run at a time. Generated projects share module names
    (``tests.conftest``, ``<package>.mongo``) with different contents; two runs writing one
    cache at once (xdist workers, threads) leave it inconsistent, and a later run reports
    another project's modules ("Module tests.conftest has no attribute ...") or crashes."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield cache


def _runs(python: str) -> bool:
    """True if ``python`` really starts (a pyenv shim for an inactive version does not)."""
    try:
        return (
            subprocess.run([python, "-c", "pass"], capture_output=True, check=False).returncode == 0
        )
    except OSError:
        return False


def find_python(version: str) -> str:
    """An interpreter of ``version`` (e.g. "3.13"): under pyenv, or on PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        *(str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))),
        shutil.which(f"python{version}"),
    ]
    for candidate in candidates:
        if candidate and _runs(candidate):
            return candidate
    raise RuntimeError(
        f"Python {version} is needed to run generated projects on their Lambda runtime; "
        f"install it (e.g. `pyenv install {version}`) or put python{version} on PATH"
    )


# Lambda runs Python 3.14, of which these machines have no interpreter (GitHub's runners do,
# and the template's CI installs it): a 3.14 project's tools and suite run on the nearest
# Python here. ruff and mypy still check the code for 3.14 (its pyproject.toml says so).
NEAREST_PYTHON = {"3.14": "3.13"}


def runnable_version(version: str) -> str:
    """``version`` if an interpreter of it runs here, else the nearest one that does."""
    try:
        find_python(version)
    except RuntimeError:
        if version not in NEAREST_PYTHON:
            raise
        return NEAREST_PYTHON[version]
    return version


def ensure_venv(name: str, python: str, requirements: list[str], use_uv: bool = False) -> Path:
    """A virtualenv at .toolchains/<name> holding ``requirements``; returns its bin dir.

    ``use_uv`` builds it with uv (tests/requirements-user.txt) instead of pip: seconds, not
    minutes, with its cache under .toolchains/uv-cache.
    """
    venv = TOOLCHAINS / name
    stamp = venv / ".requirements.sha256"
    installer = ["uv"] if use_uv else []
    digest = hashlib.sha256("\n".join([python, *installer, *requirements]).encode()).hexdigest()
    TOOLCHAINS.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers may ask for the same toolchain at once: one builds, the rest wait.
    with open(TOOLCHAINS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest):
            if use_uv:
                _build_venv_with_uv(venv, python, requirements)
            else:
                _build_venv(venv, python, requirements)
            stamp.write_text(digest)
    return venv / "bin"


UV_CACHE = TOOLCHAINS / "uv-cache"


def uv_bin() -> str:
    """The uv executable beside this interpreter (tests/requirements-user.txt) or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise RuntimeError("uv is missing: pip install -r tests/requirements-user.txt")
    return found


def uv_env() -> dict[str, str]:
    """uv's settings for the tests: the cache under .toolchains/, and no Python downloads
    (the interpreters come from find_python)."""
    return {"UV_CACHE_DIR": str(UV_CACHE), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def _build_venv_with_uv(venv: Path, python: str, requirements: list[str]) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    env = {**os.environ, **uv_env()}
    uv = uv_bin()
    subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)], check=True, env=env)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *requirements],
        check=True,
        env=env,
    )


def _build_venv(venv: Path, python: str, requirements: list[str]) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *requirements], check=True)


def project_venv(python_version: str) -> Path:
    """bin/ of a venv on the Lambda runtime's Python (or the nearest, see NEAREST_PYTHON) with
    the generated project's dev deps."""
    version = runnable_version(python_version)
    return ensure_venv(f"project-py{version}", find_python(version), PROJECT_REQUIREMENTS)


CHECKOV_REQUIREMENTS = ["checkov==3.3.30"]


def checkov_bin() -> Path:
    """The checkov executable, in a virtualenv of its own."""
    return ensure_venv("checkov", sys.executable, CHECKOV_REQUIREMENTS) / "checkov"


def run(
    args: list[str], cwd: Path, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a tool in a rendered project, capturing its output; never reads stdin."""
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **env},
        timeout=timeout,
    )


def python_of(project: Path) -> str:
    """The Lambda Python version a rendered project was generated for."""
    version: str = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["mypy"][
        "python_version"
    ]
    return version


@dataclass
class CheckovReport:
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    passed: list[dict[str, Any]]
    parsing_errors: list[str]


def run_checkov(root: Path, framework: str) -> CheckovReport:
    """checkov once, offline, over every folder below ``root``; the checks it reports."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(
        [str(checkov_bin()), "-d", str(root), "--framework", framework, "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    report = CheckovReport([], [], [], [])
    for item in reports:
        results = item.get("results", {})
        report.failed += results.get("failed_checks", [])
        report.skipped += results.get("skipped_checks", [])
        report.passed += results.get("passed_checks", [])
        report.parsing_errors += results.get("parsing_errors", [])
    return report
