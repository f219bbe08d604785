"""The AWS SAM CLI for tests/test_sam.py, in a virtualenv of its own (created once per machine).

aws-sam-cli pins many libraries (boto3, cfn-lint, aws-sam-translator, ...) that would fight
the template's own test dependencies, so it gets a venv like checkov's. The version is the one
the generated project's workflow (.github/workflows/infra-sam.yml) installs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from toolchains import ensure_venv

SAM_CLI_VERSION = "1.170.0"
SAM_CLI_REQUIREMENTS = [f"aws-sam-cli=={SAM_CLI_VERSION}"]

# Offline and quiet: no telemetry, no update check, no credentials or region lookups.
SAM_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret (a dummy for offline runs)
    "AWS_EC2_METADATA_DISABLED": "true",
}


def sam_bin() -> Path:
    """The `sam` executable."""
    return ensure_venv("sam-cli", sys.executable, SAM_CLI_REQUIREMENTS) / "sam"


def run_sam(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`sam <args>` in ``cwd`` the way a user runs it, offline.

    `sam build` needs no local Python of the function's runtime here: the API function's code
    is a prebuilt zip and the peering accepter has no requirements.txt to install.
    """
    return subprocess.run(
        [str(sam_bin()), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **SAM_ENV, **(env or {})},
        timeout=timeout,
    )
