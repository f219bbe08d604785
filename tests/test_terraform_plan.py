"""What Terraform itself decides for the Terraform stack, offline (tests/tfstub).

`terraform plan -refresh=false` against the stub providers, with data sources answering
what Atlas and AWS really show: which connection string reaches the function in each
network mode, the one message a missing cluster gives, the reserved-concurrency bound,
the network container lookup, an existing private endpoint service, and that no password
reaches the plan. (tests/test_terraform_offline.py validates and plans every rendering
with the stubs' placeholders; this module gives them realistic values.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from combinations import Answers, combination, combination_id
from conftest import Render
from rendered_stack import DEFAULTS
from tfstub import OfflineTerraform, Result

VARIABLES = {"atlas_project_id": "6512a0f1c2d3e4f5a6b7c8d9", "atlas_cluster_name": "Cluster0"}
REGION = "US_EAST_1"  # the renders' default aws_region, us-east-1, as Atlas names it
ENDPOINT = "vpce-0a1b2c3d4e5f60001"  # what tfstub's interface endpoint would be
# The strings Atlas shows for cluster0 in a project whose host id is ab1cd (contract 4).
STANDARD = "mongodb+srv://cluster0.ab1cd.mongodb.net"
PRI = "mongodb+srv://cluster0-pri.ab1cd.mongodb.net"
PL0 = "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
PL1 = "mongodb+srv://cluster0-pl-1.ab1cd.mongodb.net"
PL0_LB = "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net"
PL1_LB = "mongodb+srv://cluster0-pl-1-lb.ab1cd.mongodb.net"

NAT = combination("iam", "nat", "terraform", "replica_set")
PEERING = combination("iam", "peering", "terraform", "replica_set")
PRIVATE_ENDPOINT = combination("password", "private_endpoint", "terraform", "sharded")
FLEX = combination("password", "nat", "terraform", "replica_set", atlas_tier="FLEX")


def private_endpoint(srv: str | None, optimized: str | None, *endpoints: str) -> dict[str, Any]:
    """One entry of connection_strings.private_endpoint as the provider returns it."""
    return {
        "connection_string": None,
        "srv_connection_string": srv,
        "srv_shard_optimized_connection_string": optimized,
        "type": "MONGOS" if optimized else "MONGOD",
        "endpoints": [
            {"endpoint_id": endpoint, "provider_name": "AWS", "region": REGION}
            for endpoint in endpoints
        ],
    }


def cluster(regions: tuple[str, ...] = (REGION,), **strings: Any) -> dict[str, Any]:
    """The cluster as Atlas shows it: IDLE, nodes in ``regions``, the given strings."""
    connection_strings = {"standard_srv": STANDARD, "private_srv": "", "private_endpoint": []}
    connection_strings.update(strings)
    return {
        "state_name": "IDLE",
        "replication_specs": [
            {"region_configs": [{"provider_name": "AWS", "region_name": r} for r in regions]}
        ],
        "connection_strings": connection_strings,
    }


def budget(answers: Answers) -> int:
    tier = answers.get("atlas_tier", DEFAULTS["atlas_tier"][0])
    limit = DEFAULTS["_tier_connection_limits"][tier] * DEFAULTS["_connection_headroom"]
    return int(limit // DEFAULTS["_connections_per_container_per_node"])


def explain(result: Result) -> str:
    return result.output or "\n".join(str(d) for d in result.diagnostics)


def resource(result: Result, address: str) -> dict[str, Any] | None:
    """The planned values of one resource, None when the plan does not create it."""
    assert result.plan is not None, explain(result)
    for item in result.plan["planned_values"]["root_module"].get("resources", []):
        if item["address"] == address:
            return item["values"]
    return None


def change(result: Result, address: str) -> dict[str, Any]:
    assert result.plan is not None, explain(result)
    (found,) = [c["change"] for c in result.plan["resource_changes"] if c["address"] == address]
    return found


def environment(result: Result) -> dict[str, Any]:
    function = resource(result, "aws_lambda_function.api")
    assert function is not None
    (env,) = function["environment"]
    return env["variables"]


def warnings(result: Result) -> list[str]:
    return [f"{d.summary}: {d.detail}" for d in result.diagnostics if d.severity == "warning"]


class Planner:
    """Plans of rendered stacks, each distinct one made once per session (and xdist worker)."""

    def __init__(self, terraform: OfflineTerraform, render_once: Render) -> None:
        self.terraform = terraform
        self.render_once = render_once
        self.cache: dict[str, Result] = {}

    def folder(self, answers: Answers) -> Path:
        return self.render_once(**answers) / "infra" / "terraform"

    def __call__(
        self, answers: Answers, data: dict[str, Any] | None = None, **given: Any
    ) -> Result:
        data = {"mongodbatlas_advanced_cluster": cluster(), **(data or {})}
        key = json.dumps([combination_id(answers), given, data], sort_keys=True)
        if key not in self.cache:
            self.cache[key] = self.terraform.plan(
                self.folder(answers), {**VARIABLES, **given}, data
            )
        return self.cache[key]


@pytest.fixture(scope="session")
def plan(offline_terraform: OfflineTerraform, render_once: Render) -> Planner:
    return Planner(offline_terraform, render_once)


# ---------------------------------------------------------------- connection strings


@pytest.mark.parametrize("answers", [NAT, PEERING, FLEX], ids=combination_id)
def test_standard_string_reaches_the_function(answers: Answers, plan: Planner) -> None:
    """nat and peering hand the function the standard SRV string, whatever else Atlas shows
    (a -pri string with custom DNS on, private endpoint strings of other stacks)."""
    others = [private_endpoint(PL0, None, ENDPOINT)]
    result = plan(
        answers,
        {"mongodbatlas_advanced_cluster": cluster(private_srv=PRI, private_endpoint=others)},
        lambda_timeout_s=20,
    )
    assert result.ok, explain(result)
    assert warnings(result) == []
    env = environment(result)
    assert env["MONGODB_URI"] == STANDARD
    # Contract 1: the timeout the function really has.
    assert env["FUNCTION_TIMEOUT_S"] == "20"
    function = resource(result, "aws_lambda_function.api")
    assert function is not None and function["timeout"] == 20
    # Contract 3: one $default route.
    route = resource(result, "aws_apigatewayv2_route.default")
    assert route is not None and route["route_key"] == "$default"


@pytest.mark.parametrize("answers", [NAT, PEERING], ids=combination_id)
def test_no_standard_string_yet_stops_before_the_function(answers: Answers, plan: Planner) -> None:
    result = plan(answers, {"mongodbatlas_advanced_cluster": cluster(standard_srv="")})
    assert not result.ok
    (error,) = result.errors
    assert error.address == "aws_lambda_function.api"
    assert "Atlas shows no standard SRV connection string for cluster Cluster0 yet" in error.detail


def test_private_endpoint_string_waits_for_the_endpoint(plan: Planner) -> None:
    """Its string exists only once the endpoint is registered: the plan leaves it to the apply
    (where function.tf's precondition checks it) rather than failing."""
    result = plan(PRIVATE_ENDPOINT)
    assert result.ok, explain(result)
    assert warnings(result) == []
    function = change(result, "aws_lambda_function.api")
    assert "MONGODB_URI" not in function["after"]["environment"][0]["variables"]
    assert function["after_unknown"]["environment"][0]["variables"]["MONGODB_URI"] is True
    # The endpoint service is created: none was given.
    assert resource(result, "mongodbatlas_privatelink_endpoint.atlas[0]") is not None


# Atlas's private endpoint entries -> the string this stack's endpoint must pick, per topology.
MINE, OTHER = ENDPOINT, "vpce-0f9e8d7c6b5a40002"
SELECTION_CASES: dict[str, tuple[list[dict[str, Any]] | None, str | None, str | None]] = {
    # name: (connection_strings.private_endpoint, replica set picks, sharded picks)
    "none yet": ([], None, None),
    "null list": (None, None, None),
    "-pl-0 only": ([private_endpoint(PL0, None, MINE)], PL0, PL0),
    "-pl-0 with an empty optimized": ([private_endpoint(PL0, "", MINE)], PL0, PL0),
    "-pl-0-lb only": ([private_endpoint(None, PL0_LB, MINE)], None, PL0_LB),
    "both": ([private_endpoint(PL0, PL0_LB, MINE)], PL0, PL0_LB),
    "another stack's endpoint first": (
        [private_endpoint(PL0, PL0_LB, OTHER), private_endpoint(PL1, PL1_LB, MINE)],
        PL1,
        PL1_LB,
    ),
    "an entry without endpoints": (
        [{**private_endpoint(PL0, None), "endpoints": None}, private_endpoint(PL1, None, MINE)],
        PL1,
        PL1,
    ),
    "not this endpoint's": ([private_endpoint(PL0, PL0_LB, OTHER)], None, None),
}


def selection_config(stack: Path, folder: Path) -> None:
    """A configuration evaluating network_private_endpoint.tf's own selection expressions for
    every case, with the cluster read and the endpoint id as variables."""
    text = (stack / "network_private_endpoint.tf").read_text(encoding="utf-8")
    selector = re.search(
        r"^  private_endpoint_srv = (try\(\[\n.*?\n  \], \[\]\))\n", text, re.M | re.S
    )
    uri = re.search(r"^  mongodb_uri = (.+)\n", text, re.M)
    assert selector and uri, "network_private_endpoint.tf: selection expressions not found"
    blocks = []
    for index in range(len(SELECTION_CASES)):
        expression = selector.group(1)
        expression = expression.replace(
            "data.mongodbatlas_advanced_cluster.private_endpoint.connection_strings",
            f"var.connection_strings_{index}",
        ).replace("aws_vpc_endpoint.atlas.id", "var.endpoint_id")
        assert not re.search(r"\b(data|aws_\w+|mongodbatlas_\w+)\.", expression), expression
        blocks.append(
            f'variable "connection_strings_{index}" {{\n  type = any\n}}\n\n'
            f"locals {{\n  private_endpoint_srv_{index} = {expression}\n"
            f"  mongodb_uri_{index} = "
            + uri.group(1).replace(
                "local.private_endpoint_srv", f"local.private_endpoint_srv_{index}"
            )
            + "\n}\n"
        )
    outputs = ", ".join(f"local.mongodb_uri_{i}" for i in range(len(SELECTION_CASES)))
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text(
        'variable "endpoint_id" {\n  type = string\n}\n\n'
        + "\n".join(blocks)
        + f'\noutput "mongodb_uris" {{\n  value = [{outputs}]\n}}\n',
        encoding="utf-8",
    )


@pytest.mark.parametrize("topology", ["replica_set", "sharded"])
def test_private_endpoint_picks_this_endpoints_string(
    topology: str, plan: Planner, tmp_path: Path
) -> None:
    answers = combination("iam", "private_endpoint", "terraform", topology)
    folder = tmp_path / "selection"
    selection_config(plan.folder(answers), folder)
    variables: dict[str, Any] = {"endpoint_id": MINE}
    for index, (entries, _, _) in enumerate(SELECTION_CASES.values()):
        variables[f"connection_strings_{index}"] = {
            "standard_srv": STANDARD,
            "private_srv": "",
            "private_endpoint": entries,
        }
    result = plan.terraform.plan(folder, variables)
    assert result.ok, explain(result)
    assert result.plan is not None
    picked = result.plan["planned_values"]["outputs"]["mongodb_uris"]["value"]
    expected = [
        replica_set if topology == "replica_set" else sharded
        for _, replica_set, sharded in SELECTION_CASES.values()
    ]
    assert dict(zip(SELECTION_CASES, picked, strict=True)) == dict(
        zip(SELECTION_CASES, expected, strict=True)
    )


# ---------------------------------------------------------------- a missing cluster


@pytest.mark.parametrize("answers", [NAT, PEERING, PRIVATE_ENDPOINT], ids=combination_id)
def test_missing_cluster_gives_one_message_naming_it(answers: Answers, plan: Planner) -> None:
    """mongodbatlas 2.x answers an unknown name with nulls, not an error (GetClusterDetails
    returns nothing on 404 / CLUSTER_NOT_FOUND): the stack names the cluster and the project."""
    result = plan(answers, {"mongodbatlas_advanced_cluster": {"__null__": True}})
    assert not result.ok
    (error,) = result.errors
    assert error.address == "data.mongodbatlas_advanced_cluster.atlas"
    assert error.detail.startswith(
        'Atlas project 6512a0f1c2d3e4f5a6b7c8d9 has no cluster named "Cluster0"'
    )
    assert "null value" not in result.output


# ---------------------------------------------------------------- reserved concurrency


@pytest.mark.parametrize(
    "answers", [NAT, PRIVATE_ENDPOINT, FLEX], ids=lambda a: a.get("atlas_tier", "M10")
)
def test_reserved_concurrency_above_the_budget_is_refused(answers: Answers, plan: Planner) -> None:
    limit = budget(answers)
    result = plan(answers, reserved_concurrency=limit + 1)
    assert not result.ok
    (error,) = result.errors
    assert error.address == "var.reserved_concurrency"
    assert f"a whole number from 1 to {limit}" in error.detail


@pytest.mark.parametrize("value", [-1, 2.5])
def test_reserved_concurrency_must_be_a_whole_number(value: float, plan: Planner) -> None:
    result = plan(NAT, reserved_concurrency=value)
    assert [e.address for e in result.errors] == ["var.reserved_concurrency"]


@pytest.mark.parametrize("reserved", [0, 1, budget(NAT)])
def test_reserved_concurrency_and_api_throttling(reserved: int, plan: Planner) -> None:
    """0 reserves nothing (Lambda's -1) and the API is throttled to the budget instead."""
    result = plan(NAT, reserved_concurrency=reserved)
    assert result.ok, explain(result)
    function = resource(result, "aws_lambda_function.api")
    assert function is not None
    assert function["reserved_concurrent_executions"] == (reserved or -1)
    stage = resource(result, "aws_apigatewayv2_stage.default")
    assert stage is not None
    (throttling,) = stage["default_route_settings"]
    burst = reserved or budget(NAT)
    assert (throttling["throttling_burst_limit"], throttling["throttling_rate_limit"]) == (
        burst,
        burst * 10,
    )


# ---------------------------------------------------------------- peering: the container

CONTAINER = "6512a0f1c2d3e4f5a6b7c8e1"
ATLAS_CIDR = "192.168.232.0/21"  # not the default of new_atlas_container_cidr


def containers(*regions: str) -> dict[str, Any]:
    return {
        "results": [
            {
                "id": CONTAINER if region == REGION else "6512a0f1c2d3e4f5a6b7c8e2",
                "atlas_cidr_block": ATLAS_CIDR if region == REGION else "192.168.240.0/21",
                "provider_name": "AWS",
                "provisioned": True,
                "region_name": region,
            }
            for region in regions
        ]
    }


def test_peering_uses_the_regions_container(plan: Planner) -> None:
    result = plan(PEERING, {"mongodbatlas_network_containers": containers("EU_WEST_1", REGION)})
    assert result.ok, explain(result)
    assert resource(result, "mongodbatlas_network_container.atlas[0]") is None
    choice = resource(result, "terraform_data.atlas_container_choice")
    assert choice is not None and choice["input"] is False
    peering = resource(result, "mongodbatlas_network_peering.atlas")
    assert peering is not None and peering["container_id"] == CONTAINER
    route = resource(result, "aws_route.private_to_atlas")
    assert route is not None and route["destination_cidr_block"] == ATLAS_CIDR
    egress = resource(result, "aws_vpc_security_group_egress_rule.function_to_atlas")
    assert egress is not None and egress["cidr_ipv4"] == ATLAS_CIDR
    assert result.plan is not None
    assert result.plan["planned_values"]["outputs"]["atlas_cidr"]["value"] == ATLAS_CIDR


def test_peering_creates_a_container_only_where_none_exists(plan: Planner) -> None:
    result = plan(
        PEERING,
        {"mongodbatlas_network_containers": containers("EU_WEST_1")},
        new_atlas_container_cidr="10.8.0.0/21",
    )
    assert result.ok, explain(result)
    choice = resource(result, "terraform_data.atlas_container_choice")
    assert choice is not None and choice["input"] is True
    container = resource(result, "mongodbatlas_network_container.atlas[0]")
    assert container is not None
    assert (container["atlas_cidr_block"], container["region_name"]) == ("10.8.0.0/21", REGION)
    route = resource(result, "aws_route.private_to_atlas")
    assert route is not None and route["destination_cidr_block"] == "10.8.0.0/21"


def test_cluster_in_another_region_is_named(plan: Planner) -> None:
    result = plan(PEERING, {"mongodbatlas_advanced_cluster": cluster(regions=("EU_WEST_1",))})
    assert result.ok, explain(result)
    assert warnings(result) == [
        "Check block assertion failed: Cluster Cluster0 has no AWS nodes in US_EAST_1: peering "
        "with that region's Atlas VPC cannot reach it. Deploy this stack in the cluster's "
        "region (aws_region)."
    ]


# ---------------------------------------------------------------- private endpoint service

SERVICE_ID = "6512a0f1c2d3e4f5a6b7c8f1"
SERVICE_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def test_existing_endpoint_service_is_used_not_created(plan: Planner) -> None:
    service = {"endpoint_service_name": SERVICE_NAME, "region_name": "us-east-1"}
    result = plan(
        PRIVATE_ENDPOINT,
        {"mongodbatlas_privatelink_endpoint": service},
        atlas_private_endpoint_service_id=SERVICE_ID,
    )
    assert result.ok, explain(result)
    assert resource(result, "mongodbatlas_privatelink_endpoint.atlas[0]") is None
    endpoint = resource(result, "aws_vpc_endpoint.atlas")
    assert endpoint is not None and endpoint["service_name"] == SERVICE_NAME
    registration = resource(result, "mongodbatlas_privatelink_endpoint_service.atlas")
    assert registration is not None and registration["private_link_id"] == SERVICE_ID


def test_existing_endpoint_service_of_another_region_is_refused(plan: Planner) -> None:
    result = plan(
        PRIVATE_ENDPOINT,
        {"mongodbatlas_privatelink_endpoint": {"region_name": "EU_WEST_1"}},
        atlas_private_endpoint_service_id=SERVICE_ID,
    )
    assert not result.ok
    (error,) = result.errors
    assert (error.address or "").startswith("data.mongodbatlas_privatelink_endpoint.existing")
    assert error.detail.startswith(
        f"Atlas private endpoint service {SERVICE_ID} is in EU_WEST_1, not us-east-1"
    )


# ---------------------------------------------------------------- password mode


def test_no_password_reaches_the_plan(plan: Planner) -> None:
    generated = "GeneratedByTheStubNeverInThePlan0123456789"
    stored = "StoredInTheSecretNeverInThePlan9876543210"
    secret = json.dumps({"username": "atlas-lambda-service-app", "password": stored})
    result = plan(
        FLEX,
        {
            "ephemeral.aws_secretsmanager_random_password": {"random_password": generated},
            "ephemeral.aws_secretsmanager_secret_version": {"secret_string": secret},
        },
    )
    assert result.ok, explain(result)
    shown = json.dumps(result.plan) + result.output
    assert generated not in shown and stored not in shown
    user = resource(result, "mongodbatlas_database_user.function")
    assert user is not None and user.get("password_wo") is None and user.get("password") is None
    assert user["password_wo_version"] == 1
    version = resource(result, "aws_secretsmanager_secret_version.database_user")
    assert version is not None and version.get("secret_string_wo") is None
    assert version["secret_string_wo_version"] == 1
