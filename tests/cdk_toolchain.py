"""The CDK toolchains for tests/test_cdk.py, created once per machine and reused offline.

- A virtualenv with what a generated CDK project installs with ``make install``: its dev
  dependencies, the CDK libraries pinned exactly as the generated pyproject.toml pins them
  (read from the template, so the tests run what users get). Synthesis, mypy and the
  generated project's own stack tests run in it, on the Lambda runtime's Python.
- The CDK CLI pinned in the template's ``infra/cdk/package.json`` and ``package-lock.json``,
  installed with ``npm ci`` (the npm registry is needed once; afterwards it is reused).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolchains import PROJECT_REQUIREMENTS, ROOT, TOOLCHAINS, ensure_venv, find_python

TEMPLATE_PROJECT = ROOT / "{{cookiecutter.project_slug}}"
TEMPLATE_CDK = TEMPLATE_PROJECT / "infra" / "cdk"
# The CDK libraries the generated pyproject.toml pins for the cdk variant (name==version).
CDK_LIBRARIES = ("aws-cdk-lib", "constructs", "awscdk-resources-mongodbatlas", "cdk-nag")


def cdk_library_pins() -> dict[str, str]:
    """name -> exact version of the CDK libraries in the template's pyproject.toml."""
    text = (TEMPLATE_PROJECT / "pyproject.toml").read_text()
    pins = dict(re.findall(r'^\s*"([a-z0-9-]+)==([0-9][0-9.]*)",', text, re.MULTILINE))
    return {name: pins[name] for name in CDK_LIBRARIES}


def cdk_requirements() -> list[str]:
    libraries = [f"{name}=={version}" for name, version in cdk_library_pins().items()]
    return [*libraries, "boto3-stubs[ec2,secretsmanager]==1.43.126"]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (pytest-xdist workers share the machine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cdk_venv(python_version: str) -> Path:
    """bin/ of the CDK toolchain venv on Python ``python_version``."""
    name = f"cdk-py{python_version}"
    requirements = [r for r in PROJECT_REQUIREMENTS if not r.startswith("boto3-stubs")]
    # ensure_venv serializes builders across pytest-xdist workers.
    return ensure_venv(name, find_python(python_version), requirements + cdk_requirements())


def npm_files() -> dict[str, str]:
    """The template's package.json and package-lock.json, with a fixed project name."""
    return {
        name: (TEMPLATE_CDK / name).read_text().replace("{{ cookiecutter.project_slug }}", "cdk")
        for name in ("package.json", "package-lock.json")
    }


def cdk_cli() -> Path:
    """node_modules of the pinned CDK CLI (``npm ci`` once per machine and lock file)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install the CDK CLI: install Node.js 22 or newer")
    files = npm_files()
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    home = TOOLCHAINS / "cdk-cli"
    stamp = home / ".lock.sha256"
    with locked(TOOLCHAINS / "cdk-cli.lock"):
        if not (stamp.exists() and stamp.read_text() == digest):
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            for name, text in files.items():
                (home / name).write_text(text)
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=home,
                check=True,
                capture_output=True,
            )
            stamp.write_text(digest)
    return home / "node_modules"


def cli_version(node_modules: Path) -> str:
    version: str = json.loads((node_modules / "aws-cdk" / "package.json").read_text())["version"]
    return version


def cli_max_schema(node_modules: Path) -> int:
    """The newest cloud-assembly schema (major) the CLI reads: its bundled schema's revision."""
    bundle = (node_modules / "aws-cdk" / "lib" / "index.js").read_text()
    found = re.search(
        r"cloud-assembly-schema/schema/version\.json[\s\S]{0,600}?revision:\s*(\d+)", bundle
    )
    if found is None:
        raise RuntimeError("the CDK CLI bundle no longer names its cloud-assembly schema")
    return int(found[1])
