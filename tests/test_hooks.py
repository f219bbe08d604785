"""The pre-generation rules, called directly, and the post-generation helpers."""

from __future__ import annotations

import itertools
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, UNSUPPORTED, combination_id, unsupported_id
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config
from hook_loader import TEMPLATE, TEMPLATE_DATA, load_module, post_gen, pre_gen
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

CHOICES = {k: v for k, v in TEMPLATE_DATA.items() if isinstance(v, list) and k[0] != "_"}
PROMPTS = [k for k in TEMPLATE_DATA if not k.startswith("_")]


def rendered_defaults(**overrides: Any) -> dict[str, Any]:
    """The answers cookiecutter itself derives with --no-input (private data included)."""
    context = generate_context(str(TEMPLATE / "cookiecutter.json"), extra_context=overrides)
    return dict(prompt_for_config(context, no_input=True))


DEFAULTS = rendered_defaults()


def answers(**overrides: Any) -> dict[str, Any]:
    """The default answers with overrides, as the hooks receive them (with ``_repo_dir``)."""
    merged = {**DEFAULTS, "_repo_dir": str(TEMPLATE), **overrides}
    if "project_name" in overrides and "project_slug" not in overrides:
        merged["project_slug"] = "".join(
            c if c.isalnum() else "-" for c in overrides["project_name"].lower()
        ).strip("-")
        merged["package_name"] = merged["project_slug"].replace("-", "_")
    return merged


def test_defaults_are_valid() -> None:
    assert pre_gen.problems(answers()) == []


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_supported_combinations_pass(combo: dict[str, Any]) -> None:
    """As cookiecutter derives them: defaults that depend on an earlier answer follow it."""
    assert pre_gen.problems({**rendered_defaults(**combo), "_repo_dir": str(TEMPLATE)}) == []


@pytest.mark.parametrize("case", UNSUPPORTED, ids=unsupported_id)
def test_unsupported_answers_name_the_option(case: tuple[dict[str, Any], str, str]) -> None:
    overrides, option, fragment = case
    found = pre_gen.problems(answers(**overrides))
    (problem,) = [p for p in found if p.option == option]
    message = str(problem)
    assert problem.option == option
    assert message.startswith(f"{option}=")
    assert fragment in message
    assert "\n" not in message
    assert "Choose" in message or "Did you mean" in message  # says what to do instead
    # and the fixes give answers the rules accept
    bad = answers(**overrides)
    assert pre_gen.problems({**bad, **pre_gen.fixes(bad)}) == []


def test_every_bad_answer_is_reported_at_once() -> None:
    """A bad slug does not hide the package name derived from it, nor an over-budget
    concurrency, nor a FLEX tier with the wrong network."""
    found = pre_gen.problems(
        answers(
            project_name="1 Service",
            reserved_concurrency="700",
            database_name="admin",
            atlas_tier="FLEX",
            network_mode="peering",
        )
    )
    assert [p.option for p in found] == [
        "project_slug",
        "package_name",
        "database_name",
        "network_mode",
        "reserved_concurrency",
    ]
    assert str(found[0]).endswith("Choose project_slug=svc-1-service")  # fits the answer
    assert str(found[1]).endswith("Choose package_name=svc_1_service")


def test_the_retry_fixes_the_root_cause_first() -> None:
    """A sharded FLEX cluster on peering: moving to M30 makes nat unnecessary."""
    bad = answers(cluster_topology="sharded", atlas_tier="FLEX", network_mode="peering")
    assert [p.option for p in pre_gen.problems(bad)] == ["atlas_tier", "network_mode"]
    assert pre_gen.fixes(bad) == {"atlas_tier": "M30"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(overrides={"project_slug": "My--Service-", "package_name": "class"})
@example(overrides={"reserved_concurrency": "1e9", "lambda_timeout_s": "nan"})
@example(overrides={"database_name": "config", "aws_region": "mars-1"})
@given(
    overrides=st.dictionaries(
        st.sampled_from(PROMPTS),
        st.text(max_size=50) | st.sampled_from(["FLEX", "sharded", "0", "700", "-1", "json"]),
        max_size=6,
    )
)
def test_the_fixes_always_make_valid_answers(overrides: dict[str, str]) -> None:
    bad = answers(**overrides)
    fixed = {**bad, **pre_gen.fixes(bad)}
    assert pre_gen.problems(fixed) == []


def test_budget_message_shows_the_arithmetic() -> None:
    (problem,) = pre_gen.check_connection_budget(
        answers(reserved_concurrency="700", atlas_tier="M10")
    )
    assert str(problem) == (
        "reserved_concurrency=700: 700 containers x 2 connections per container per node = 1400 "
        "> 1200 (80% of M10's 1500 connections per node). "
        "Choose reserved_concurrency=600 or less, or atlas_tier=M20 (budget 2400)"
    )


@pytest.mark.parametrize(
    ("tier", "largest_ok"), [("M10", 600), ("M20", 1200), ("M40", 2400), ("FLEX", 200)]
)
def test_budget_boundary(tier: str, largest_ok: int) -> None:
    network = "nat" if tier == "FLEX" else "private_endpoint"
    ok = answers(atlas_tier=tier, network_mode=network, reserved_concurrency=str(largest_ok))
    assert list(pre_gen.check_connection_budget(ok)) == []
    over = {**ok, "reserved_concurrency": str(largest_ok + 1)}
    assert len(list(pre_gen.check_connection_budget(over))) == 1


def test_budget_comes_from_the_template_data() -> None:
    """One source of truth: the limits the rule uses are cookiecutter.json's, as the
    answers carry them, and cookiecutter renders the same maximum for the stacks."""
    halved = {t: n // 2 for t, n in TEMPLATE_DATA["_tier_connection_limits"].items()}
    assert pre_gen.max_reserved_concurrency(answers(_tier_connection_limits=halved), "M10") == 300
    assert list(pre_gen.check_connection_budget(answers(reserved_concurrency="600"))) == []
    assert list(
        pre_gen.check_connection_budget(
            answers(reserved_concurrency="600", _tier_connection_limits=halved)
        )
    )
    for tier in CHOICES["atlas_tier"]:
        rendered = rendered_defaults(atlas_tier=tier, network_mode="nat")
        assert int(rendered["__max_reserved_concurrency"]) == pre_gen.max_reserved_concurrency(
            rendered, tier
        )


def test_tier_menu_states_each_tiers_limits() -> None:
    labels = TEMPLATE_DATA["__prompts__"]["atlas_tier"]
    for tier, limit in TEMPLATE_DATA["_tier_connection_limits"].items():
        largest = pre_gen.max_reserved_concurrency(answers(), tier)
        assert labels[tier].startswith(
            f"{tier}: {limit:,} per node, reserved_concurrency <= {largest:,}"
        ), tier
        assert len(labels[tier]) <= 72, "fits an 80-column menu line"
    assert "nat, replica_set only" in labels["FLEX"]
    assert "first for sharded" in labels[pre_gen.SHARDED_MIN_TIER]


def test_budget_formula_matches_the_generated_client() -> None:
    """The per-container count is the generated pool size plus one monitor socket."""
    mongo_py = next(
        (TEMPLATE / "{{cookiecutter.project_slug}}" / "src").glob("*/mongo.py")
    ).read_text()
    assert "MAX_POOL_SIZE = 1\n" in mongo_py
    assert '"serverMonitoringMode": "poll"' in mongo_py  # one monitor socket per node
    assert TEMPLATE_DATA["_connections_per_container_per_node"] == 1 + 1


def test_defaults_after_every_choice_are_valid() -> None:
    """Whatever the user picks at the menus, accepting every later default is valid
    unless the picks clash among themselves (no later answer could save them). The tier
    menu comes after the network (FLEX needs nat; the default M10 suits every network)
    and before the topology (the default replica_set suits every tier)."""
    menus = [k for k in PROMPTS if k in CHOICES]
    for depth in range(1, len(menus) + 1):
        for picked in itertools.product(*(CHOICES[m] for m in menus[:depth])):
            chosen = dict(zip(menus, picked, strict=False))
            if not pre_gen.problems(answers(**chosen)):
                continue
            later = menus[depth:]
            for rest in itertools.product(*(CHOICES[m] for m in later)):
                completed = answers(**chosen, **dict(zip(later, rest, strict=True)))
                assert pre_gen.problems(completed), f"after {chosen} a default is wrong: {rest}"


def test_choice_answers_from_a_replay_file_are_checked() -> None:
    (problem,) = pre_gen.problems(answers(python_version="3.11"))
    assert str(problem) == (
        "python_version=3.11: is not one of the choices. "
        "Choose python_version=3.14; the choices are 3.13, 3.14, 3.12"
    )


def test_report_ends_with_a_retry_command() -> None:
    launcher = pre_gen.Launcher("cookiecutter", ("cookiecutter", "--no-input", "gh:x/y"))
    text = pre_gen.report(answers(project_name="1 It's {{ x }}", atlas_tier="FLEX"), launcher)
    assert text is not None
    lines = text.splitlines()
    assert [line.split("=")[0] for line in lines if line.startswith("error: ")] == [
        "error: project_slug",
        "error: package_name",
        "error: network_mode",
    ]
    words = shlex.split(lines[-1])
    assert words[:3] == ["cookiecutter", "--no-input", "gh:x/y"]
    given = dict(word.split("=", 1) for word in words[3:])
    assert list(given) == PROMPTS  # every answer, in prompt order
    assert given["project_name"] == "{% raw %}1 It's {{ x }}{% endraw %}"  # not rendered again
    assert given["project_slug"] == "svc-1-it-s-x"
    assert given["package_name"] == "svc_1_it_s_x"
    assert given["network_mode"] == "nat"


def test_report_for_cruft_create_and_update() -> None:
    bad = answers(reserved_concurrency="700")
    create = pre_gen.Launcher("cruft-create", ("cruft", "create", "--no-input", "./tpl"))
    words = shlex.split(pre_gen.report(bad, create).splitlines()[-1])
    assert words[:4] == ["cruft", "create", "--no-input", "--extra-context"]
    assert words[-1] == "./tpl"
    update = pre_gen.Launcher("cruft-update", ("cruft", "update"))
    last = pre_gen.report(bad, update).splitlines()[-1]
    assert shlex.split(last) == [
        "cruft",
        "update",
        "--variables-to-update",
        '{"reserved_concurrency": "600"}',
    ]


def test_hook_main_prints_every_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert pre_gen.main(answers(atlas_tier="FLEX", lambda_timeout_s="1")) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("error: ")] == [
        "error: lambda_timeout_s=1: is outside what a database function needs (cold start, "
        "TLS, auth) of 3-900 seconds. Choose a whole number of seconds from 3 to 900",
        "error: network_mode=private_endpoint: Atlas FLEX clusters support neither VPC peering "
        "nor private endpoints. Choose network_mode=nat, or a dedicated atlas_tier (M10 or above)",
    ]
    assert err[-1].startswith("  cookiecutter --no-input ")


def test_main_is_silent_on_valid_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert pre_gen.main(answers()) == 0
    assert capsys.readouterr().err == ""


def test_values_with_spaces_or_quotes_are_quoted_in_messages() -> None:
    (problem,) = pre_gen.check_database_name(answers(database_name='a "b"'))
    assert str(problem).startswith('database_name="a \\"b\\"": ')


def test_extension_raises_for_library_callers() -> None:
    """Rendered through the Python API (no command line), a refusal is an exception."""
    context = generate_context(
        str(TEMPLATE / "cookiecutter.json"), extra_context={"lambda_memory_mb": "64"}
    )
    with pytest.raises(FailedHookException, match=r"(?m)^error: lambda_memory_mb=64: "):
        prompt_for_config(context, no_input=True)


# --------------------------------------------------------------------------- post-gen


def test_post_gen_removes_the_other_tools(tmp_path: Path) -> None:
    for tool in post_gen.IAC_TOOLS:
        for path in post_gen.iac_paths(tmp_path, tool):
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("x")
            else:
                path.mkdir(parents=True)
                (path / "main.tf").write_text("x")
    post_gen.remove_unchosen_iac(tmp_path, "sam", "nat")
    remaining = sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
    )
    assert remaining == [
        ".github/workflows/infra-sam.yml",
        "infra/sam/main.tf",
        "tests/test_infra_sam.py",
    ]


@pytest.mark.parametrize(
    ("tool", "network", "kept"),
    [("sam", "peering", True), ("cdk", "peering", True), ("terraform", "peering", False),
     ("sam", "nat", False), ("cdk", "private_endpoint", False)],
)  # fmt: skip
def test_peering_accepter_only_where_cloudformation_peers(
    tmp_path: Path, tool: str, network: str, kept: bool
) -> None:
    accepter = tmp_path / "infra" / "peering_accepter" / "peering_accepter.py"
    accepter.parent.mkdir(parents=True)
    accepter.write_text("x")
    post_gen.remove_unchosen_iac(tmp_path, tool, network)
    assert accepter.exists() == kept


def test_cd_target_is_relative_to_the_launch_directory(tmp_path: Path) -> None:
    launch = tmp_path / "launch"
    below, spaced, elsewhere = launch / "svc", launch / "out dir" / "svc", tmp_path / "x" / "svc"
    for project in (below, spaced, elsewhere):
        project.mkdir(parents=True)
    assert post_gen.cd_target(below, launch) == "svc"
    assert post_gen.cd_target(spaced, launch) == "'out dir/svc'"
    assert post_gen.cd_target(elsewhere, launch) == str(elsewhere.resolve())  # -o ../x
    assert post_gen.cd_target(below, None) == str(below.resolve())  # no PWD


def test_launch_directory_is_the_shells_pwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PWD", str(tmp_path))
    assert post_gen.launch_dir() == tmp_path.resolve()
    for stale in ("relative/dir", str(tmp_path / "gone")):
        monkeypatch.setenv("PWD", stale)
        assert post_gen.launch_dir() is None
    monkeypatch.delenv("PWD")
    assert post_gen.launch_dir() is None


def test_cruft_comparison_renders_are_recognised(tmp_path: Path) -> None:
    cruft = {**answers(), "_commit": "0" * 40}
    with tempfile.TemporaryDirectory() as scratch:  # what cruft diff / update render into
        project = Path(scratch) / "svc"
        project.mkdir()
        assert post_gen.is_cruft_comparison(cruft, project)
        assert not post_gen.is_cruft_comparison(answers(), project)  # cookiecutter -o /tmp/...
    created = tmp_path / "svc"  # cruft create, where the user asked
    created.mkdir()
    assert not post_gen.is_cruft_comparison(cruft, created)


@pytest.mark.parametrize("tool", post_gen.IAC_TOOLS)
def test_next_steps_name_the_tool(tmp_path: Path, tool: str) -> None:
    project = tmp_path / "atlas-lambda-service"
    text = post_gen.next_steps(answers(iac_tool=tool), project, tmp_path)
    steps = [line[2:] for line in text.splitlines() if line.startswith("  ")]
    assert steps[:3] == [
        "cd atlas-lambda-service",
        "make test      # offline tests over a real TCP socket",
        "make invoke    # run the handler on events/*.json against an embedded stand-in server",
    ]
    assert sum(step.startswith("cd ") for step in steps) == 2  # the project, then infra/<tool>
    assert f"cd infra/{tool}" in steps
    deploy = {"terraform": "terraform apply", "sam": "sam deploy", "cdk": "npx cdk deploy "}
    assert any(step.startswith(deploy[tool]) or deploy[tool] in step for step in steps)
    assert not re.search(r"\{\w+\}", text)  # every placeholder filled


def test_sam_steps_use_the_answered_region_once(tmp_path: Path) -> None:
    text = post_gen.next_steps(answers(iac_tool="sam", aws_region="eu-west-1"), tmp_path, None)
    assert "--region eu-west-1" in text and "us-east-1" not in text


def test_cdk_activates_the_environment_before_npx(tmp_path: Path) -> None:
    steps = post_gen.next_steps(answers(iac_tool="cdk"), tmp_path, None).splitlines()
    activate = next(i for i, s in enumerate(steps) if s.strip().startswith(". .venv/bin/activate"))
    assert activate < next(i for i, s in enumerate(steps) if "npx cdk" in s)


def test_extension_rebuilds_each_command_line() -> None:
    """The parameters click (cookiecutter) and typer (cruft) parsed, as the retry uses them."""
    extension = load_module("extension_under_test", TEMPLATE / "atlas_lambda_extension.py")
    cookiecutter_cli = {"template": "gh:x/y", "replay": False, "output_dir": "out",
                        "checkout": "v1", "directory": None, "config_file": None}  # fmt: skip
    assert extension._cli_launcher(pre_gen, cookiecutter_cli) == pre_gen.Launcher(
        "cookiecutter",
        ("cookiecutter", "--no-input", "gh:x/y", "--checkout", "v1", "--output-dir", "out"),
    )
    cruft_create = {"template_git_url": "./t", "output_dir": Path("."), "checkout": None}
    assert extension._cli_launcher(pre_gen, cruft_create) == pre_gen.Launcher(
        "cruft-create", ("cruft", "create", "--no-input", "./t")
    )
    cruft_update = {"project_dir": Path("svc"), "checkout": None, "skip_apply_ask": True}
    assert extension._cli_launcher(pre_gen, cruft_update) == pre_gen.Launcher(
        "cruft-update", ("cruft", "update", "--project-dir", "svc")
    )
    assert extension._cli_launcher(pre_gen, {"name": "someone else's command"}) is None


def test_extension_leaves_a_partial_replay_to_the_hook() -> None:
    """`--replay` of an older replay file prompts only for the keys it lacks; the filter
    then sees those alone and leaves the check to the pre-generation hook."""
    extension = load_module("extension_partial", TEMPLATE / "atlas_lambda_extension.py")
    assert extension.check_answers({"license": "MIT", "author_name": "A"}) == "by the hook"
    with pytest.raises(FailedHookException):
        extension.check_answers(answers(reserved_concurrency="0"))
    # REQUIRED is what the rules read: they run on those keys alone (KeyError otherwise)
    assert pre_gen.problems({k: DEFAULTS[k] for k in pre_gen.REQUIRED}) == []
