"""What Terraform itself decides for the Terraform stack, offline (tests/tfstub).

`terraform plan -refresh=false` against the stub providers, with data sources answering
what Atlas and AWS really show: which connection string reaches the function in each
network mode, the one message a missing cluster gives, the reserved-concurrency bound,
the network container lookup, an existing private endpoint service, that no password
reaches the plan; per cold_start what the API invokes (the function, or the alias live with
SnapStart or provisioned concurrency) and the provisioned-concurrency bounds; the four
alarms, their KMS-encrypted topic and its optional email; the Atlas connections alert.
(tests/test_terraform_offline.py validates and plans every rendering with the stubs'
placeholders; this module gives them realistic values.)
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from combinations import Answers, combination, combination_id
from conftest import Render
from rendered_stack import DEFAULTS
from stack_facts import VPC_ACCESS_ACTIONS
from tfstub import OfflineTerraform, Result
from tfstub.provider import ACCOUNT_ID

VARIABLES = {"atlas_project_id": "6512a0f1c2d3e4f5a6b7c8d9", "atlas_cluster_name": "Cluster0"}
REGION = "US_EAST_1"  # the renders' default aws_region, us-east-1, as Atlas names it
ENDPOINT = "vpce-0a1b2c3d4e5f60001"  # what tfstub's interface endpoint would be
# The EC2 actions of AWSLambdaVPCAccessExecutionRole.
ENI_ACTIONS = tuple(a for a in VPC_ACCESS_ACTIONS if a.startswith("ec2:"))
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
        # Every answer: combination_id leaves out the tier (other than FLEX).
        key = json.dumps([answers, given, data], sort_keys=True)
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


M80 = combination("iam", "nat", "terraform", "replica_set", atlas_tier="M80")


@pytest.mark.parametrize(
    ("reserved", "expected"),
    [(0, (5000, 10000)), (999, (999, 9990)), (1000, (1000, 10000)), (6000, (5000, 10000))],
)
def test_api_throttling_stays_within_the_account_limits(
    reserved: int, expected: tuple[int, int], plan: Planner
) -> None:
    """API Gateway's default account-level limits (bursts of 5,000, 10,000 requests a second)
    bound every stage: an M80's budget (reserved 0) or a large reservation is clamped to them."""
    assert budget(M80) > 5000
    result = plan(M80, reserved_concurrency=reserved)
    assert result.ok, explain(result)
    stage = resource(result, "aws_apigatewayv2_stage.default")
    assert stage is not None
    (throttling,) = stage["default_route_settings"]
    found = (throttling["throttling_burst_limit"], throttling["throttling_rate_limit"])
    assert found == expected


# ---------------------------------------------------------------- the execution role


@pytest.mark.parametrize("answers", [NAT, FLEX], ids=lambda a: a["auth_mode"])
def test_function_code_is_denied_network_interfaces(answers: Answers, plan: Planner) -> None:
    """The role keeps AWSLambdaVPCAccessExecutionRole for Lambda; a Deny on its EC2 actions for
    calls whose lambda:SourceFunctionArn is this function's (the code's calls) is planned with
    the function's real ARN, before the function."""
    result = plan(answers)
    assert result.ok, explain(result)
    policy = resource(result, "aws_iam_role_policy.deny_network_interfaces_to_code")
    assert policy is not None
    (statement,) = json.loads(policy["policy"])["Statement"]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:atlas-lambda-service"
    assert statement == {
        "Sid": "DenyNetworkInterfacesToFunctionCode",
        "Effect": "Deny",
        "Action": sorted(ENI_ACTIONS),
        "Resource": "*",
        "Condition": {"ArnLike": {"lambda:SourceFunctionArn": sorted([arn, f"{arn}:*"])}},
    }
    function = resource(result, "aws_lambda_function.api")
    assert function is not None and function["function_name"] == "atlas-lambda-service"
    assert result.plan is not None
    (config,) = [
        r
        for r in result.plan["configuration"]["root_module"]["resources"]
        if r["address"] == "aws_lambda_function.api"
    ]
    assert "aws_iam_role_policy.deny_network_interfaces_to_code" in config["depends_on"]


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


# ---------------------------------------------------------------- cold starts (contracts A-C)

SNAPSTART = combination("iam", "nat", "terraform", "replica_set", cold_start="snapstart")
PROVISIONED = combination(
    "password", "private_endpoint", "terraform", "sharded", cold_start="provisioned"
)
COLD_STARTS = {"on_demand": NAT, "snapstart": SNAPSTART, "provisioned": PROVISIONED}


def references(result: Result, address: str, attribute: str) -> list[str]:
    """What Terraform says one argument of a resource (or output) refers to."""
    assert result.plan is not None, explain(result)
    module = result.plan["configuration"]["root_module"]
    if address.startswith("output."):
        expression = module["outputs"][address.removeprefix("output.")]["expression"]
        return list(expression.get("references", []))
    (item,) = [r for r in module["resources"] if r["address"] == address]
    return list(item["expressions"].get(attribute, {}).get("references", []))


@pytest.mark.parametrize("cold_start", list(COLD_STARTS))
def test_cold_start_mode_decides_what_the_api_invokes(cold_start: str, plan: Planner) -> None:
    """on_demand: the function itself, nothing published. snapstart and provisioned: each
    apply publishes a version, the alias live follows it, and the API's integration and its
    invoke permission target the alias; SnapStart on published versions, or provisioned
    containers on the alias."""
    result = plan(COLD_STARTS[cold_start])
    assert result.ok, explain(result)
    function = resource(result, "aws_lambda_function.api")
    permission = resource(result, "aws_lambda_permission.api")
    assert function is not None and permission is not None
    alias = resource(result, "aws_lambda_alias.live")
    provisioned = resource(result, "aws_lambda_provisioned_concurrency_config.live")
    invoked = references(result, "aws_apigatewayv2_integration.function", "integration_uri")
    assert result.plan is not None
    outputs = result.plan["planned_values"]["outputs"]
    if cold_start == "on_demand":
        assert alias is None and provisioned is None
        assert not function.get("publish")
        assert function["snap_start"] == []
        assert invoked[0] == "aws_lambda_function.api.invoke_arn"
        assert permission["qualifier"] is None
        assert "function_alias_arn" not in outputs
        return
    assert function["publish"] is True
    assert alias is not None
    assert (alias["name"], alias["function_name"]) == ("live", "atlas-lambda-service")
    assert references(result, "aws_lambda_alias.live", "function_version")[0] == (
        "aws_lambda_function.api.version"
    )
    assert invoked[0] == "aws_lambda_alias.live.invoke_arn"
    assert permission["qualifier"] == "live"
    assert permission["function_name"] == "atlas-lambda-service"
    assert references(result, "output.function_alias_arn", "")[0] == "aws_lambda_alias.live.arn"
    if cold_start == "snapstart":
        assert function["snap_start"] == [{"apply_on": "PublishedVersions"}]
        assert provisioned is None
    else:
        # SnapStart and provisioned concurrency exclude each other.
        assert function["snap_start"] == []
        assert provisioned is not None
        assert provisioned["qualifier"] == "live"
        assert provisioned["function_name"] == "atlas-lambda-service"
        # The prompt's default (cookiecutter.json: 2 with cold_start=provisioned).
        assert provisioned["provisioned_concurrent_executions"] == 2
        assert references(
            result, "aws_lambda_provisioned_concurrency_config.live", "qualifier"
        ) == ["aws_lambda_alias.live.name", "aws_lambda_alias.live"]


PROVISIONED_BY_NETWORK = {
    "nat": combination("iam", "nat", "terraform", "replica_set", cold_start="provisioned"),
    "peering": combination(
        "password", "peering", "terraform", "replica_set", cold_start="provisioned"
    ),
    "private_endpoint": PROVISIONED,
}
# What a provisioned container's connection during INIT needs, per network mode; with a
# password, also the way to the secret.
INIT_NEEDS = {
    "nat": {
        "aws_route.private_default",
        "aws_route.public_default",
        "aws_nat_gateway.main",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
        "mongodbatlas_project_ip_access_list.nat",
    },
    "peering": {
        "aws_route.private_to_atlas",
        "aws_vpc_peering_connection_accepter.atlas",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
        "mongodbatlas_project_ip_access_list.vpc",
    },
    "private_endpoint": {
        "mongodbatlas_privatelink_endpoint_service.atlas",
        "aws_vpc_endpoint.atlas",
        "aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
    },
    "password": {
        "aws_iam_role_policy.read_database_secret",
        "aws_vpc_endpoint.secretsmanager",
        "aws_vpc_security_group_egress_rule.function_to_secretsmanager",
    },
}


def waits_for(result: Result, address: str) -> set[str]:
    """The resources Terraform orders before ``address``: its references and depends_on, and
    theirs (a local's own references are not in the plan: this follows resources only)."""
    assert result.plan is not None, explain(result)
    module = result.plan["configuration"]["root_module"]
    config = {item["address"]: item for item in module["resources"]}

    def direct(item: dict[str, Any]) -> set[str]:
        found = set(item.get("depends_on", []))
        todo: list[Any] = [item.get("expressions", {})]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                found.update(node.get("references", []))
                todo.extend(node.values())
            elif isinstance(node, list):
                todo.extend(node)
        return {r for r in found if r in config}

    seen: set[str] = set()
    todo = [address]
    while todo:
        for found in direct(config[todo.pop()]) - seen:
            seen.add(found)
            todo.append(found)
    return seen


@pytest.mark.parametrize("network", list(PROVISIONED_BY_NETWORK))
def test_provisioned_containers_initialise_after_their_path(network: str, plan: Planner) -> None:
    """Provisioned containers connect during INIT, as soon as the alias exists: Terraform
    creates them only after the route, rules, access list or endpoint their connection needs
    (and, with a password, the permission and endpoint to read the secret)."""
    answers = PROVISIONED_BY_NETWORK[network]
    result = plan(answers)
    assert result.ok, explain(result)
    needs = INIT_NEEDS[network]
    if answers["auth_mode"] == "password":
        needs = needs | INIT_NEEDS["password"]
    ordered = waits_for(result, "aws_lambda_provisioned_concurrency_config.live")
    assert {"aws_lambda_alias.live", "aws_lambda_function.api"} <= ordered
    assert needs <= ordered, sorted(needs - ordered)


PROVISIONED_BUDGET = budget(PROVISIONED)
# (reserved_concurrency, provisioned_concurrency, the error's detail or None)
PROVISIONED_CASES: dict[str, tuple[int, float, str | None]] = {
    "above reserved": (
        5,
        6,
        "provisioned_concurrency (6) must be at most reserved_concurrency (5): Lambda provisions "
        "containers out of the function's reserved ones.",
    ),
    "equal to reserved": (5, 5, None),
    "reserved 0, the budget": (0, PROVISIONED_BUDGET, None),
    "reserved 0, above the budget": (
        0,
        PROVISIONED_BUDGET + 1,
        f"a whole number from 1 to {PROVISIONED_BUDGET}",
    ),
    "zero": (10, 0, f"a whole number from 1 to {PROVISIONED_BUDGET}"),
    "a fraction": (10, 1.5, f"a whole number from 1 to {PROVISIONED_BUDGET}"),
}


@pytest.mark.parametrize("case", list(PROVISIONED_CASES))
def test_provisioned_concurrency_bounds(case: str, plan: Planner) -> None:
    """Contract C: 1 to the budget's maximum, and at most reserved_concurrency unless that is 0
    (reserve nothing), refused at plan with one message naming both values."""
    reserved, provisioned, error = PROVISIONED_CASES[case]
    result = plan(PROVISIONED, reserved_concurrency=reserved, provisioned_concurrency=provisioned)
    if error is not None:
        assert not result.ok
        (found,) = result.errors
        assert found.address == "var.provisioned_concurrency"
        assert error in found.detail, found.detail
        return
    assert result.ok, explain(result)
    config = resource(result, "aws_lambda_provisioned_concurrency_config.live")
    assert config is not None and config["provisioned_concurrent_executions"] == provisioned
    function = resource(result, "aws_lambda_function.api")
    assert function is not None
    assert function["reserved_concurrent_executions"] == (reserved or -1)


# ---------------------------------------------------------------- alarms (contracts D-F)

ACCOUNT = "123456789012"  # tfstub's caller identity
# alarm -> (namespace, metric, (statistic, extended statistic), operator, (of, in) periods)
ALARMS: dict[str, tuple[str, str, tuple[str | None, str | None], str, tuple[int, int]]] = {
    "errors": ("AWS/Lambda", "Errors", ("Sum", None), "GreaterThanOrEqualToThreshold", (1, 1)),
    "throttles": (
        "AWS/Lambda",
        "Throttles",
        ("Sum", None),
        "GreaterThanOrEqualToThreshold",
        (1, 1),
    ),
    "duration": ("AWS/Lambda", "Duration", (None, "p99"), "GreaterThanThreshold", (2, 3)),
    "connections-created": (
        "<name>",
        "ConnectionsCreated",
        ("Sum", None),
        "GreaterThanThreshold",
        (1, 1),
    ),
}
# (answers, variables, the stack's name, ConnectionsCreated threshold, Duration threshold)
ALARM_CASES: dict[str, tuple[Answers, dict[str, Any], str, float, float]] = {
    "defaults": (NAT, {}, "atlas-lambda-service", 6 * 50, 15 * 1000 * 0.8),
    # N = the budget's maximum when nothing is reserved.
    "reserve nothing": (
        NAT,
        {"reserved_concurrency": 0, "lambda_timeout_s": 20},
        "atlas-lambda-service",
        6 * budget(NAT),
        16000,
    ),
    "FLEX, reserve nothing": (
        FLEX,
        {"reserved_concurrency": 0},
        "atlas-lambda-service",
        6 * budget(FLEX),
        12000,
    ),
    # One pool per mongos a container uses (srvMaxHosts 3): 18 sockets per container.
    "sharded": (PRIVATE_ENDPOINT, {}, "atlas-lambda-service", 18 * 50, 15 * 1000 * 0.8),
    "another name, snapstart": (
        SNAPSTART,
        {"name": "orders-api", "reserved_concurrency": 7, "lambda_timeout_s": 3},
        "orders-api",
        42,
        2400,
    ),
}


@pytest.mark.parametrize("case", list(ALARM_CASES))
def test_four_alarms_notify_the_topic(case: str, plan: Planner) -> None:
    answers, given, name, connections, duration = ALARM_CASES[case]
    result = plan(answers, **given)
    assert result.ok, explain(result)
    assert result.plan is not None
    alarms = {
        r["address"]
        for r in result.plan["planned_values"]["root_module"]["resources"]
        if r["type"] == "aws_cloudwatch_metric_alarm"
    }
    assert alarms == {f"aws_cloudwatch_metric_alarm.{a.replace('-', '_')}" for a in ALARMS}
    thresholds = {
        "errors": 1,
        "throttles": 1,
        "duration": duration,
        "connections-created": connections,
    }
    for alarm, (
        namespace,
        metric,
        (statistic, extended),
        operator,
        (of, periods),
    ) in ALARMS.items():
        address = f"aws_cloudwatch_metric_alarm.{alarm.replace('-', '_')}"
        values = resource(result, address)
        assert values is not None
        dimensions = {"FunctionName": name} if namespace == "AWS/Lambda" else {"service": name}
        assert {
            "alarm_name": values["alarm_name"],
            "namespace": values["namespace"],
            "metric_name": values["metric_name"],
            "dimensions": values["dimensions"],
            "statistic": values["statistic"],
            "extended_statistic": values["extended_statistic"],
            "period": values["period"],
            "evaluation_periods": values["evaluation_periods"],
            "datapoints_to_alarm": values["datapoints_to_alarm"],
            "comparison_operator": values["comparison_operator"],
            "threshold": values["threshold"],
            "treat_missing_data": values["treat_missing_data"],
        } == {
            "alarm_name": f"{name}-{alarm}",
            "namespace": namespace.replace("<name>", name),
            "metric_name": metric,
            "dimensions": dimensions,
            "statistic": statistic,
            "extended_statistic": extended,
            "period": 300,
            "evaluation_periods": periods,
            "datapoints_to_alarm": of,
            "comparison_operator": operator,
            "threshold": thresholds[alarm],
            "treat_missing_data": "notBreaching",
        }, alarm
        for actions in ("alarm_actions", "ok_actions"):
            assert references(result, address, actions) == [
                "aws_sns_topic.alarms.arn",
                "aws_sns_topic.alarms",
            ], (alarm, actions)
    # Contract D: the function's metrics land where the ConnectionsCreated alarm looks.
    env = environment(result)
    assert (env["POWERTOOLS_SERVICE_NAME"], env["POWERTOOLS_METRICS_NAMESPACE"]) == (name, name)
    # The key policy lets CloudWatch use the key for these alarms, and for no others.
    key = resource(result, "aws_kms_key.alarms")
    assert key is not None
    (statement,) = [
        s for s in json.loads(key["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish"
    ]
    pattern = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert pattern == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}-*"
    for alarm in ALARMS:
        arn = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}-{alarm}"
        assert fnmatch.fnmatchcase(arn, pattern), arn
    assert not fnmatch.fnmatchcase(
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:other-errors", pattern
    )
    topic = resource(result, "aws_sns_topic.alarms")
    assert topic is not None and topic["name"] == f"{name}-alarms"


def test_alarm_topic_is_encrypted_with_its_own_rotated_key(plan: Planner) -> None:
    """Contract E: CloudWatch cannot publish to a topic under the AWS-managed SNS key."""
    result = plan(NAT)
    assert result.ok, explain(result)
    assert references(result, "aws_sns_topic.alarms", "kms_master_key_id") == [
        "aws_kms_key.alarms.arn",
        "aws_kms_key.alarms",
    ]
    key = resource(result, "aws_kms_key.alarms")
    assert key is not None and key["enable_key_rotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    assert set(statements) == {"AccountAdministersTheKey", "CloudWatchAlarmsPublish"}
    admin = statements["AccountAdministersTheKey"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Effect"] == "Allow"
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:atlas-lambda-service-*"
        },
    }
    alias = resource(result, "aws_kms_alias.alarms")
    assert alias is not None and alias["name"] == "alias/atlas-lambda-service-alarms"
    assert references(result, "output.alarm_topic_arn", "")[0] == "aws_sns_topic.alarms.arn"


# ---------------------------------------------------------------- alarm_email, Atlas alert (G)


@pytest.mark.parametrize("email", ["", "ops@example.com"])
def test_alarm_email_subscribes_and_atlas_mails_it(email: str, plan: Planner) -> None:
    """An email: the topic subscribes it and Atlas mails it. None: no subscription, and Atlas
    notifies the project's owners by email."""
    result = plan(NAT, alarm_email=email) if email else plan(NAT)
    assert result.ok, explain(result)
    subscription = resource(result, "aws_sns_topic_subscription.alarm_email[0]")
    alert = resource(result, "mongodbatlas_alert_configuration.connections")
    assert alert is not None
    (notification,) = alert["notification"]
    assert (notification["delay_min"], notification["interval_min"]) == (0, 60)
    if not email:
        assert subscription is None
        assert notification["type_name"] == "GROUP"
        assert notification["roles"] == ["GROUP_OWNER"]
        assert (notification["email_enabled"], notification["sms_enabled"]) == (True, False)
        assert notification["email_address"] is None
        return
    assert subscription is not None
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", email)
    assert references(result, "aws_sns_topic_subscription.alarm_email", "topic_arn")[0] == (
        "aws_sns_topic.alarms.arn"
    )
    assert (notification["type_name"], notification["email_address"]) == ("EMAIL", email)
    assert notification["roles"] is None


@pytest.mark.parametrize(
    "email", ["ops", "ops@example", "ops@example.com, dev@example.com", "ops@a@example.com"]
)
def test_alarm_email_must_be_one_address(email: str, plan: Planner) -> None:
    result = plan(NAT, alarm_email=email)
    assert not result.ok
    (error,) = result.errors
    assert error.address == "var.alarm_email"
    assert error.detail.startswith("alarm_email must be empty or one email address")


def test_atlas_alert_on_connections_percent(plan: Planner) -> None:
    result = plan(PROVISIONED)
    assert result.ok, explain(result)
    alert = resource(result, "mongodbatlas_alert_configuration.connections")
    assert alert is not None
    assert (alert["project_id"], alert["event_type"], alert["enabled"]) == (
        VARIABLES["atlas_project_id"],
        "OUTSIDE_METRIC_THRESHOLD",
        True,
    )
    # The share of the tier's limit the connection budget leaves room for.
    headroom = int(DEFAULTS["_connection_headroom"] * 100)
    assert headroom == 80
    assert alert["metric_threshold_config"] == [
        {
            "metric_name": "CONNECTIONS_PERCENT",
            "operator": "GREATER_THAN",
            "threshold": headroom,
            "units": "RAW",
            "mode": "AVERAGE",
        }
    ]
    assert alert["threshold_config"] == []


# connection_strings.standard as Atlas shows it -> the host name prefix the alert matches
HOST_CASES: dict[str, tuple[str | None, str | None]] = {
    "cluster-named hosts": (
        "mongodb://cluster0-shard-00-00.ab1cd.mongodb.net:27017,cluster0-shard-00-01.ab1cd"
        ".mongodb.net:27017,cluster0-shard-00-02.ab1cd.mongodb.net:27017/?ssl=true&authSource="
        "admin&replicaSet=atlas-ab1cd-shard-0",
        "cluster0-shard-",
    ),
    "ac- hosts": (
        "mongodb://ac-x1y2z3a-shard-00-00.ab1cd.mongodb.net:27017,ac-x1y2z3a-shard-00-01.ab1cd"
        ".mongodb.net:27017/?ssl=true&authSource=admin&replicaSet=atlas-q9w8e7-shard-0",
        "ac-x1y2z3a-shard-",
    ),
    "sharded: mongos": (
        "mongodb://orders-eu-shard-00-00.ab1cd.mongodb.net:27016,orders-eu-shard-00-01.ab1cd"
        ".mongodb.net:27016/?ssl=true&authSource=admin",
        "orders-eu-shard-",
    ),
    "not shown yet": ("", None),
    "null": (None, None),
}


@pytest.mark.parametrize("case", list(HOST_CASES))
def test_atlas_alert_matches_this_clusters_hosts(case: str, plan: Planner) -> None:
    """Host alerts match host names, not cluster names: the prefix comes from the standard
    string; without one, no matcher (every cluster in the project), never a failed plan."""
    standard, prefix = HOST_CASES[case]
    result = plan(NAT, {"mongodbatlas_advanced_cluster": cluster(standard=standard)})
    assert result.ok, explain(result)
    alert = resource(result, "mongodbatlas_alert_configuration.connections")
    assert alert is not None
    expected = (
        []
        if prefix is None
        else [{"field_name": "HOSTNAME", "operator": "STARTS_WITH", "value": prefix}]
    )
    assert alert["matcher"] == expected


def test_flex_alert_matches_no_host_name(plan: Planner) -> None:
    """Atlas documents no host names for Flex alerts: the alert covers the project."""
    result = plan(
        FLEX,
        {"mongodbatlas_advanced_cluster": cluster(standard=HOST_CASES["cluster-named hosts"][0])},
    )
    assert result.ok, explain(result)
    alert = resource(result, "mongodbatlas_alert_configuration.connections")
    assert alert is not None and alert["matcher"] == []
    assert alert["metric_threshold_config"][0]["metric_name"] == "CONNECTIONS_PERCENT"
