"""Rendering: every supported combination, every refused answer, and hostile free text."""

from __future__ import annotations

import ast
import datetime
import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import editorconfig
import pytest
import toolchains
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


# The generated code is Python 3.12+ (PEP 695 generics, as its ruff target asks); the template's
# tests may run on 3.11, so its files are parsed by an interpreter of the oldest Lambda Python.
GENERATED_CODE_PYTHON = (3, 12)
PARSE = (
    "import ast, sys\nfor p in sys.argv[1:]:\n    ast.parse(open(p, encoding='utf-8').read(), p)"
)


def parse_python(paths: list[Path]) -> None:
    """Every file parses as the Python the generated project runs on."""
    if sys.version_info >= GENERATED_CODE_PYTHON:
        for path in paths:
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        return
    python = toolchains.find_python(".".join(map(str, GENERATED_CODE_PYTHON)))
    result = subprocess.run(
        [python, "-c", PARSE, *map(str, paths)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def check_project_files(project: Path, answers: tuple[str, ...] = ()) -> None:
    """No template syntax survives (beyond what the answers themselves hold); every
    Python, JSON and TOML file parses."""
    python_files = []
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
            python_files.append(path)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        assert "{{" not in path.name and "{%" not in path.name
        assert_follows_editorconfig(path, text)
    parse_python(python_files)


def assert_follows_editorconfig(path: Path, text: str) -> None:
    """What the nearest .editorconfig asks of a file, as editors read it."""
    rules = editorconfig.get_properties(str(path.resolve()))
    lines = text.splitlines()
    if rules.get("end_of_line") == "lf":
        assert "\r" not in text, f"{path}: CR line ending"
    if rules.get("insert_final_newline") == "true" and text:
        assert text.endswith("\n"), f"{path}: no final newline"
    if rules.get("trim_trailing_whitespace") == "true":
        assert all(line == line.rstrip() for line in lines), f"{path}: trailing whitespace"
    if rules.get("indent_style") == "space":
        assert not any(line.startswith("\t") for line in lines), f"{path}: tab indentation"


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


def cli_env(home: Path, launch: Path) -> dict[str, str]:
    """The environment of a user's shell in ``launch``: PWD set, and cookiecutter's user
    config (replay files, cloned templates) kept in ``home``, away from the real one."""
    config = home / "cookiecutterrc.yaml"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"replay_dir: {json.dumps(str(home / 'replay'))}\n"
            f"cookiecutters_dir: {json.dumps(str(home / 'cookiecutters'))}\n"
        )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "COOKIECUTTER_CONFIG": str(config), "PWD": str(launch), "PATH": path}


def run_cookiecutter(
    output_dir: Path, answers: dict[str, Any], *options: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The cookiecutter command line, as a user runs it from ``cwd`` (its own home)."""
    cwd = cwd or output_dir.parent
    args = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", *options,
         str(TEMPLATE), "-o", str(output_dir), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd=cwd,
        env=cli_env(cwd / ".home", cwd),
    )  # fmt: skip


def refusal_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines that say why: the ``error:`` lines, or cookiecutter's own refusal
    (it checks choice answers and renders --no-input values itself, before any hook)."""
    return [
        line
        for line in (result.stderr + result.stdout).splitlines()
        if line.startswith(("error: ", "ValueError: ", "Unable to render variable"))
    ]


def retry_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last thing printed: the command that retries with the fixes."""
    assert result.stdout == "", "nothing may follow the report"
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("  cookiecutter --no-input "), result.stderr
    return last.strip()


@pytest.mark.parametrize("case", UNSUPPORTED, ids=unsupported_id)
def test_refused_answers_fail_with_one_line_each_and_leave_nothing(
    tmp_path: Path, case: tuple[dict[str, Any], str, str]
) -> None:
    answers, option, fragment = case
    out = tmp_path / "out"
    result = run_cookiecutter(out, answers)
    assert result.returncode != 0
    lines = refusal_lines(result)
    value = answers.get(option)
    if option in CHOICE_OPTIONS and value not in CHOICE_OPTIONS[option]:
        assert lines == [f"ValueError: {value} provided for choice variable {option}, " + (
            f"but the choices are {CHOICE_OPTIONS[option]!r}."
        )]  # fmt: skip
    else:
        named = [line for line in lines if line.startswith(f"error: {option}=")]
        assert len(named) == 1 and fragment in named[0], lines
        options = [line.split("=", 1)[0] for line in lines]
        assert len(options) == len(set(options)), "one line per refused answer"
        retry_line(result)
    assert not out.exists(), "a refused answer left files behind"


def test_every_bad_answer_is_reported_and_the_retry_command_works(tmp_path: Path) -> None:
    bad = {"project_name": "1 Service", "reserved_concurrency": "700",
           "atlas_tier": "FLEX", "network_mode": "peering", "lambda_memory_mb": "64"}  # fmt: skip
    result = run_cookiecutter(tmp_path / "out", bad, cwd=tmp_path)
    assert result.returncode == 1
    assert [line.split("=")[0] for line in refusal_lines(result)] == [
        "error: project_slug",
        "error: package_name",
        "error: lambda_memory_mb",
        "error: network_mode",
        "error: reserved_concurrency",
    ]
    assert not (tmp_path / "out").exists()
    retry = retry_line(result)
    pasted = subprocess.run(
        retry, shell=True, cwd=tmp_path, env=cli_env(tmp_path / ".home", tmp_path),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert (tmp_path / "out" / "svc-1-service" / "src" / "svc_1_service").is_dir()


def test_interactive_answers_are_checked_after_the_last_prompt(tmp_path: Path) -> None:
    """Typed at the prompts (Enter for every default, 700 for reserved_concurrency): the
    report follows the last prompt, and the retry command holds every answer, fixed."""
    prompts = [k for k in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if k[0] != "_"]
    typed = "".join("700\n" if k == "reserved_concurrency" else "\n" for k in prompts)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), str(TEMPLATE), "-o", "out"],
        input=typed, cwd=tmp_path, env=cli_env(tmp_path / ".home", tmp_path),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"[{len(prompts)}/{len(prompts)}]" in result.stdout  # every prompt was asked
    (line,) = refusal_lines(result)
    assert line.startswith("error: reserved_concurrency=700: ")
    retry = result.stderr.rstrip().splitlines()[-1].strip()
    assert retry.startswith(f"cookiecutter --no-input {TEMPLATE} --output-dir out ")
    assert " reserved_concurrency=600" in retry
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".home" / "replay").exists()


def test_bad_answers_never_reach_the_replay_file(tmp_path: Path) -> None:
    """cookiecutter writes ~/.cookiecutter_replay/<template>.json after the prompts and
    before the hooks: the answers are checked before it, so --replay never replays them."""
    replay = tmp_path / ".home" / "replay" / f"{TEMPLATE.name}.json"
    assert run_cookiecutter(tmp_path / "bad", {"lambda_timeout_s": "1"}).returncode == 1
    assert not replay.exists()
    assert run_cookiecutter(tmp_path / "good", {"lambda_timeout_s": "20"}).returncode == 0
    good = replay.read_text()
    assert run_cookiecutter(tmp_path / "bad", {"lambda_timeout_s": "1"}).returncode == 1
    assert replay.read_text() == good
    # --replay replays the last good answers
    replayed = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--replay", str(TEMPLATE),
         "-o", str(tmp_path / "again")],
        cwd=tmp_path, env=cli_env(tmp_path / ".home", tmp_path),
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    readme = (tmp_path / "again" / "atlas-lambda-service" / "README.md").read_text()
    assert "of the 20 s timeout" in readme


def test_a_bad_replay_file_is_refused_by_the_hook(tmp_path: Path) -> None:
    """What skips the prompts (a replay file written by hand or by an older template)
    meets the same rules in the pre-generation hook, and leaves nothing behind."""
    assert run_cookiecutter(tmp_path / "good", {}).returncode == 0
    replay = tmp_path / ".home" / "replay" / f"{TEMPLATE.name}.json"
    context = json.loads(replay.read_text())
    context["cookiecutter"].update(python_version="3.9", reserved_concurrency="9000")
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(context))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--replay-file", str(doctored),
         str(TEMPLATE), "-o", str(tmp_path / "out")],
        cwd=tmp_path, env=cli_env(tmp_path / ".home", tmp_path),
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    assert [line.split("=")[0] for line in refusal_lines(result)] == [
        "error: python_version",
        "error: reserved_concurrency",
    ]
    assert "python_version=3.13" in result.stderr.splitlines()[-1]
    assert not list((tmp_path / "out").iterdir()), "the hook's refusal left files behind"


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


# --------------------------------------------------------------------------- next steps

# Stand-ins for the tools the next steps call: each logs where it ran, with which
# arguments and which virtualenv. `make` builds the project's .venv as its Makefile does.
STUB = """#!/bin/sh
printf '%s\\t%s\\t%s\\n' "$(basename "$0") $*" "$PWD" "${VIRTUAL_ENV:-}" >> "$STEPS_LOG"
"""
MAKE_STUB = (
    STUB
    + """[ -f Makefile ] || { echo "make: no Makefile in $PWD" >&2; exit 2; }
[ -d .venv ] || "$STUB_PYTHON" -m venv --without-pip .venv
"""
)


def pasted_steps(
    tmp_path: Path, answers: dict[str, Any], output: str | None
) -> tuple[Path, list[tuple[str, Path, str]]]:
    """Render from a launch directory as a user would, paste the printed next steps into
    a shell there, and return the project and what each tool saw."""
    launch = tmp_path / "launch"
    launch.mkdir()
    options = ("-o", output) if output else ()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", str(TEMPLATE),
         *options, *(f"{k}={v}" for k, v in answers.items())],
        cwd=launch, env=cli_env(tmp_path / ".home", launch),
        capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    steps = [line[2:] for line in result.stdout.splitlines() if line.startswith("  ")]
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for tool in ("make", "terraform", "sam", "aws", "npm", "npx"):
        (stubs / tool).write_text(MAKE_STUB if tool == "make" else STUB)
        (stubs / tool).chmod(0o755)
    log = tmp_path / "steps.log"
    log.touch()
    shell = subprocess.run(
        ["sh", "-e", "-c", "\n".join(steps)],
        cwd=launch, capture_output=True, text=True, check=False,
        env={"PATH": f"{stubs}:/usr/bin:/bin", "STEPS_LOG": str(log), "PWD": str(launch),
             "STUB_PYTHON": sys.executable, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    seen = [line.split("\t") for line in log.read_text().splitlines()]
    project = next((launch / (output or ".")).glob("*/Makefile")).parent
    return project, [(call, Path(cwd), venv) for call, cwd, venv in seen]


@pytest.mark.parametrize(
    ("tool", "output"), [("terraform", None), ("sam", "elsewhere"), ("cdk", "out/services")]
)
def test_next_steps_work_when_pasted(tmp_path: Path, tool: str, output: str | None) -> None:
    project, calls = pasted_steps(tmp_path, {"iac_tool": tool, "aws_region": "eu-west-1"}, output)
    infra = project / "infra" / tool
    assert [c for c, cwd, _ in calls if c.startswith("make ")] == [
        "make test",
        "make invoke",
        "make package",
    ]
    for call, cwd, _ in calls:
        if call.startswith("make "):
            assert cwd == project, call
        else:
            assert cwd == infra, call  # one `cd` into the tool's folder, no second one
    others = [c for c, _, _ in calls if not c.startswith("make ")]
    if tool == "terraform":
        assert others == [
            "terraform init",
            "terraform apply",
        ]
    elif tool == "sam":
        deploy, build = others[0], others[1:]
        assert deploy == "sam deploy --config-env atlas-extensions --region eu-west-1"
        assert build == ["sam build", "sam deploy --guided"]
        samconfig = tomllib.loads((infra / "samconfig.toml").read_text())
        assert samconfig["default"]["global"]["parameters"]["region"] == "eu-west-1"
        extensions = samconfig["atlas-extensions"]
        assert extensions["global"]["parameters"]["region"] == "eu-west-1"
        assert (infra / extensions["deploy"]["parameters"]["template_file"]).is_file()
    else:
        assert others == [
            "npm ci",
            "npx cdk bootstrap",
            "npx cdk deploy mongodb-atlas-extensions",
            "npx cdk deploy atlas-lambda-service",
        ]
        assert (infra / "package.json").is_file()
        for call, _, venv in calls:
            if call.startswith("npx "):
                assert Path(venv) == project / ".venv", f"{call} without the project's .venv"


# --------------------------------------------------------------------------- licence

# Independent copies of each licence's text: the licence files installed packages ship
# (the test environment holds them: cookiecutter's dependencies and cruft).
REFERENCE_LICENCES = {"MIT": "cruft", "Apache-2.0": "arrow", "BSD-3-Clause": "click"}


def licence_terms(text: str) -> str:
    """The licence's own words: without title, copyright lines and Apache's appendix,
    whitespace and list numbering normalised."""
    text = text.split("END OF TERMS AND CONDITIONS")[0]
    kept = [
        line
        for line in text.splitlines()
        if not re.match(r"\s*(Copyright|MIT License|BSD 3-Clause License)", line)
    ]
    return re.sub(r"\s+", " ", re.sub(r"(?m)^\s*(\d)\.\s+", r"\1. ", "\n".join(kept))).strip()


def reference_licence(distribution: str) -> str:
    files = importlib.metadata.distribution(distribution).files or []
    (path,) = [f for f in files if re.search(r"(^|/)LICEN[CS]E(\.txt)?$", str(f))]
    return path.read_text()


@pytest.mark.parametrize("licence", CHOICE_OPTIONS["license"])
def test_licence_file_per_choice(cookies: Any, licence: str) -> None:
    result = cookies.bake(extra_context={"license": licence, "author_name": "Ada Lovelace"})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    assert sorted(p.name for p in project.iterdir() if "LICEN" in p.name.upper()) == ["LICENSE"]
    text = (project / "LICENSE").read_text()
    year = datetime.datetime.now(datetime.UTC).year
    assert re.search(rf"Copyright (\(c\) )?{year} Ada Lovelace", text), text[:300]
    if licence == "Proprietary":
        assert "All rights reserved." in text and "No licence" in text
    else:
        assert licence_terms(text) == licence_terms(reference_licence(REFERENCE_LICENCES[licence]))
    # The distribution's metadata names the same licence (PEP 639), and ships its text.
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    spdx = "LicenseRef-Proprietary" if licence == "Proprietary" else licence
    assert (project_table["license"], project_table["license-files"]) == (spdx, ["LICENSE"])


def test_template_repository_follows_its_editorconfig() -> None:
    """The template's own files (the generated files are checked in every render above;
    their Jinja sources under {{cookiecutter.project_slug}}/ are not the output)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    names = [n for n in listed.split("\0") if n and not n.startswith("{{cookiecutter.")]
    assert "cookiecutter.json" in names and ".editorconfig" in names
    for name in names:
        path = TEMPLATE / name
        if path.is_file():
            assert_follows_editorconfig(path, path.read_text(encoding="utf-8"))


def test_make_demo_needs_cookiecutter_only(tmp_path: Path) -> None:
    """`make demo` renders from a venv holding the pinned cookiecutter alone; the project's
    own Makefile then builds the project's environment (not the template's test tools)."""
    dry = subprocess.run(
        ["make", "-n", "demo", f"DEMO_VENV={tmp_path / 'venv'}", f"DEMO={tmp_path / 'demo'}"],
        cwd=TEMPLATE, capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    pin = next(
        line
        for line in (TEMPLATE / "tests" / "requirements.txt").read_text().splitlines()
        if line.startswith("cookiecutter==")
    )
    installs = [line for line in dry.splitlines() if " pip install " in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --quiet '{pin}'"]
    assert f"{tmp_path / 'venv'}/bin/cookiecutter --no-input . -o {tmp_path / 'demo'}" in dry
    assert f"-C {tmp_path / 'demo'}/atlas-lambda-service test invoke" in dry


def test_readme_names_the_repository_once_and_every_prompt_in_order() -> None:
    data = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    readme = (TEMPLATE / "README.md").read_text()
    prompts = [k for k in data if not k.startswith("_")]
    assert f"\nTEMPLATE={data['_repository']}.git " in readme
    assert readme.count("://github.com/") == readme.count(data["_repository"]) + readme.count(
        "://github.com/cookiecutter/"
    ), "the repository's address is written once, in the TEMPLATE= line"
    assert f"asks {len(prompts)} questions" in readme
    table = re.findall(r"(?m)^\| `(\w+)` \| ", readme.split("## Prompts")[1].split("##")[0])
    assert table == prompts
    generated = (TEMPLATE / "{{cookiecutter.project_slug}}" / "README.md").read_text()
    assert "({{ cookiecutter._repository }})" in generated and "ORG" not in generated


def test_readme_example_of_a_bad_answer_is_what_cookiecutter_prints(tmp_path: Path) -> None:
    block = (TEMPLATE / "README.md").read_text().split("## A bad answer")[1].split("```")[1]
    command, *printed = block.strip("\n").splitlines()
    words = shlex.split(command.removeprefix("$ "))
    assert words[:3] == ["cookiecutter", "--no-input", "."]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", str(TEMPLATE),
         *words[3:]],
        cwd=tmp_path, env=cli_env(tmp_path / ".home", tmp_path),
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    expected = "\n".join(printed).replace(" --no-input . ", f" --no-input {TEMPLATE} ")
    assert result.stderr.strip() == expected.strip()
