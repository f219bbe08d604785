"""The generated project fits its ecosystem: CI workflows, pre-commit, Dependabot, the lock, cruft.

- Every workflow file in every supported render (the generated ``ci.yml`` and any
  ``infra-<tool>.yml``) and the template's own workflows pass actionlint (with
  shellcheck over the ``run:`` scripts) and zizmor, pin every action to a commit SHA
  with a version comment, read-only by default, without persisted credentials.
- ``.pre-commit-config.yaml`` is valid for every IaC tool, holds the expected hooks, and
  the tools its hooks run are clean on a fresh render: checkov and cfn-lint where the
  IaC tool's files exist. Hook repositories themselves cannot be fetched here, so each
  hook's tool runs directly. The ruff and mypy hooks run what `make lint` runs, which
  tests/test_user_path.py runs in every variant's own environment.
- ``.github/dependabot.yml`` passes Dependabot's schema and covers every manifest.
- ``requirements.lock`` pins what the tests run (CI's `make check-lock`, which re-resolves
  it, runs in tests/test_user_path.py).
- ``cruft create`` works on the template (and reports bad answers as cookiecutter
  does), ``cruft diff`` shows the project's own edits, and ``cruft update`` brings a
  template change into a generated project without losing them (conflicts as git
  conflict markers); neither prints next steps.

The tools come from tests/requirements-eco.txt (``make test`` installs it).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from combinations import AUTH_MODES, IAC_TOOLS, SUPPORTED, combination
from conftest import TEMPLATE, Render
from toolchains import (
    CHECKOV_REQUIREMENTS,
    PROJECT_REQUIREMENTS,
    checkov_bin,
    ensure_venv,
    run,
)

PYTHON_VERSIONS = ("3.13", "3.14", "3.12")
TOOLS_BIN = Path(sys.executable).parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

# Hooks every generated project has, and those of each IaC tool.
COMMON_HOOKS = {"ruff-check", "ruff-format", "mypy"}
IAC_HOOKS = {
    "terraform": {"terraform_fmt", "terraform_validate", "checkov"},
    "sam": {"cfn-lint", "checkov"},
    "cdk": {"cdk-synth"},
}
# Hook repositories whose rev must equal the version the template's tests run.
HOOK_PACKAGES = {
    "https://github.com/astral-sh/ruff-pre-commit": "ruff",
    "https://github.com/bridgecrewio/checkov": "checkov",
    "https://github.com/aws-cloudformation/cfn-lint": "cfn-lint",
}

# Dependabot: (ecosystem, directory) for every project, and per IaC tool.
COMMON_ECOSYSTEMS = {("pip", "/"), ("github-actions", "/"), ("pre-commit", "/")}
IAC_ECOSYSTEMS = {
    "terraform": {("terraform", "/infra/terraform")},
    "sam": set(),
    "cdk": {("npm", "/infra/cdk")},
}
# The files Dependabot reads for each ecosystem (github-actions: .github/workflows/*).
MANIFESTS = {
    "pip": ("pyproject.toml", "requirements*.txt"),
    "pre-commit": (".pre-commit-config.yaml",),
    "terraform": ("*.tf",),
    "npm": ("package.json",),
}
NOT_SOURCE = {".venv", "node_modules", "cdk.out", ".terraform", ".aws-sam", "dist", "build"}

SHA_PINNED = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d[\w.-]*\s*$")
USES = re.compile(r"^\s*-?\s*uses:\s*(\S+)")


def tool(name: str) -> str:
    """An executable from tests/requirements-eco.txt, beside this interpreter or on PATH."""
    beside = TOOLS_BIN / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: pip install -r tests/requirements-eco.txt (`make test` does)"
    return found


def with_tools_on_path() -> dict[str, str]:
    """PATH with this venv's bin first, so actionlint finds shellcheck."""
    return {"PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The ``on:`` mapping (YAML 1.1 reads the bare key ``on`` as True)."""
    value = workflow.get("on", workflow.get(True))
    return value if isinstance(value, dict) else {name: None for name in value}


def is_placeholder(project: Path, tool_name: str) -> bool:
    """The IaC tool's folder holds only the README placeholder (its stack is not written yet)."""
    folder = project / "infra" / tool_name
    return sorted(p.name for p in folder.iterdir()) == ["README.md"]


def steps_run(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


# --------------------------------------------------------------------------- workflows

WORKFLOW_RENDERS = [
    *SUPPORTED,
    combination("iam", "nat", "sam", "replica_set", python_version="3.12"),
]


@pytest.fixture(scope="session")
def workflows(render_once: Render) -> dict[str, Path]:
    """Every distinct workflow file: the template's own and those of every supported render."""
    found: dict[str, Path] = {}
    template_own = sorted((TEMPLATE / ".github" / "workflows").glob("*.yml"))
    rendered = [
        path
        for answers in WORKFLOW_RENDERS
        for path in sorted((render_once(**answers) / ".github" / "workflows").glob("*.y*ml"))
    ]
    for path in [*template_own, *rendered]:
        found.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    names = {path.name for path in found.values()}
    assert {"ci.yml"} <= names, names
    return found


def test_every_workflow_passes_actionlint(workflows: dict[str, Path]) -> None:
    assert shutil.which("shellcheck", path=with_tools_on_path()["PATH"]), "for run: scripts"
    paths = [str(path) for path in workflows.values()]
    result = run([tool("actionlint"), "-no-color", *paths], TEMPLATE, **with_tools_on_path())
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_workflow_passes_zizmor(workflows: dict[str, Path]) -> None:
    paths = [str(path) for path in workflows.values()]
    result = run([tool("zizmor"), "--offline", "--no-progress", *paths], TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


PLANTED_WORKFLOW = """\
on: issues
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}" $GREETING
"""


def test_the_workflow_linters_can_fail(tmp_path: Path) -> None:
    """The checks above can fail: an injectable, unpinned workflow with a shell bug is caught."""
    planted = tmp_path / ".github" / "workflows" / "planted.yml"
    planted.parent.mkdir(parents=True)
    planted.write_text(PLANTED_WORKFLOW)
    linted = run([tool("actionlint"), "-no-color", str(planted)], tmp_path, **with_tools_on_path())
    assert linted.returncode != 0
    assert "potentially untrusted" in linted.stdout and "SC2086" in linted.stdout, linted.stdout
    audited = run([tool("zizmor"), "--offline", "--no-progress", str(planted)], tmp_path)
    assert audited.returncode != 0
    for audit in ("template-injection", "unpinned-uses", "artipacked", "excessive-permissions"):
        assert audit in audited.stdout, audited.stdout


def test_every_workflow_pins_actions_and_reads_only(workflows: dict[str, Path]) -> None:
    for path in workflows.values():
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            used = USES.match(line)
            if used and not used.group(1).startswith(("./", "docker://")):
                assert SHA_PINNED.match(line), (
                    f"{path}: not pinned to a SHA with a # vX comment: {line}"
                )
        workflow = load_yaml(path)
        assert workflow["permissions"] == {"contents": "read"}, path
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, path


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_generated_ci_lints_types_tests_and_packages_on_the_prompts_python(
    render_once: Render, python_version: str
) -> None:
    project = render_once(python_version=python_version)
    workflow = load_yaml(project / ".github" / "workflows" / "ci.yml")
    assert {"push", "pull_request"} <= set(triggers(workflow))
    assert workflow["concurrency"]["group"] == "${{ github.workflow }}-${{ github.ref }}"
    versions = [
        step["with"]["python-version"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/setup-python@")
    ]
    assert versions and set(versions) == {python_version}, versions
    commands = steps_run(workflow)
    assert {"make lint", "make test-all", "make check-lock", "make package"} <= set(commands)
    makefile = (project / "Makefile").read_text()
    for command in commands:
        for target in command.split()[1:] if command.startswith("make ") else []:
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no `{target}` target"
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint and all(
        tool_name in lint.group(1) for tool_name in ("ruff check", "ruff format --check", "mypy")
    )


def test_template_ci_runs_make_test_on_both_pythons_and_bench_on_demand() -> None:
    workflow = load_yaml(TEMPLATE / ".github" / "workflows" / "ci.yml")
    jobs = workflow["jobs"]
    test_jobs = [
        job for job in jobs.values() if "make test" in [s.get("run") for s in job["steps"]]
    ]
    (test_job,) = test_jobs
    assert test_job["runs-on"].startswith("ubuntu")
    assert {entry["python"] for entry in test_job["strategy"]["matrix"]["include"]} == {
        "3.12",
        "3.13",
    }
    assert "if" not in test_job
    (bench_job,) = [
        job for job in jobs.values() if "make bench" in [s.get("run") for s in job["steps"]]
    ]
    assert bench_job["if"] == "github.event_name == 'workflow_dispatch'"
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers(workflow))
    assert "make test" in (TEMPLATE / "README.md").read_text()  # the README's test command


# --------------------------------------------------------------------------- pre-commit


def pre_commit_config(project: Path) -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(project / ".pre-commit-config.yaml")
    return config


def hooks_by_id(config: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {hook["id"]: (repo, hook) for repo in config["repos"] for hook in repo["hooks"]}


def pinned_versions() -> dict[str, str]:
    """``name: version`` for every ``name==version`` the template's tests install."""
    lines = [*PROJECT_REQUIREMENTS, *CHECKOV_REQUIREMENTS]
    for path in sorted((TEMPLATE / "tests").glob("requirements*.txt")):
        lines += path.read_text().splitlines()
    pins = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


@pytest.mark.parametrize("iac_tool", IAC_TOOLS)
def test_pre_commit_config_is_valid_with_the_tools_hooks(
    render_once: Render, iac_tool: str
) -> None:
    project = render_once(iac_tool=iac_tool)
    result = run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    config = pre_commit_config(project)
    hooks = hooks_by_id(config)
    assert set(hooks) == COMMON_HOOKS | IAC_HOOKS[iac_tool]
    pins = pinned_versions()
    for repo in config["repos"]:
        package = HOOK_PACKAGES.get(repo["repo"])
        if package in pins:
            assert repo["rev"].removeprefix("v") == pins[package], (
                repo["repo"],
                repo["rev"],
                pins[package],
            )
        if repo["repo"] != "local":
            assert re.fullmatch(r"v?\d+(\.\d+)+", repo["rev"]), repo
    _, mypy = hooks["mypy"]
    assert mypy["entry"] == ".venv/bin/mypy" and mypy["pass_filenames"] is False
    assert re.search(r"^VENV \?= \.venv$", (project / "Makefile").read_text(), re.MULTILINE)
    if not is_placeholder(project, iac_tool):
        files = [p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()]
        for hook_id in IAC_HOOKS[iac_tool]:
            pattern = hooks[hook_id][1].get("files")
            if pattern:
                assert any(re.search(pattern, name) for name in files), (hook_id, pattern)


@pytest.mark.slow
@pytest.mark.parametrize("iac_tool", ["terraform", "sam"])
def test_checkov_hook_is_clean_on_a_fresh_render(render_once: Render, iac_tool: str) -> None:
    project = render_once(iac_tool=iac_tool)
    if is_placeholder(project, iac_tool):
        pytest.skip(f"infra/{iac_tool} holds only its placeholder README")
    _, hook = hooks_by_id(pre_commit_config(project))["checkov"]
    command = shlex.split(hook["entry"])
    assert command[0] == "checkov"
    result = run([str(checkov_bin()), *command[1:]], project, BC_SKIP_MAPPING="TRUE")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_cfn_lint_hook_is_clean_on_a_fresh_render(render_once: Render) -> None:
    project = render_once(iac_tool="sam")
    if is_placeholder(project, "sam"):
        pytest.skip("infra/sam holds only its placeholder README")
    repo, hook = hooks_by_id(pre_commit_config(project))["cfn-lint"]
    cfn_lint = ensure_venv(
        "cfn-lint", sys.executable, [f"cfn-lint=={repo['rev'].removeprefix('v')}"]
    )
    files = sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and re.search(hook["files"], p.relative_to(project).as_posix())
    )
    result = run([str(cfn_lint / "cfn-lint"), *hook.get("args", []), *files], project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_fmt_hook_is_clean_on_a_fresh_render(render_once: Render) -> None:
    project = render_once(iac_tool="terraform")
    terraform = shutil.which("terraform")
    if is_placeholder(project, "terraform") or terraform is None:
        pytest.skip("no terraform here, or infra/terraform holds only its placeholder README")
    result = run([terraform, "fmt", "-check", "-recursive", "infra/terraform"], project)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- Dependabot


def manifests(project: Path) -> set[tuple[str, str]]:
    """(ecosystem, directory) of every dependency manifest a render holds."""
    found = set()
    for path in project.rglob("*"):
        relative = path.relative_to(project)
        if not path.is_file() or NOT_SOURCE & set(relative.parts):
            continue
        folder = "/" + relative.parent.as_posix().removeprefix(".")
        if relative.parent.as_posix() == ".github/workflows":
            found.add(("github-actions", "/"))
        for ecosystem, patterns in MANIFESTS.items():
            if any(fnmatch.fnmatch(relative.name, pattern) for pattern in patterns):
                found.add((ecosystem, folder))
    return found


@pytest.mark.parametrize("iac_tool", IAC_TOOLS)
def test_dependabot_covers_pip_actions_hooks_and_the_iac_tool(
    render_once: Render, iac_tool: str
) -> None:
    project = render_once(iac_tool=iac_tool)
    config_path = project / ".github" / "dependabot.yml"
    schema = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(config_path)],
        project,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    updates = load_yaml(config_path)["updates"]
    configured = {(u["package-ecosystem"], u["directory"]) for u in updates}
    assert configured == COMMON_ECOSYSTEMS | IAC_ECOSYSTEMS[iac_tool]
    present = manifests(project)
    uncovered = present - configured
    assert not uncovered, f"manifests Dependabot does not watch: {sorted(uncovered)}"
    if not is_placeholder(project, iac_tool):
        missing = configured - present
        assert not missing, f"Dependabot entries with no manifest there: {sorted(missing)}"


# --------------------------------------------------------------------------- lock file


def read_lock(project: Path) -> dict[str, tuple[str, list[str]]]:
    """``{name: (version, [sha256, ...])}`` from a generated requirements.lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in (project / "requirements.lock").read_text().splitlines():
        if line.startswith("    --hash=sha256:"):
            entries[name][1].append(line.removeprefix("    --hash=sha256:").removesuffix(" \\"))
        elif line and not line.startswith("#"):
            name, version = line.removesuffix(" \\").split("==")
            entries[name] = (version, [])
    return entries


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
@pytest.mark.parametrize("auth_mode", AUTH_MODES)
def test_lock_pins_what_the_tests_run(
    render_once: Render, auth_mode: str, python_version: str
) -> None:
    project = render_once(auth_mode=auth_mode, python_version=python_version)
    lock = read_lock(project)
    expected = {"pymongo", "dnspython", "aws-lambda-powertools", "typing-extensions"}
    expected |= {"pymongo-auth-aws"} if auth_mode == "iam" else set()
    assert set(lock) == expected
    tested = pinned_versions()
    for name, (version, hashes) in lock.items():
        if name in tested:
            assert version == tested[name], f"lock pins {name}=={version}, tests run {tested[name]}"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
    assert len(lock["pymongo"][1]) == 2  # its arm64 and x86_64 wheels
    assert f"# inputs: python={python_version} " in (project / "requirements.lock").read_text()


def test_package_refuses_a_lock_made_from_other_inputs(render_once: Render, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(render_once(auth_mode="password"), project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pymongo>=4.9,<5"', '"pymongo>=4.10,<5"'))
    result = run([sys.executable, "scripts/package.py"], project)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: requirements.lock was resolved from other inputs than pyproject.toml "
        "(inputs: python=3.13 pymongo>=4.10,<5 aws-lambda-powertools>=3.37,<4): run `make lock`"
    ]
    assert not (project / "dist").exists()


def test_make_lock_and_check_lock_call_the_packager(render_once: Render) -> None:
    project = render_once()
    dry = run(["make", "-n", "lock", "check-lock", "package", "VENV=/nonexistent"], project)
    assert "scripts/package.py --lock" in dry.stdout
    assert "scripts/package.py --check-lock" in dry.stdout
    assert re.search(r"scripts/package.py\s*$", dry.stdout, re.MULTILINE)


# --------------------------------------------------------------------------- cruft


def git(*args: str, cwd: Path) -> str:
    result = run(["git", *args], cwd, **GIT_IDENTITY)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def template_repository(root: Path) -> tuple[Path, str]:
    """The template, as a git repository of its own (cruft clones it); its commit."""
    template = root / "template"
    template.mkdir()
    for name in (
        "cookiecutter.json",
        "atlas_lambda_extension.py",
        "hooks",
        "{{cookiecutter.project_slug}}",
    ):
        source = TEMPLATE / name
        if source.is_dir():
            shutil.copytree(source, template / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, template / name)
    git("init", "-q", "-b", "main", cwd=template)
    git("add", "-A", cwd=template)
    git("commit", "-q", "-m", "template v1", cwd=template)
    return template, git("rev-parse", "HEAD", cwd=template)


def test_cruft_update_brings_template_changes_and_keeps_local_edits(tmp_path: Path) -> None:
    template, first = template_repository(tmp_path)

    # cruft create, offline, from the local path, run from tmp_path as a user's shell
    # would (PWD); the project becomes a git repository.
    created = run(
        [tool("cruft"), "create", "--no-input", "--output-dir", "out",
         "--extra-context", '{"iac_tool": "sam", "auth_mode": "password"}', str(template)],
        tmp_path, PWD=str(tmp_path), **GIT_IDENTITY,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert "\n  cd out/atlas-lambda-service\n" in created.stdout  # next steps, from where it ran
    project = tmp_path / "out" / "atlas-lambda-service"
    cruft_json = json.loads((project / ".cruft.json").read_text())
    assert cruft_json["template"] == str(template) and cruft_json["commit"] == first
    assert cruft_json["context"]["cookiecutter"]["iac_tool"] == "sam"
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "generated", cwd=project)

    # Local edits: a whole file the template never touches again, the top of the
    # Makefile, which the template changes further down, and the first line of the
    # pre-commit config, which the template changes too (a conflict).
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nOur team's runbook: see the wiki.\n")
    makefile = project / "Makefile"
    lines = makefile.read_text().splitlines(keepends=True)
    makefile.write_text(lines[0] + "# local: our own note\n" + "".join(lines[1:]))
    precommit = project / ".pre-commit-config.yaml"
    local_lines = precommit.read_text().splitlines(keepends=True)
    precommit.write_text("# local: our hooks\n" + "".join(local_lines[1:]))
    git("commit", "-q", "-am", "local edits", cwd=project)

    # cruft diff: the project against the template at the project's commit. Local edits
    # show as removals (the diff runs from the project's files to the template's).
    diffed = run([tool("cruft"), "diff"], project, PWD=str(project))
    assert diffed.returncode == 0, diffed.stderr
    assert "\n-Our team's runbook: see the wiki.\n" in diffed.stdout
    assert "\n-# local: our hooks\n" in diffed.stdout
    assert "Next steps" not in diffed.stdout + diffed.stderr  # its render is not a new project

    # Upstream: the template changes three files and commits.
    upstream = template / "{{cookiecutter.project_slug}}"
    (upstream / ".gitignore").write_text(
        (upstream / ".gitignore").read_text() + ".upstream-cache/\n"
    )
    upstream_makefile = upstream / "Makefile"
    upstream_makefile.write_text(upstream_makefile.read_text() + "\n# upstream: a new trailer\n")
    upstream_precommit = upstream / ".pre-commit-config.yaml"
    upstream_lines = upstream_precommit.read_text().splitlines(keepends=True)
    upstream_precommit.write_text("# upstream: new hooks\n" + "".join(upstream_lines[1:]))
    git("commit", "-q", "-am", "template v2", cwd=template)
    second = git("rev-parse", "HEAD", cwd=template)

    assert run([tool("cruft"), "check"], project).returncode != 0  # behind the template
    updated = run(
        [tool("cruft"), "update", "--skip-apply-ask"], project, PWD=str(project), **GIT_IDENTITY
    )
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "Next steps" not in updated.stdout + updated.stderr  # two renders, both silent
    assert run([tool("cruft"), "check"], project).returncode == 0

    assert ".upstream-cache/\n" in (project / ".gitignore").read_text()
    assert "Our team's runbook: see the wiki." in readme.read_text()
    merged = makefile.read_text()
    assert "# local: our own note\n" in merged and "# upstream: a new trailer\n" in merged
    # The conflict: git's 3-way merge (`git apply -3`) leaves conflict markers and an
    # unmerged path, not a .rej file.
    conflicted = precommit.read_text()
    assert conflicted.startswith("<<<<<<< ours\n# local: our hooks\n=======\n"), conflicted[:200]
    assert "# upstream: new hooks\n>>>>>>> theirs\n" in conflicted
    assert git("diff", "--name-only", "--diff-filter=U", cwd=project) == ".pre-commit-config.yaml"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == second
    assert not list(project.rglob("*.rej")), "cruft left a rejected hunk"
    assert [p.name for p in (project / "infra").iterdir()] == ["sam"]  # the answers still hold


def test_cruft_create_reports_every_bad_answer_last_and_the_retry_works(tmp_path: Path) -> None:
    template, _ = template_repository(tmp_path)
    env = {"PWD": str(tmp_path), "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"}
    refused = run(
        [tool("cruft"), "create", "--no-input", "--output-dir", "out", "--extra-context",
         '{"project_name": "1 Service", "reserved_concurrency": "700"}', str(template)],
        tmp_path, **env, **GIT_IDENTITY,
    )  # fmt: skip
    assert refused.returncode == 1
    lines = refused.stderr.rstrip("\n").splitlines()
    assert [line.split("=")[0] for line in lines if line.startswith("error: ")] == [
        "error: project_slug",
        "error: package_name",
        "error: reserved_concurrency",
    ]
    assert "Traceback" not in refused.stdout + refused.stderr  # nothing buries the report
    retry = lines[-1].strip()
    assert retry.startswith("cruft create --no-input --output-dir out --extra-context ")
    assert not (tmp_path / "out").exists()
    pasted = run(["sh", "-c", retry], tmp_path, **env, **GIT_IDENTITY)
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert (tmp_path / "out" / "svc-1-service" / ".cruft.json").is_file()
