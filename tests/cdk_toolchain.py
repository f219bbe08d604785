"""The CDK toolchain for tests/test_cdk.py: one virtualenv, created once per machine.

It holds what a generated CDK project installs with ``make install`` (its dev dependencies,
pinned): the AWS CDK libraries, cdk-nag, the MongoDB Atlas constructs, and the linters and
type checker the project runs. Synthesis, mypy and the generated project's own stack tests
run in it, on the Lambda runtime's Python.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolchains import PROJECT_REQUIREMENTS, ensure_venv, find_python

# Pins inside the ranges the generated pyproject.toml declares for the cdk variant.
CDK_REQUIREMENTS = [
    "aws-cdk-lib==2.275.0",
    "constructs==10.8.1",
    "awscdk-resources-mongodbatlas==4.0.0",
    "cdk-nag==3.0.2",
    "boto3-stubs[ec2,secretsmanager]==1.43.126",
]


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
    return ensure_venv(name, find_python(python_version), requirements + CDK_REQUIREMENTS)
