"""Shared fixtures: rendering the template into temporary directories."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter
from tfstub.fixtures import offline_terraform  # noqa: F401 -- Terraform validate/plan, offline

TEMPLATE = Path(__file__).resolve().parent.parent
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")

Render = Callable[..., Path]


def render(output_dir: Path, **answers: Any) -> Path:
    """Render the template with ``answers`` over the defaults; return the project directory."""
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


@pytest.fixture(scope="session")
def render_once(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render each distinct set of answers once per test session and share the result."""
    cache: dict[tuple[tuple[str, str], ...], Path] = {}

    def _render(**answers: Any) -> Path:
        key = tuple(sorted((k, str(v)) for k, v in answers.items()))
        if key not in cache:
            cache[key] = render(tmp_path_factory.mktemp("render"), **answers)
        return cache[key]

    return _render
