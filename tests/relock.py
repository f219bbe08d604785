"""Rewrite the template's ``requirements.lock`` from fresh resolutions.

The generated project's lock depends on the answers: ``auth_mode`` adds
pymongo-auth-aws, ``python_version`` picks pymongo's wheels.  This renders the
template once per ``auth_mode x python_version``, runs the generated
``scripts/package.py --lock`` in each (the same code a user's ``make lock``
runs), and folds the results into one Jinja file, one block per combination.
Versions the template's tests run (tests/toolchains.py) are kept: the lock pins
what the generated tests exercise.

    python tests/relock.py        # needs PyPI; then commit the changed lock

tests/test_ecosystem.py checks every block with ``package.py --check-lock``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter
from toolchains import PROJECT_REQUIREMENTS

TEMPLATE = Path(__file__).resolve().parent.parent
LOCK = TEMPLATE / "{{cookiecutter.project_slug}}" / "requirements.lock"


def choices(option: str) -> list[str]:
    return list(json.loads((TEMPLATE / "cookiecutter.json").read_text())[option])


def tested_pins(scratch: Path) -> Path:
    """A pip constraints file: the versions of tests/toolchains.py, extras dropped."""
    path = scratch / "tested.txt"
    path.write_text("".join(re.sub(r"\[.*?\]", "", pin) + "\n" for pin in PROJECT_REQUIREMENTS))
    return path


def fresh_lock(auth_mode: str, python_version: str) -> str:
    """The lock a freshly generated project writes with ``make lock``."""
    with tempfile.TemporaryDirectory() as scratch:
        answers = {"auth_mode": auth_mode, "python_version": python_version}
        project = Path(
            cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=scratch)
        )
        env = {**os.environ, "PIP_CONSTRAINT": str(tested_pins(Path(scratch)))}
        subprocess.run(
            [sys.executable, "scripts/package.py", "--lock"], cwd=project, check=True, env=env
        )
        return (project / "requirements.lock").read_text()


def template_lock(locks: dict[tuple[str, str], str]) -> str:
    """One Jinja file: the shared comment header, then one block of pins per combination."""
    # The same comment opens every lock; its last line (`# inputs: ...`) differs.
    (header,) = {
        tuple(line for line in text.splitlines() if line.startswith("# "))[:-1]
        for text in locks.values()
    }
    parts = list(header)
    for index, ((auth_mode, python_version), text) in enumerate(sorted(locks.items())):
        keyword = "if" if index == 0 else "elif"
        condition = (
            f'cookiecutter.auth_mode == "{auth_mode}" '
            f'and cookiecutter.python_version == "{python_version}"'
        )
        parts.append(f"{{%- {keyword} {condition} %}}")
        parts.extend(text.splitlines()[len(header) :])
    parts.append("{%- endif %}")
    return "\n".join(parts) + "\n"


def main() -> int:
    combos = itertools.product(choices("auth_mode"), choices("python_version"))
    LOCK.write_text(template_lock({combo: fresh_lock(*combo) for combo in combos}))
    print(f"{LOCK.relative_to(TEMPLATE)}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
