"""Rendering: every supported combination, every refused answer, and hostile free text."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from combinations import IAC_TOOLS, SUPPORTED, UNSUPPORTED, combination_id, unsupported_id
from conftest import TEMPLATE
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

CHOICE_OPTIONS = {
    key: value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if isinstance(value, list) and not key.startswith("_")
}
LEFTOVER = re.compile(r"\{\{\s*cookiecutter|\{%|%\}|\{#|#\}")


def rendered_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.is_file()]


def check_project_files(project: Path, answers: tuple[str, ...] = ()) -> None:
    """No template syntax survives (beyond what the answers themselves hold); every
    Python, JSON and TOML file parses."""
    for path in rendered_files(project):
        text = path.read_text(encoding="utf-8")
        without_answers = text
        for answer in answers:
            without_answers = without_answers.replace(answer, "")
        match = LEFTOVER.search(without_answers)
        assert match is None, (
            f"{path.relative_to(project)}: template syntax left: {match.group(0)!r}"
        )
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        assert "{{" not in path.name and "{%" not in path.name


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_every_supported_combination_renders(cookies: Any, combo: dict[str, Any]) -> None:
    result = cookies.bake(extra_context=combo)
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    check_project_files(project)
    accepter = combo["network_mode"] == "peering" and combo["iac_tool"] != "terraform"
    expected_infra = sorted([combo["iac_tool"], *(["peering_accepter"] if accepter else [])])
    assert sorted(p.name for p in (project / "infra").iterdir()) == expected_infra
    workflows = {p.name for p in (project / ".github" / "workflows").glob("infra-*.yml")}
    assert workflows <= {f"infra-{combo['iac_tool']}.yml"}
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dependencies = pyproject["project"]["dependencies"]
    expected = "pymongo[aws]" if combo["auth_mode"] == "iam" else "pymongo>"
    assert any(d.startswith(expected) for d in dependencies), dependencies
    config_py = (project / "src" / "atlas_lambda_service" / "config.py").read_text()
    assert f'AUTH_MODE: AuthMode = "{combo["auth_mode"]}"' in config_py
    assert f'CLUSTER_TOPOLOGY: Topology = "{combo["cluster_topology"]}"' in config_py


def run_cookiecutter(output_dir: Path, answers: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    args = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            str(TEMPLATE),
            "-o",
            str(output_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def refusal_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines that say why: the hook's ``error:`` line, or cookiecutter's own refusal
    (it checks choice answers and renders --no-input values itself, before any hook)."""
    return [
        line
        for line in (result.stderr + result.stdout).splitlines()
        if line.startswith(("error: ", "ValueError: ", "Unable to render variable"))
    ]


@pytest.mark.parametrize("case", UNSUPPORTED, ids=unsupported_id)
def test_refused_answers_fail_with_one_line_and_leave_nothing(
    tmp_path: Path, case: tuple[dict[str, Any], str, str]
) -> None:
    answers, option, fragment = case
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode != 0
    (line,) = refusal_lines(result)
    value = answers.get(option)
    if option in CHOICE_OPTIONS and value not in CHOICE_OPTIONS[option]:
        assert line == f"ValueError: {value} provided for choice variable {option}, " + (
            f"but the choices are {CHOICE_OPTIONS[option]!r}."
        )
    else:
        assert line.startswith(f"error: {option}=")
        assert fragment in line
    assert list(tmp_path.iterdir()) == [], "a refused answer left files behind"


NASTY_NAMES = [
    'It\'s "quoted" {x}',
    "{{ cookiecutter.project_slug }} raw",  # extra_context is rendered by cookiecutter itself
    "{% raw %}x{% endraw %} svc",
    "Dollar $HOME `uname` $(id) ; rm -rf / svc",
    "Ünïcödé Ñame 服务",
    "back\\slash svc",
    'a\' + \'__import__("os").system("id")',
]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_hostile_project_names_render_valid_projects_or_are_refused(
    tmp_path: Path, name: str
) -> None:
    result = run_cookiecutter(tmp_path, {"project_name": name})
    if result.returncode != 0:
        assert len(refusal_lines(result)) == 1, result.stderr
        assert list(tmp_path.iterdir()) == []
        return
    (project,) = tmp_path.iterdir()
    assert re.fullmatch(r"[a-z][a-z0-9-]*", project.name)
    check_project_files(project)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(name="svc", database="0", region="us-east-1")  # "0" is inside "\\x00" in web.py
@given(
    name=st.text(min_size=1, max_size=40),
    database=st.text(min_size=0, max_size=20),
    region=st.sampled_from(["us-east-1", "eu-west-1"]) | st.text(max_size=15),
)
def test_free_text_answers_render_or_are_refused_cleanly(
    tmp_path_factory: pytest.TempPathFactory, name: str, database: str, region: str
) -> None:
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    out = tmp_path_factory.mktemp("free")
    # Values go in as the answers of an interactive session would: not rendered as Jinja.
    context = {"project_name": name, "database_name": database, "aws_region": region}
    try:
        project = Path(
            cookiecutter(
                str(TEMPLATE),
                no_input=True,
                output_dir=str(out),
                extra_context=_escape_jinja(context),
            )
        )
    except FailedHookException:
        assert list(out.iterdir()) == []
        return
    check_project_files(project, answers=(name, database, region))
    invoke_py = (project / "local" / "invoke.py").read_text()
    (literal,) = [line for line in invoke_py.splitlines() if line.startswith("DEFAULT_DATABASE = ")]
    assert ast.literal_eval(literal.split(" = ", 1)[1]) == database


def _escape_jinja(context: dict[str, str]) -> dict[str, str]:
    """cookiecutter renders --no-input/extra_context values as Jinja; wrap them in raw blocks."""
    return {
        key: "{% raw %}" + value.replace("{% endraw %}", "") + "{% endraw %}"
        for key, value in context.items()
    }


@pytest.mark.parametrize("tool", IAC_TOOLS)
def test_only_the_chosen_tool_remains(cookies: Any, tool: str) -> None:
    result = cookies.bake(extra_context={"iac_tool": tool})
    assert result.exit_code == 0
    assert [p.name for p in (Path(result.project_path) / "infra").iterdir()] == [tool]
