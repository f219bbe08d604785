"""The template repository's own code stays clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_hooks_and_tests_are_ruff_clean() -> None:
    paths = ["hooks", "tests", "atlas_lambda_extension.py"]
    for args in (["check", *paths], ["format", "--check", *paths]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_are_rendered_with_answers_as_data() -> None:
    """Each hook reads the answers through tojson inside a raw string, never as code."""
    for hook in ("pre_gen_project.py", "post_gen_project.py"):
        text = (ROOT / "hooks" / hook).read_text()
        assert text.count("{{") == 1
        assert 'json.loads(r"""{{ cookiecutter | tojson }}""")' in text
