"""The pre-generation rules, called directly, and the post-generation helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, UNSUPPORTED, combination_id, unsupported_id
from hook_loader import post_gen, pre_gen

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULTS: dict[str, Any] = {
    key: (value[0] if isinstance(value, list) else value)
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
}
DEFAULTS.update(project_slug="atlas-lambda-service", package_name="atlas_lambda_service")


def answers(**overrides: Any) -> dict[str, Any]:
    merged = {**DEFAULTS, **overrides}
    if "project_name" in overrides and "project_slug" not in overrides:
        merged["project_slug"] = "".join(
            c if c.isalnum() else "-" for c in overrides["project_name"].lower()
        ).strip("-")
    return merged


def test_defaults_are_valid() -> None:
    pre_gen.validate(answers())


@pytest.mark.parametrize("combo", SUPPORTED, ids=combination_id)
def test_supported_combinations_pass(combo: dict[str, Any]) -> None:
    pre_gen.validate(answers(**combo))


@pytest.mark.parametrize("case", UNSUPPORTED, ids=unsupported_id)
def test_unsupported_answers_name_the_option(case: tuple[dict[str, Any], str, str]) -> None:
    overrides, option, fragment = case
    with pytest.raises(pre_gen.InvalidAnswer) as raised:
        pre_gen.validate(answers(**overrides))
    message = str(raised.value)
    assert raised.value.option == option
    assert message.startswith(f"{option}=")
    assert fragment in message
    assert "\n" not in message
    assert "Choose" in message or "Did you mean" in message  # says what to do instead


def test_budget_message_shows_the_arithmetic() -> None:
    with pytest.raises(pre_gen.InvalidAnswer) as raised:
        pre_gen.check_connection_budget(answers(reserved_concurrency="700", atlas_tier="M10"))
    assert str(raised.value) == (
        "reserved_concurrency=700: 700 containers x 2 connections per container per node = 1400 "
        "> 1200 (80% of M10's 1500 connections per node). "
        "Choose reserved_concurrency=600 or less, or atlas_tier=M20 (budget 2400)"
    )


@pytest.mark.parametrize(
    ("tier", "largest_ok"), [("M10", 600), ("M20", 1200), ("M40", 2400), ("FLEX", 200)]
)
def test_budget_boundary(tier: str, largest_ok: int) -> None:
    network = "nat" if tier == "FLEX" else "private_endpoint"
    pre_gen.check_connection_budget(
        answers(atlas_tier=tier, network_mode=network, reserved_concurrency=str(largest_ok))
    )
    with pytest.raises(pre_gen.InvalidAnswer):
        pre_gen.check_connection_budget(
            answers(atlas_tier=tier, network_mode=network, reserved_concurrency=str(largest_ok + 1))
        )


def test_budget_formula_matches_the_generated_client() -> None:
    """The validator's per-container count is the generated pool size plus one monitor socket."""
    mongo_py = next(
        (TEMPLATE / "{{cookiecutter.project_slug}}" / "src").glob("*/mongo.py")
    ).read_text()
    assert f"MAX_POOL_SIZE = {pre_gen.APP_CONNECTIONS_PER_CONTAINER}\n" in mongo_py
    assert (
        '"serverMonitoringMode": "poll"' in mongo_py
    )  # one monitor socket per node, no RTT socket


def test_main_prints_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert pre_gen.main(answers(atlas_tier="FLEX")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: network_mode=private_endpoint: ")


def test_main_is_silent_on_valid_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert pre_gen.main(answers()) == 0
    assert capsys.readouterr().err == ""


def test_values_with_spaces_or_quotes_are_quoted_in_messages() -> None:
    with pytest.raises(pre_gen.InvalidAnswer) as raised:
        pre_gen.check_database_name(answers(database_name='a "b"'))
    assert str(raised.value).startswith('database_name="a \\"b\\"": ')


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


@pytest.mark.parametrize("tool", ["terraform", "sam", "cdk"])
def test_next_steps_name_the_tool(tool: str) -> None:
    text = post_gen.next_steps(answers(iac_tool=tool))
    assert "make test" in text and "make invoke" in text
    deploy = {"terraform": "terraform apply", "sam": "sam deploy", "cdk": "cdk deploy PROJECT_SLUG"}
    assert deploy[tool].replace("PROJECT_SLUG", "atlas-lambda-service") in text
