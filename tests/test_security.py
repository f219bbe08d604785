"""Security guarantees over every rendering: no secrets in files, no open access lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, combination_id
from conftest import Render
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

OPEN_CIDR = re.compile(r"0\.0\.0\.0/0|::/0")
# Where an open CIDR may appear: outbound rules, each justified in a comment nearby.
OPEN_CIDR_ALLOWED_CONTEXT = re.compile(r"egress|outbound|destination", re.IGNORECASE)


def scan(project: Path) -> list[str]:
    secrets = SecretsCollection(root=str(project))
    with default_settings():
        for path in sorted(project.rglob("*")):
            if path.is_file():
                secrets.scan_file(str(path.relative_to(project)))
    return [
        f"{name}:{secret.line_number} {secret.type}"
        for name, found in secrets.data.items()
        for secret in found
    ]


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_no_secret_in_any_rendered_file(render_once: Render, combo: dict[str, Any]) -> None:
    assert scan(render_once(**combo)) == []


def test_the_scanner_finds_a_planted_secret(tmp_path: Path) -> None:
    """The scan above can fail: a planted credential is found."""
    (tmp_path / "config.py").write_text(
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
    )
    (tmp_path / "uri.txt").write_text("mongodb+srv://app:S3cr3tP4ss@cluster0.example.net/\n")
    assert len(scan(tmp_path)) >= 2


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_no_open_cidr_outside_justified_egress(render_once: Render, combo: dict[str, Any]) -> None:
    """In the infrastructure: the generated tests name open CIDRs to assert their absence."""
    project = render_once(**combo)
    for path in (project / "infra").rglob("*"):
        if not path.is_file() or path.suffix in {".md", ".zip"}:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if OPEN_CIDR.search(line):
                context = "\n".join(lines[max(0, number - 6) : number + 1])
                assert OPEN_CIDR_ALLOWED_CONTEXT.search(context), (
                    f"{path}:{number + 1}: {line.strip()}"
                )


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_tls_is_never_switched_off(render_once: Render, combo: dict[str, Any]) -> None:
    project = render_once(**combo)
    pattern = re.compile(
        r"(tls|ssl)\s*[=:]\s*(false|0)\b|tlsInsecure|tlsAllowInvalid", re.IGNORECASE
    )
    for path in project.rglob("*"):
        if path.is_file() and path.suffix not in {".md"} and "tests" not in path.parts:
            text = path.read_text(encoding="utf-8")
            if path.name == "config.py":
                continue  # the loader names these options in order to refuse them
            assert not pattern.search(text), path
