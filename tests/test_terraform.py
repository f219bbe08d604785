"""The Terraform stack (infra/terraform) of every Terraform combination: parse, wiring, checkov.

Each combination is rendered once. Its `.tf` files are parsed with python-hcl2 and laid out as
`terraform fmt` writes them; every reference resolves to a declaration and every declaration is
used; each concern lives in its own file, chosen by file name; the per-mode resources are checked
for how they reference each other; checkov runs once over every render. What Terraform itself
decides (validations, preconditions, the connection string a plan hands the function) is checked
by tests/test_terraform_plan.py.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import stack_facts as sf
import terraform_support as tf
import yaml
from combinations import SUPPORTED, Answers, combination_id
from conftest import Render
from rendered_stack import DEFAULTS, RenderedStack, pool_sockets_per_container
from toolchains import CheckovReport, run_checkov

TF_COMBINATIONS = [answers for answers in SUPPORTED if answers["iac_tool"] == "terraform"]
IDS = [combination_id(answers) for answers in TF_COMBINATIONS]

# Free text that must survive into HCL (where `${` and `%{` start templates) unchanged.
AWKWARD = {
    "project_name": 'Ünïcode "Quoted": ${HOME} %{if} & Service #1',
    "database_name": "d'b-ü{x}%{y}",
}

COMMON_FILES = {
    "README.md",
    "alarms.tf",
    "api.tf",
    "atlas_alert.tf",
    "cluster.tf",
    "database_user.tf",
    "function.tf",
    "network.tf",
    "outputs.tf",
    "providers.tf",
    "variables.tf",
    "versions.tf",
}
# What each file holds: (kind, type.name) of every resource, data source and ephemeral resource.
NETWORK_FILE = {
    "private_endpoint": "network_private_endpoint.tf",
    "peering": "network_peering.tf",
    "nat": "network_nat.tf",
}
CONCERNS: dict[str, set[str]] = {
    "network.tf": {
        "data aws_availability_zones.available",
        "resource aws_vpc.main",
        "resource aws_default_security_group.default",
        "resource aws_subnet.private",
        "resource aws_route_table.private",
        "resource aws_route_table_association.private",
        "resource aws_security_group.function",
    },
    "cluster.tf": {"data mongodbatlas_advanced_cluster.atlas"},
    "database_user.tf": {"resource mongodbatlas_database_user.function"},
    "function.tf": {
        "data aws_iam_policy_document.lambda_assume_role",
        "resource aws_iam_role.function",
        "resource aws_iam_role_policy_attachment.vpc_access",
        "data aws_iam_policy_document.deny_network_interfaces_to_code",
        "resource aws_iam_role_policy.deny_network_interfaces_to_code",
        "resource aws_cloudwatch_log_group.function",
        "resource aws_lambda_function.api",
    },
    "api.tf": {
        "resource aws_apigatewayv2_api.http",
        "resource aws_apigatewayv2_integration.function",
        "resource aws_apigatewayv2_route.default",
        "resource aws_cloudwatch_log_group.api_access",
        "resource aws_apigatewayv2_stage.default",
        "resource aws_lambda_permission.api",
    },
    "network_private_endpoint.tf": {
        "resource mongodbatlas_privatelink_endpoint.atlas",
        "data mongodbatlas_privatelink_endpoint.existing",
        "resource aws_security_group.atlas_endpoint",
        "resource aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function",
        "resource aws_vpc_security_group_egress_rule.function_to_atlas",
        "resource aws_vpc_endpoint.atlas",
        "resource mongodbatlas_privatelink_endpoint_service.atlas",
        "data mongodbatlas_advanced_cluster.private_endpoint",
        "resource terraform_data.network_path",
    },
    "network_peering.tf": {
        "data mongodbatlas_network_containers.aws",
        "resource terraform_data.atlas_container_choice",
        "resource mongodbatlas_network_container.atlas",
        "resource mongodbatlas_network_peering.atlas",
        "resource aws_vpc_peering_connection_accepter.atlas",
        "resource aws_route.private_to_atlas",
        "resource aws_vpc_security_group_egress_rule.function_to_atlas",
        "resource mongodbatlas_project_ip_access_list.vpc",
        "resource terraform_data.network_path",
    },
    "network_nat.tf": {
        "resource aws_subnet.public",
        "resource aws_internet_gateway.main",
        "resource aws_route_table.public",
        "resource aws_route_table_association.public",
        "resource aws_route.public_default",
        "resource aws_eip.nat",
        "resource aws_nat_gateway.main",
        "resource aws_route.private_default",
        "resource aws_vpc_security_group_egress_rule.function_to_atlas",
        "resource mongodbatlas_project_ip_access_list.nat",
        "resource terraform_data.network_path",
    },
    "database_secret.tf": {
        "ephemeral aws_secretsmanager_random_password.database_user",
        "resource aws_secretsmanager_secret.database_user",
        "resource aws_secretsmanager_secret_version.database_user",
        "ephemeral aws_secretsmanager_secret_version.database_user",
        "data aws_iam_policy_document.read_database_secret",
        "resource aws_iam_role_policy.read_database_secret",
        "resource aws_security_group.secretsmanager_endpoint",
        "resource aws_vpc_security_group_ingress_rule.secretsmanager_endpoint_from_function",
        "resource aws_vpc_security_group_egress_rule.function_to_secretsmanager",
        "resource aws_vpc_endpoint.secretsmanager",
        "resource terraform_data.secret_path",
    },
    "function_alias.tf": {"resource aws_lambda_alias.live"},
    "function_provisioned.tf": {"resource aws_lambda_provisioned_concurrency_config.live"},
    "alarms.tf": {
        "data aws_iam_policy_document.alarms_key",
        "resource aws_kms_key.alarms",
        "resource aws_kms_alias.alarms",
        "resource aws_sns_topic.alarms",
        "resource aws_sns_topic_subscription.alarm_email",
        "resource aws_cloudwatch_metric_alarm.errors",
        "resource aws_cloudwatch_metric_alarm.throttles",
        "resource aws_cloudwatch_metric_alarm.duration",
        "resource aws_cloudwatch_metric_alarm.connections_created",
    },
    "atlas_alert.tf": {"resource mongodbatlas_alert_configuration.connections"},
    "outputs.tf": set(),
    "providers.tf": {"data aws_caller_identity.current", "data aws_partition.current"},
    "variables.tf": set(),
    "versions.tf": set(),
}
# Words that belong to one mode only: a reader of another mode must not meet them.
MODE_WORDS = {
    "private_endpoint": ("privatelink", "private_endpoint", "PrivateLink"),
    "peering": ("peering", "network_container", "atlas_cidr"),
    "nat": ("nat_gateway", "aws_eip", "internet_gateway"),
    "password": ("password", "secretsmanager", "Secrets Manager", "SCRAM"),
    "iam": ("$external", "aws_iam_type", "MONGODB-AWS"),
    "snapstart": ("snap_start", "SnapStart"),
    "provisioned": ("provisioned_concurren", "provisioned concurrency"),
    "alias": ("aws_lambda_alias", "publish =", "alias `live`"),
}
OPEN = ("0.0.0.0/0", "::/0")
CLUSTER_READS = re.compile(r"data\.mongodbatlas_advanced_cluster\.(\w+)\.(\w+)")


def max_containers(answers: Answers) -> int:
    """The connection budget cookiecutter.json's `__max_reserved_concurrency` computes."""
    tier = answers.get("atlas_tier", DEFAULTS["atlas_tier"][0])
    limit = DEFAULTS["_tier_connection_limits"][tier] * DEFAULTS["_connection_headroom"]
    return int(limit // DEFAULTS["_connections_per_container_per_node"])


class Stack(RenderedStack, tf.ParsedConfiguration):
    """One rendered project's Terraform files, parsed once."""

    @property
    def folder(self) -> Path:
        return self.project / "infra" / "terraform"

    @property
    def cold(self) -> str:
        return self.answer("cold_start")

    @property
    def files(self) -> set[str]:
        files = COMMON_FILES | {NETWORK_FILE[self.network]}
        if self.cold != "on_demand":
            files.add("function_alias.tf")
        if self.cold == "provisioned":
            files.add("function_provisioned.tf")
        return files | ({"database_secret.tf"} if self.auth == "password" else set())

    @cached_property
    def readme(self) -> str:
        return (self.folder / "README.md").read_text(encoding="utf-8")

    def resource(self, key: str) -> dict[str, Any]:
        return self.resources[key]

    def default(self, expression: Any) -> Any:
        """The value of `${var.x}` (its default) or the literal itself."""
        match = re.fullmatch(r"\$\{var\.(\w+)\}", str(expression))
        return self.variables[match.group(1)]["default"] if match else expression

    def declared_in(self, name: str) -> set[str]:
        config = self.configs[name]
        return {
            f"{kind} {type_}.{label}"
            for kind in ("resource", "data", "ephemeral")
            for block in config.get(kind, [])
            for type_, named in block.items()
            for label in named
        }


@pytest.fixture(scope="session")
def stacks(render_once: Render) -> dict[str, Stack]:
    return {
        combination_id(answers): Stack(answers, render_once(**answers))
        for answers in TF_COMBINATIONS
    }


@pytest.fixture(params=TF_COMBINATIONS, ids=IDS)
def stack(request: pytest.FixtureRequest, stacks: dict[str, Stack]) -> Stack:
    return stacks[combination_id(request.param)]


@pytest.fixture(scope="session")
def awkward(render_once: Render) -> Stack:
    answers: Answers = {**TF_COMBINATIONS[0], **AWKWARD, "auth_mode": "password"}
    return Stack(answers, render_once(**answers))


def ref(target: str) -> str:
    return "${" + target + "}"


def single(blocks: Any) -> dict[str, Any]:
    """The one nested block of a kind (python-hcl2 gives nested blocks as lists)."""
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


def lifecycle(body: dict[str, Any]) -> dict[str, Any]:
    return single(body["lifecycle"])


def only(stack: Stack, network: str | None = None, auth: str | None = None) -> None:
    if network and stack.network != network:
        pytest.skip(f"{network} only")
    if auth and stack.auth != auth:
        pytest.skip(f"{auth} only")


# ---------------------------------------------------------------- files, parsing, layout


def test_only_terraform_files_are_generated(stack: Stack) -> None:
    assert {p.name for p in stack.folder.iterdir()} == stack.files
    assert sorted(p.name for p in (stack.project / "infra").iterdir()) == ["terraform"]
    workflows = stack.project / ".github" / "workflows"
    assert sorted(p.name for p in workflows.glob("infra-*.yml")) == ["infra-terraform.yml"]
    for path in [*stack.folder.iterdir(), workflows / "infra-terraform.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "cookiecutter." not in text, path
        assert "{{" not in text and "{%" not in text and "{#" not in text, path


def test_every_file_parses(stack: Stack) -> None:
    assert set(stack.configs) == {name for name in stack.files if name.endswith(".tf")}
    kinds = {kind for config in stack.configs.values() for kind in config} - {"__comments__"}
    expected = {"terraform", "provider", "variable", "locals", "data", "resource", "output"}
    if stack.auth == "password":
        expected.add("ephemeral")
    if stack.network != "nat":
        expected.add("check")
    assert kinds == expected


def test_one_file_per_concern(stack: Stack) -> None:
    """Each resource lives in the file of its concern; a file choice, not Jinja, picks the mode."""
    for name in stack.configs:
        assert stack.declared_in(name) == CONCERNS[name], name
    other_networks = set(NETWORK_FILE) - {stack.network}
    other_auth = {"iam", "password"} - {stack.auth}
    other_cold = {"snapstart", "provisioned"} - {stack.cold}
    if stack.cold == "on_demand":
        other_cold.add("alias")
    text = "\n".join(stack.texts.values())
    for mode in other_networks | other_auth | other_cold:
        for word in MODE_WORDS[mode]:
            assert word not in text, (mode, word)


def test_layout_is_terraform_fmt(stack: Stack) -> None:
    for name, text in stack.texts.items():
        assert tf.fmt_problems(text) == [], name
        assert "\n\n\n" not in text, name
        assert not text.startswith("\n"), name


def test_layout_check_can_fail() -> None:
    good = (
        'resource "a" "b" {\n  name        = "x"\n  description = "y"\n\n'
        "  tags = {\n    A = 1\n  }\n}\n"
    )
    assert tf.fmt_problems(good) == []
    for bad in (
        good.replace('name        = "x"', 'name = "x"'),
        good.replace("    A = 1", "   A = 1"),
        good.replace('"y"\n', '"y" \n'),
        good.replace("  tags = {", "  tags  = {\n  }\n  x = {"),
        good.rstrip("\n"),
    ):
        assert tf.fmt_problems(bad), bad


def test_providers_and_versions(stack: Stack) -> None:
    terraform = single(stack.configs["versions.tf"]["terraform"])
    # Write-only arguments and ephemeral resources.
    assert terraform["required_version"] == ">= 1.11"
    providers = single(terraform["required_providers"])
    providers.pop("__comments__", None)
    # password_wo exists from mongodbatlas 2.16; Secrets Manager generates the password (no random).
    assert providers == {
        "aws": {"source": "hashicorp/aws", "version": "~> 6.20"},
        "mongodbatlas": {"source": "mongodb/mongodbatlas", "version": "~> 2.16"},
    }
    configured = dict(tf.blocks(stack.configs, "provider"))
    assert set(configured) == {"aws", "mongodbatlas"}
    assert configured["aws"]["region"] == ref("var.aws_region")
    # Atlas credentials come from the environment only.
    assert {k for k in configured["mongodbatlas"] if k != "__comments__"} == set()
    all_text = "\n".join(stack.texts.values())
    for key in ("public_key", "private_key", "client_secret", "credentials", "access_key"):
        assert not re.search(rf"^\s*{key}\s*=", all_text, re.MULTILINE), key
    assert "Terraform 1.11 or newer" in stack.readme


# ---------------------------------------------------------------- references


def test_references_resolve(stack: Stack) -> None:
    assert tf.unresolved(stack.texts, stack.configs) == []


def test_every_declaration_is_used(stack: Stack) -> None:
    assert tf.unused(stack.texts, stack.configs) == []


def test_reference_check_can_fail(stack: Stack) -> None:
    texts = {
        name: text if name == "variables.tf" else text.replace("var.atlas_project_id", "var.pid")
        for name, text in stack.texts.items()
    }
    texts["extra.tf"] = 'output "x" {\n  value = [aws_vpc.mian.id, terraform_data.nope.id]\n}\n'
    assert tf.unresolved(texts, stack.configs) == sorted(
        [
            "extra.tf: resource aws_vpc.mian",
            "extra.tf: resource terraform_data.nope",
            *(
                f"{name}: var pid"
                for name in stack.texts
                if "var.atlas_project_id" in stack.texts[name] and name != "variables.tf"
            ),
        ]
    )
    assert tf.unused(texts, stack.configs) == ["var atlas_project_id"]


def test_variables(stack: Stack) -> None:
    expected = {
        "atlas_project_id",
        "atlas_cluster_name",
        "aws_region",
        "name",
        "vpc_cidr",
        "lambda_memory_mb",
        "lambda_timeout_s",
        "reserved_concurrency",
        "log_retention_days",
        "alarm_email",
    }
    if stack.cold == "provisioned":
        expected.add("provisioned_concurrency")
    expected |= {
        "private_endpoint": {"atlas_private_endpoint_service_id"},
        "peering": {"new_atlas_container_cidr"},
        "nat": set(),
    }[stack.network]
    if stack.auth == "password":
        expected |= {"database_username", "password_version"}
    assert set(stack.variables) == expected
    for name, variable in stack.variables.items():
        assert variable.get("description"), name
        assert "type" in variable, name
    assert "default" not in stack.variables["atlas_project_id"]
    assert "default" not in stack.variables["atlas_cluster_name"]
    assert stack.variables["vpc_cidr"]["default"] == "10.0.0.0/16"
    assert stack.variables["aws_region"]["default"] == stack.answer("aws_region")
    assert stack.variables["name"]["default"] == stack.project.name
    for name in ("lambda_memory_mb", "lambda_timeout_s", "reserved_concurrency"):
        assert stack.variables[name]["default"] == int(stack.answer(name)), name
    assert stack.variables["alarm_email"]["default"] == ""
    if stack.cold == "provisioned":
        # cookiecutter.json derives the prompt's default: 2 with cold_start=provisioned.
        answer = stack.answers.get("provisioned_concurrency", 2)
        assert stack.variables["provisioned_concurrency"]["default"] == int(answer)


def test_reserved_concurrency_bound_is_the_connection_budget(stack: Stack) -> None:
    budget = max_containers(stack.answers)
    variable = stack.variables["reserved_concurrency"]
    validation = single(variable["validation"])
    condition = validation["condition"]
    assert f"var.reserved_concurrency <= {budget}" in condition
    assert "var.reserved_concurrency >= 0" in condition
    assert "floor(var.reserved_concurrency) == var.reserved_concurrency" in condition
    assert re.findall(r"<= (\d+)", condition) == [str(budget)]
    assert f"from 1 to {budget}" in validation["error_message"]
    assert f"1 to {budget}" in stack.readme
    assert "aws lambda get-account-settings --query AccountLimit" in stack.readme


# ---------------------------------------------------------------- network


def test_vpc_and_private_subnets(stack: Stack) -> None:
    vpc = stack.resource("aws_vpc.main")
    assert vpc["cidr_block"] == ref("var.vpc_cidr")
    # Peered VPCs resolve Atlas hostnames to private addresses only with both on.
    assert vpc["enable_dns_hostnames"] is True
    assert vpc["enable_dns_support"] is True
    subnets = stack.resource("aws_subnet.private")
    assert subnets["count"] == 2
    assert subnets["vpc_id"] == ref("aws_vpc.main.id")
    assert subnets["map_public_ip_on_launch"] is False
    assert "count.index" in subnets["availability_zone"]
    association = stack.resource("aws_route_table_association.private")
    assert association["count"] == 2
    assert association["route_table_id"] == ref("aws_route_table.private.id")
    default_sg = stack.resource("aws_default_security_group.default")
    assert set(default_sg) - {"__comments__"} == {"vpc_id"}
    function_sg = stack.resource("aws_security_group.function")
    assert "ingress" not in function_sg and "egress" not in function_sg
    ingress = [k for k in stack.resources if k.startswith("aws_vpc_security_group_ingress_rule.")]
    for key in ingress:
        rule = stack.resource(key)
        assert rule["referenced_security_group_id"] == ref("aws_security_group.function.id"), key
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule, key


def test_function_egress(stack: Stack) -> None:
    rule = stack.resource("aws_vpc_security_group_egress_rule.function_to_atlas")
    assert rule["security_group_id"] == ref("aws_security_group.function.id")
    assert rule["ip_protocol"] == "tcp"
    if stack.network == "private_endpoint":
        assert (rule["from_port"], rule["to_port"]) == (1024, 65535)
        assert rule["referenced_security_group_id"] == ref("aws_security_group.atlas_endpoint.id")
    elif stack.network == "peering":
        # The container's CIDR as Atlas reports it, never a typed-in value.
        assert (rule["from_port"], rule["to_port"]) == (27015, 27017)
        assert rule["cidr_ipv4"] == ref("local.atlas_cidr")
    else:
        # Atlas's public node addresses: any destination, MongoDB ports only, justified inline.
        assert (rule["from_port"], rule["to_port"]) == (27015, 27017)
        assert rule["cidr_ipv4"] == "0.0.0.0/0"
    egress = {k for k in stack.resources if k.startswith("aws_vpc_security_group_egress_rule.")}
    expected = {"aws_vpc_security_group_egress_rule.function_to_atlas"}
    if stack.auth == "password":
        expected.add("aws_vpc_security_group_egress_rule.function_to_secretsmanager")
        sm = stack.resource("aws_vpc_security_group_egress_rule.function_to_secretsmanager")
        assert (sm["from_port"], sm["to_port"]) == (443, 443)
        assert sm["referenced_security_group_id"] == ref(
            "aws_security_group.secretsmanager_endpoint.id"
        )
    assert egress == expected


def test_private_endpoint_wiring(stack: Stack) -> None:
    only(stack, network="private_endpoint")
    service = stack.resource("mongodbatlas_privatelink_endpoint.atlas")
    assert service["provider_name"] == "AWS"
    assert service["project_id"] == ref("var.atlas_project_id")
    assert service["region"] == ref("local.atlas_region")
    assert stack.locals["atlas_region"] == '${upper(replace(var.aws_region, "-", "_"))}'
    endpoint = stack.resource("aws_vpc_endpoint.atlas")
    assert endpoint["vpc_endpoint_type"] == "Interface"
    assert endpoint["service_name"] == ref("local.endpoint_service_name")
    assert endpoint["subnet_ids"] == ref("aws_subnet.private[*].id")
    assert endpoint["security_group_ids"] == [ref("aws_security_group.atlas_endpoint.id")]
    registration = stack.resource("mongodbatlas_privatelink_endpoint_service.atlas")
    assert registration["endpoint_service_id"] == ref("aws_vpc_endpoint.atlas.id")
    assert registration["private_link_id"] == ref("local.private_link_id")
    assert registration["provider_name"] == "AWS"
    ingress = stack.resource("aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function")
    assert ingress["security_group_id"] == ref("aws_security_group.atlas_endpoint.id")
    assert (ingress["ip_protocol"], ingress["from_port"], ingress["to_port"]) == (
        "tcp",
        1024,
        65535,
    )
    # The connection strings are read again once the endpoint is registered.
    again = stack.data["mongodbatlas_advanced_cluster.private_endpoint"]
    assert again["depends_on"] == ["${mongodbatlas_privatelink_endpoint_service.atlas}"]
    assert again["project_id"] == ref("data.mongodbatlas_advanced_cluster.atlas.project_id")
    assert again["name"] == ref("data.mongodbatlas_advanced_cluster.atlas.name")
    assert "depends_on" not in stack.data["mongodbatlas_advanced_cluster.atlas"]
    assert stack.outputs["atlas_private_endpoint_service_id"]["value"] == ref(
        "local.private_link_id"
    )


def test_existing_endpoint_service_skips_creating_one(stack: Stack) -> None:
    """Contract 5: atlas_private_endpoint_service_id set = use that service, create none."""
    only(stack, network="private_endpoint")
    variable = stack.variables["atlas_private_endpoint_service_id"]
    assert variable["default"] == ""
    assert single(variable["validation"])["condition"] == (
        '${can(regex("^([a-f0-9]{24})?$", var.atlas_private_endpoint_service_id))}'
    )
    assert stack.locals["create_endpoint_service"] == (
        '${var.atlas_private_endpoint_service_id == ""}'
    )
    created = stack.resource("mongodbatlas_privatelink_endpoint.atlas")
    assert created["count"] == "${local.create_endpoint_service ? 1 : 0}"
    existing = stack.data["mongodbatlas_privatelink_endpoint.existing"]
    assert existing["count"] == "${local.create_endpoint_service ? 0 : 1}"
    assert existing["private_link_id"] == ref("var.atlas_private_endpoint_service_id")
    assert existing["provider_name"] == "AWS"
    assert stack.locals["private_link_id"] == (
        "${local.create_endpoint_service ? mongodbatlas_privatelink_endpoint.atlas[0]"
        ".private_link_id : var.atlas_private_endpoint_service_id}"
    )
    assert stack.locals["endpoint_service_name"] == (
        "${local.create_endpoint_service ? mongodbatlas_privatelink_endpoint.atlas[0]"
        ".endpoint_service_name : data.mongodbatlas_privatelink_endpoint.existing[0]"
        ".endpoint_service_name}"
    )
    # A service of another region is named, with the way out.
    check = single(lifecycle(existing)["postcondition"])
    assert "self.region_name" in check["condition"] and "var.aws_region" in check["condition"]
    assert "${var.atlas_private_endpoint_service_id}" in check["error_message"]
    assert "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION" in stack.readme


def test_private_endpoint_string_is_this_endpoints(stack: Stack) -> None:
    only(stack, network="private_endpoint")
    selector = stack.locals["private_endpoint_srv"]
    source = (
        "data.mongodbatlas_advanced_cluster.private_endpoint.connection_strings.private_endpoint"
    )
    assert selector.startswith("${try([for connection in " + source + " : ")
    assert selector.endswith("], [])}")
    # Matched by this interface endpoint's id; an entry without endpoints is skipped, not an error.
    assert (
        "if contains(try([for endpoint in connection.endpoints : endpoint.endpoint_id], []), "
        "aws_vpc_endpoint.atlas.id)"
    ) in selector
    if stack.answer("cluster_topology") == "sharded":
        # The optimized -pl-N-lb string first; either may be missing.
        assert (
            "try(coalesce(connection.srv_shard_optimized_connection_string, "
            "connection.srv_connection_string), null)"
        ) in selector
    else:
        assert ": connection.srv_connection_string if " in selector
        assert "shard_optimized" not in "\n".join(stack.texts.values())
    assert stack.locals["mongodb_uri"] == "${try(local.private_endpoint_srv[0], null)}"


def test_peering_looks_the_container_up(stack: Stack) -> None:
    only(stack, network="peering")
    containers = stack.data["mongodbatlas_network_containers.aws"]
    assert containers == {"project_id": ref("var.atlas_project_id"), "provider_name": "AWS"}
    assert stack.locals["atlas_region"] == '${upper(replace(var.aws_region, "-", "_"))}'
    assert stack.locals["region_container"] == (
        "${one(try([for container in data.mongodbatlas_network_containers.aws.results : "
        "container if container.region_name == local.atlas_region], []))}"
    )
    # Created only where none exists, and that choice is kept: a rerun finds the container this
    # stack created, which must not become a plan to delete it.
    choice = stack.resource("terraform_data.atlas_container_choice")
    assert choice["input"] == "${local.region_container == null}"
    assert lifecycle(choice)["ignore_changes"] == ["input"]
    container = stack.resource("mongodbatlas_network_container.atlas")
    assert container["count"] == "${terraform_data.atlas_container_choice.input ? 1 : 0}"
    assert container["atlas_cidr_block"] == ref("var.new_atlas_container_cidr")
    assert container["provider_name"] == "AWS"
    assert container["region_name"] == ref("local.atlas_region")
    assert stack.locals["atlas_container_id"] == (
        "${terraform_data.atlas_container_choice.input ? "
        "mongodbatlas_network_container.atlas[0].container_id : local.region_container.id}"
    )
    assert stack.locals["atlas_cidr"] == (
        "${terraform_data.atlas_container_choice.input ? "
        "mongodbatlas_network_container.atlas[0].atlas_cidr_block : "
        "local.region_container.atlas_cidr_block}"
    )
    assert stack.variables["new_atlas_container_cidr"]["default"] == "192.168.248.0/21"


def test_peering_wiring(stack: Stack) -> None:
    only(stack, network="peering")
    peering = stack.resource("mongodbatlas_network_peering.atlas")
    assert peering["container_id"] == ref("local.atlas_container_id")
    assert peering["provider_name"] == "AWS"
    assert peering["vpc_id"] == ref("aws_vpc.main.id")
    assert peering["accepter_region_name"] == ref("var.aws_region")
    assert peering["route_table_cidr_block"] == ref("var.vpc_cidr")
    assert peering["aws_account_id"] == ref("data.aws_caller_identity.current.account_id")
    accepter = stack.resource("aws_vpc_peering_connection_accepter.atlas")
    assert accepter["vpc_peering_connection_id"] == ref(
        "mongodbatlas_network_peering.atlas.connection_id"
    )
    assert accepter["auto_accept"] is True
    route = stack.resource("aws_route.private_to_atlas")
    assert route["route_table_id"] == ref("aws_route_table.private.id")
    assert route["destination_cidr_block"] == ref("local.atlas_cidr")
    assert route["vpc_peering_connection_id"] == ref("aws_vpc_peering_connection_accepter.atlas.id")
    access = stack.resource("mongodbatlas_project_ip_access_list.vpc")
    assert access["cidr_block"] == ref("var.vpc_cidr")
    assert "ip_address" not in access
    # No hand-typed Atlas CIDR: the only CIDR literals are defaults of variables.
    for name, text in stack.texts.items():
        if name != "variables.tf":
            assert not re.findall(r'"\d+\.\d+\.\d+\.\d+/\d+"', tf.strip_comments(text)), name


def test_nat_wiring(stack: Stack) -> None:
    only(stack, network="nat")
    assert stack.resource("aws_subnet.public")["map_public_ip_on_launch"] is False
    assert stack.resource("aws_eip.nat")["domain"] == "vpc"
    nat = stack.resource("aws_nat_gateway.main")
    assert nat["allocation_id"] == ref("aws_eip.nat.id")
    assert nat["subnet_id"] == ref("aws_subnet.public.id")
    public = stack.resource("aws_route.public_default")
    assert public["route_table_id"] == ref("aws_route_table.public.id")
    assert public["gateway_id"] == ref("aws_internet_gateway.main.id")
    private = stack.resource("aws_route.private_default")
    assert private["route_table_id"] == ref("aws_route_table.private.id")
    assert private["nat_gateway_id"] == ref("aws_nat_gateway.main.id")
    access = stack.resource("mongodbatlas_project_ip_access_list.nat")
    assert access["ip_address"] == ref("aws_eip.nat.public_ip")
    assert "cidr_block" not in access
    assert stack.outputs["nat_elastic_ip"]["value"] == ref("aws_eip.nat.public_ip")


def test_no_open_cidr_where_traffic_comes_in(stack: Stack) -> None:
    """0.0.0.0/0 only as a route destination or the nat egress; never inbound, never in Atlas."""
    for key, resource in stack.resources.items():
        text = json.dumps(resource)
        if not any(cidr in text for cidr in OPEN):
            continue
        allowed = {"aws_route.public_default", "aws_route.private_default"}
        if stack.network == "nat":
            allowed.add("aws_vpc_security_group_egress_rule.function_to_atlas")
        assert key in allowed, key
        if key.startswith("aws_route."):
            assert resource["destination_cidr_block"] == "0.0.0.0/0"
    for key in stack.resources:
        if key.startswith("mongodbatlas_project_ip_access_list."):
            access = stack.resource(key)
            assert not any(cidr in json.dumps(access) for cidr in OPEN), key


# ---------------------------------------------------------------- the cluster and its string


def test_connection_string_per_mode(stack: Stack) -> None:
    """Contract 4: nat and peering use the standard SRV string, private endpoints their -pl- one."""
    cluster = stack.data["mongodbatlas_advanced_cluster.atlas"]
    assert cluster["project_id"] == ref("var.atlas_project_id")
    assert cluster["name"] == ref("var.atlas_cluster_name")
    uri = stack.locals["mongodb_uri"]
    if stack.network == "private_endpoint":
        assert uri == "${try(local.private_endpoint_srv[0], null)}"
    else:
        assert uri == (
            "${try(data.mongodbatlas_advanced_cluster.atlas.connection_strings.standard_srv, null)}"
        )
    text = "\n".join(tf.strip_comments(t) for t in stack.texts.values())
    # The -pri string exists on AWS only with custom DNS: never read it.
    assert "private_srv" not in text
    variables = single(stack.resource("aws_lambda_function.api")["environment"])["variables"]
    assert variables["MONGODB_URI"] == ref("local.mongodb_uri")
    precondition = single(lifecycle(stack.resource("aws_lambda_function.api"))["precondition"])
    assert precondition["condition"] == (
        '${can(regex("^mongodb\\\\+srv://\\\\S+$", local.mongodb_uri))}'
    )
    assert precondition["error_message"] == ref("local.mongodb_uri_missing")
    assert "${var.atlas_cluster_name}" in stack.locals["mongodb_uri_missing"]
    assert "apply again" in stack.locals["mongodb_uri_missing"]


def test_missing_cluster_gives_one_message(stack: Stack) -> None:
    """The provider answers an unknown cluster name with nulls: stop with the name instead."""
    cluster = stack.data["mongodbatlas_advanced_cluster.atlas"]
    check = single(lifecycle(cluster)["postcondition"])
    assert check["condition"] == "${self.state_name != null}"
    assert check["error_message"].startswith(
        'Atlas project ${var.atlas_project_id} has no cluster named "${var.atlas_cluster_name}"'
    )
    # Every other read of a cluster attribute tolerates nulls: it sits inside try().
    reads = 0
    for config in stack.configs.values():
        for expression in tf.strings(config):
            for match in CLUSTER_READS.finditer(expression):
                if match.group(2) in {"project_id", "name"}:
                    continue
                reads += 1
                assert "try" in tf.enclosing_calls(expression, match.start()), expression
    assert reads >= 1


def test_try_check_can_fail() -> None:
    read = "data.mongodbatlas_advanced_cluster.atlas.connection_strings.standard_srv"
    assert tf.enclosing_calls("${" + read + "}", 2) == []
    wrapped = "${try(" + read + ', null)} and ${upper(coalesce("(", ' + read + "))}"
    first, second = (m.start() for m in CLUSTER_READS.finditer(wrapped))
    assert tf.enclosing_calls(wrapped, first) == ["try"]
    assert tf.enclosing_calls(wrapped, second) == ["upper", "coalesce"]


def test_cluster_region_is_checked(stack: Stack) -> None:
    """Private endpoints and peering reach only nodes in their own region: say so at plan."""
    if stack.network == "nat":
        assert stack.checks == {}
        return
    check = single(stack.checks["cluster_in_region"]["assert"])
    assert "data.mongodbatlas_advanced_cluster.atlas.replication_specs" in check["condition"]
    assert 'region.region_name if region.provider_name == "AWS"' in check["condition"]
    assert check["condition"].endswith(", local.atlas_region)}")
    assert (
        "${var.atlas_cluster_name} has no AWS nodes in ${local.atlas_region}"
        in (check["error_message"])
    )


# ---------------------------------------------------------------- database user


def test_password_has_one_source_of_truth(stack: Stack) -> None:
    """Secrets Manager generates the password, the secret stores it, Atlas reads it back."""
    text = "\n".join(tf.strip_comments(t) for t in stack.texts.values())
    if stack.auth == "iam":
        assert stack.ephemeral == {}
        assert "password" not in text and "secretsmanager" not in text
        return
    assert '"random_password"' not in text and "hashicorp/random" not in text
    assert set(stack.ephemeral) == {
        "aws_secretsmanager_random_password.database_user",
        "aws_secretsmanager_secret_version.database_user",
    }
    generated = stack.ephemeral["aws_secretsmanager_random_password.database_user"]
    assert generated["password_length"] >= 32
    # The generated password is written to exactly one place: the secret version.
    uses = re.findall(r"ephemeral\.aws_secretsmanager_random_password\.database_user", text)
    assert len(uses) == 1
    version = stack.resource("aws_secretsmanager_secret_version.database_user")
    assert version["secret_id"] == ref("aws_secretsmanager_secret.database_user.id")
    assert version["secret_string_wo"] == (
        "${jsonencode({username = var.database_username, "
        "password = ephemeral.aws_secretsmanager_random_password.database_user.random_password})}"
    )
    assert version["secret_string_wo_version"] == ref("var.password_version")
    assert "lifecycle" not in version
    # Another username makes another secret (secret_id forces a new version, new password).
    secret = stack.resource("aws_secretsmanager_secret.database_user")
    assert secret["name_prefix"] == "${var.name}-${var.database_username}-"
    # Atlas takes the password from that very secret version.
    read = stack.ephemeral["aws_secretsmanager_secret_version.database_user"]
    assert read == {
        "secret_id": ref("aws_secretsmanager_secret_version.database_user.secret_id"),
        "version_id": ref("aws_secretsmanager_secret_version.database_user.version_id"),
    }
    user = stack.resource("mongodbatlas_database_user.function")
    assert user["password_wo"] == (
        "${jsondecode(ephemeral.aws_secretsmanager_secret_version.database_user"
        ".secret_string).password}"
    )
    assert user["password_wo_version"] == ref(
        "aws_secretsmanager_secret_version.database_user.secret_string_wo_version"
    )
    # Only write-only arguments carry it: nothing secret in plan or state.
    for key, body in {**stack.resources, **stack.data}.items():
        assert not {"password", "secret_string", "secret_binary"} & set(body), key
    assert "state and plan contain no database password" in stack.readme


def test_secrets_manager_endpoint(stack: Stack) -> None:
    only(stack, auth="password")
    endpoint = stack.resource("aws_vpc_endpoint.secretsmanager")
    assert endpoint["service_name"] == "com.amazonaws.${var.aws_region}.secretsmanager"
    assert endpoint["private_dns_enabled"] is True
    assert endpoint["subnet_ids"] == ref("aws_subnet.private[*].id")
    assert endpoint["security_group_ids"] == [ref("aws_security_group.secretsmanager_endpoint.id")]


# ---------------------------------------------------------------- the function


def test_function_settings(stack: Stack) -> None:
    function = stack.resource("aws_lambda_function.api")
    package = stack.project.name.replace("-", "_")
    assert function["handler"] == f"{package}.handler.handler"
    module = stack.project / "src" / package / "handler.py"
    assert re.search(r"^def handler\(", module.read_text(encoding="utf-8"), re.MULTILINE)
    assert function["filename"] == "${path.module}/../../dist/lambda.zip"
    assert (
        function["source_code_hash"]
        == '${filebase64sha256("${path.module}/../../dist/lambda.zip")}'
    )
    assert (
        stack.folder / "../../dist/lambda.zip"
    ).resolve() == stack.project / "dist" / "lambda.zip"
    assert function["runtime"] == f"python{stack.answer('python_version')}"
    assert function["architectures"] == [stack.answer("architecture")]
    assert function["memory_size"] == ref("var.lambda_memory_mb")
    assert function["timeout"] == ref("var.lambda_timeout_s")
    # 0 = reserve nothing, which Lambda spells -1 (0 would throttle every request).
    assert function["reserved_concurrent_executions"] == (
        "${var.reserved_concurrency == 0 ? -1 : var.reserved_concurrency}"
    )
    assert function["role"] == ref("aws_iam_role.function.arn")
    logging = single(function["logging_config"])
    assert logging["log_group"] == ref("aws_cloudwatch_log_group.function.name")
    log_group = stack.resource("aws_cloudwatch_log_group.function")
    assert log_group["retention_in_days"] == ref("var.log_retention_days")
    assert log_group["name"] == "/aws/lambda/${var.name}"
    assert function["function_name"] == ref("var.name")
    vpc_config = single(function["vpc_config"])
    assert vpc_config["subnet_ids"] == ref("aws_subnet.private[*].id")
    assert vpc_config["security_group_ids"] == [ref("aws_security_group.function.id")]

    variables = single(function["environment"])["variables"]
    expected = {
        "MONGODB_URI": ref("local.mongodb_uri"),
        "MONGODB_DATABASE": ref("local.database_name"),
        # Contract 1: the timeout the function really has.
        "FUNCTION_TIMEOUT_S": ref("var.lambda_timeout_s"),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        # Contract D: Powertools' service and metrics namespace = the stack's name.
        "POWERTOOLS_SERVICE_NAME": ref("var.name"),
        "POWERTOOLS_METRICS_NAMESPACE": ref("var.name"),
    }
    if stack.auth == "password":
        expected["MONGODB_SECRET_ARN"] = ref("aws_secretsmanager_secret.database_user.arn")
    assert variables == expected
    assert function["depends_on"] == [
        "${aws_iam_role_policy_attachment.vpc_access}",
        "${aws_iam_role_policy.deny_network_interfaces_to_code}",
        "${mongodbatlas_database_user.function}",
        "${terraform_data.network_path}",
        *(["${terraform_data.secret_path}"] if stack.auth == "password" else []),
    ]


def test_function_code_may_not_manage_network_interfaces(stack: Stack) -> None:
    """AWSLambdaVPCAccessExecutionRole's EC2 actions are for Lambda's own network interface
    management; the code holds the same role's credentials. An inline Deny on exactly those
    actions, conditioned on lambda:SourceFunctionArn (which Lambda adds to calls from inside the
    execution environment only), keeps them from the code. It names the function by an ARN
    built from the function's name, so it is in place before the function exists, and the
    function checks that ARN once it does."""
    policy = stack.resource("aws_iam_role_policy.deny_network_interfaces_to_code")
    assert policy["role"] == ref("aws_iam_role.function.id")
    document = "aws_iam_policy_document.deny_network_interfaces_to_code"
    assert policy["policy"] == ref(f"data.{document}.json")
    statement = single(stack.data[document]["statement"])
    assert statement["effect"] == "Deny"
    assert sorted(statement["actions"]) == sorted(
        a for a in sf.VPC_ACCESS_ACTIONS if a.startswith("ec2:")
    )
    assert statement["resources"] == ["*"]
    assert single(statement["condition"]) == {
        "test": "ArnLike",
        "variable": "lambda:SourceFunctionArn",
        "values": [ref("local.function_arn"), "${local.function_arn}:*"],
    }
    assert stack.locals["function_arn"] == (
        "arn:${data.aws_partition.current.partition}:lambda:${var.aws_region}:"
        "${data.aws_caller_identity.current.account_id}:function:${var.name}"
    )
    function = stack.resource("aws_lambda_function.api")
    assert function["function_name"] == ref("var.name")
    (check,) = lifecycle(function)["postcondition"]
    assert check["condition"] == "${self.arn == local.function_arn}"
    # Nothing else touches EC2: the only grants are the managed policy's.
    for key, body in stack.data.items():
        if key.startswith("aws_iam_policy_document.") and key != document:
            assert "ec2:" not in json.dumps(body), key
    assert "ec2:" not in json.dumps(stack.resources)


# What a connection from the function needs, per network mode and with a password.
CONNECTION_NEEDS = {
    "private_endpoint": {
        "mongodbatlas_privatelink_endpoint_service.atlas",
        "aws_vpc_endpoint.atlas",
        "aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
    },
    "peering": {
        "aws_route_table_association.private",
        "aws_vpc_peering_connection_accepter.atlas",
        "aws_route.private_to_atlas",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
        "mongodbatlas_project_ip_access_list.vpc",
    },
    "nat": {
        "aws_route_table_association.private",
        "aws_nat_gateway.main",
        "aws_route.private_default",
        "aws_route_table_association.public",
        "aws_route.public_default",
        "aws_vpc_security_group_egress_rule.function_to_atlas",
        "mongodbatlas_project_ip_access_list.nat",
    },
    "password": {
        "aws_iam_role_policy.read_database_secret",
        "aws_vpc_endpoint.secretsmanager",
        "aws_vpc_security_group_ingress_rule.secretsmanager_endpoint_from_function",
        "aws_vpc_security_group_egress_rule.function_to_secretsmanager",
        "aws_secretsmanager_secret_version.database_user",
    },
    "iam": set(),
}


def without_comments(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_comments(v) for k, v in node.items() if k != "__comments__"}
    if isinstance(node, list):
        return [without_comments(item) for item in node]
    return node


def dependencies(stack: Stack, address: str) -> set[str]:
    """Every resource ``address`` waits for: what it refers to and its depends_on, followed
    through locals, data sources, ephemeral resources and other resources."""
    declared = {
        "resource": stack.resources,
        "data": stack.data,
        "ephemeral": stack.ephemeral,
        "local": stack.locals,
    }
    seen: set[tuple[str, str]] = set()
    todo = [("resource", address)]
    while todo:
        kind, target = todo.pop()
        body = declared.get(kind, {}).get(target)
        for reference in tf.references(json.dumps(without_comments(body))):
            if reference not in seen:
                seen.add(reference)
                todo.append(reference)
    return {target for kind, target in seen if kind == "resource"}


def test_containers_start_once_their_connection_can_succeed(stack: Stack) -> None:
    """The function, and so the alias and its provisioned containers (which connect during
    INIT), waits for the route, rules, access list and endpoints its connection needs."""
    needs = CONNECTION_NEEDS[stack.network] | CONNECTION_NEEDS[stack.auth]
    waits_for = dependencies(stack, "aws_lambda_function.api")
    assert needs <= waits_for, needs - waits_for
    if stack.cold == "provisioned":
        provisioned = dependencies(stack, "aws_lambda_provisioned_concurrency_config.live")
        assert needs | {"aws_lambda_function.api"} <= provisioned

    api = stack.resource("aws_apigatewayv2_api.http")
    assert api["protocol_type"] == "HTTP"
    integration = stack.resource("aws_apigatewayv2_integration.function")
    assert integration["api_id"] == ref("aws_apigatewayv2_api.http.id")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "2.0"
    # Contract A: with SnapStart or provisioned concurrency, the API invokes the alias live.
    target = "aws_lambda_function.api" if stack.cold == "on_demand" else "aws_lambda_alias.live"
    assert integration["integration_uri"] == ref(f"{target}.invoke_arn")
    # Contract 3: one route, $default; the handler answers 404/405 itself.
    routes = {k: v for k, v in stack.resources.items() if k.startswith("aws_apigatewayv2_route.")}
    assert list(routes) == ["aws_apigatewayv2_route.default"]
    route = routes["aws_apigatewayv2_route.default"]
    assert "for_each" not in route and "count" not in route
    assert route["route_key"] == "$default"
    assert route["target"] == "integrations/${aws_apigatewayv2_integration.function.id}"
    stage = stack.resource("aws_apigatewayv2_stage.default")
    assert stage["name"] == "$default"
    assert stage["auto_deploy"] is True
    logs = single(stage["access_log_settings"])
    assert logs["destination_arn"] == ref("aws_cloudwatch_log_group.api_access.arn")
    permission = stack.resource("aws_lambda_permission.api")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function_name"] == ref("aws_lambda_function.api.function_name")
    if stack.cold == "on_demand":
        assert "qualifier" not in permission
    else:
        assert permission["qualifier"] == ref("aws_lambda_alias.live.name")
    assert permission["source_arn"] == "${aws_apigatewayv2_api.http.execution_arn}/*/*"


def test_api_throttling_is_sane_without_reservation(stack: Stack) -> None:
    """Throttled to the reserved concurrency; with 0 (reserve nothing), to the budget's maximum;
    never above API Gateway's default account-level limits (a stage cannot exceed them)."""
    budget = max_containers(stack.answers)
    assert stack.locals["max_containers"] == (
        f"${{var.reserved_concurrency > 0 ? var.reserved_concurrency : {budget}}}"
    )
    throttling = single(stack.resource("aws_apigatewayv2_stage.default")["default_route_settings"])
    assert throttling == {
        "throttling_burst_limit": ref("min(local.max_containers, 5000)"),
        "throttling_rate_limit": ref("min(local.max_containers * 10, 10000)"),
    }
    burst, rate = min(budget, 5000), min(budget * 10, 10000)
    readme = " ".join(stack.readme.split())
    assert "default account limits of bursts of 5,000 and 10,000 requests a second" in readme
    if budget * 10 > 10000:
        assert f"(with 0: bursts of {burst:,} and {rate:,} a second)" in readme


def test_outputs(stack: Stack) -> None:
    expected = {"api_url", "function_name", "function_role_arn", "alarm_topic_arn"}
    if stack.cold != "on_demand":
        expected.add("function_alias_arn")
    expected |= {
        "private_endpoint": {"atlas_vpc_endpoint_id", "atlas_private_endpoint_service_id"},
        "peering": {"vpc_peering_connection_id", "atlas_cidr"},
        "nat": {"nat_elastic_ip"},
    }[stack.network]
    if stack.auth == "password":
        expected.add("database_user_secret_arn")
    assert set(stack.outputs) == expected
    assert stack.outputs["api_url"]["value"] == ref("aws_apigatewayv2_api.http.api_endpoint")
    assert stack.outputs["function_name"]["value"] == ref("aws_lambda_function.api.function_name")
    for name, output in stack.outputs.items():
        assert output.get("description"), name
        assert "sensitive" not in output, name


def test_awkward_answers_stay_data(awkward: Stack) -> None:
    """Quotes, unicode and template openers stay literal text (python-hcl2 keeps `$${`/`%%{`)."""

    def unescape(value: str) -> str:
        return value.replace("$${", "${").replace("%%{", "%{")

    assert unescape(awkward.locals["database_name"]) == AWKWARD["database_name"]
    function = awkward.resource("aws_lambda_function.api")
    assert unescape(function["description"]) == AWKWARD["project_name"] + " API"
    assert tf.unresolved(awkward.texts, awkward.configs) == []
    for name, text in awkward.texts.items():
        assert tf.fmt_problems(text) == [], name
        assert "${HOME}" not in text.replace("$${HOME}", ""), name


# ---------------------------------------------------------------- README and workflow


def test_readme_walks_a_first_deploy(stack: Stack) -> None:
    readme = stack.readme
    deploy = readme.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    steps = [int(n) for n in re.findall(r"^(\d+)\. \*\*", deploy, re.MULTILINE)]
    assert steps == list(range(1, 12))
    for text in (
        "Terraform 1.11 or newer",
        "MONGODB_ATLAS_PUBLIC_API_KEY",
        "MONGODB_ATLAS_PRIVATE_API_KEY",
        "Project Owner",
        "aws lambda get-account-settings --query AccountLimit",
        "reserved_concurrency = 0",
        "make package",
        "terraform.tfvars",
        "terraform init",
        "terraform apply",
        'curl "$(terraform output -raw api_url)/health"',
        "terraform destroy",
        "../../dist/lambda.zip",
    ):
        assert text in deploy, text
    assert deploy.index("make package") < deploy.index("terraform apply")
    for name in stack.variables:
        assert f"| `{name}` |" in readme, name
    # "What it builds, file by file".
    described = stack.files - {"README.md", "outputs.tf", "providers.tf", "variables.tf"}
    for name in described - {"versions.tf"}:
        assert f"- `{name}`" in readme, name


def test_readme_says_how_containers_start_and_what_cloudwatch_and_atlas_show(
    stack: Stack,
) -> None:
    """Issue 13: each mode's cost, effect on connections and when to choose it; issue 14: what
    a user sees, with the thresholds this render's defaults give the alarms."""
    readme = stack.readme
    mode = readme.split("## How new containers start: ", 1)[1].split("\n## ", 1)[0]
    assert mode.startswith(stack.cold.replace("_", " ") + "\n")
    if stack.cold != "on_demand":
        for part in ("**Connections:**", "**Costs:**", "**Choose it**"):
            assert part in mode, part
    seen = readme.split("## What you see in CloudWatch and Atlas", 1)[1].split("\n## ", 1)[0]
    containers = int(stack.answer("reserved_concurrency")) or max_containers(stack.answers)
    timeout_ms = int(stack.answer("lambda_timeout_s")) * 1000
    headroom = int(DEFAULTS["_connection_headroom"] * 100)
    for text in (
        "`ConnectionsCreated`",
        "`ColdStart`",
        "`<name>-errors`",
        "`<name>-throttles`",
        f"`<name>-duration` | `AWS/Lambda` `Duration`, p99 | > {timeout_ms * 8 // 10} ms",
        f"`<name>-connections-created` | `{stack.project.name}` `ConnectionsCreated`, "
        f"`service` = `<name>` | Sum > {pool_sockets_per_container(stack.answers) * containers} "
        "in 5 minutes",
        f'"Connections % of configured\nlimit" above {headroom} (`CONNECTIONS_PERCENT`',
        "`alarm_email`",
    ):
        assert text in seen, text


def test_readme_says_what_can_go_wrong(stack: Stack) -> None:
    table = stack.readme.split("## What can go wrong", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    expected = [
        "UnreservedConcurrentExecution",  # the concurrency quota
        "reserved_concurrency must be 0",  # the budget's bound
        "has no cluster named",  # a wrong cluster name
        "SRV connection string for cluster ... yet",  # the string Atlas does not show yet
        "IP_ADDRESS_NOT_ON_ACCESS_LIST",  # the API key access list
    ]
    if stack.network == "private_endpoint":
        expected += ["PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION", "has no AWS nodes"]
    if stack.network == "peering":
        expected += ["network container", "CIDR overlap", "has no AWS nodes"]
    for fragment in expected:
        assert any(fragment in row for row in rows), fragment
    # The messages the table quotes are the ones the stack gives.
    text = "\n".join(stack.texts.values())
    for quoted in ("has no cluster named", "reserved_concurrency must be 0 (reserve nothing)"):
        assert quoted in text


def test_workflow(stack: Stack) -> None:
    path = stack.project / ".github" / "workflows" / "infra-terraform.yml"
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.search(rf"uses: {re.escape(action)} # v\d+(\.\d+)*\s*$", text, re.MULTILINE)
    setup = next(s for s in steps if s.get("uses", "").startswith("hashicorp/setup-terraform@"))
    # The version versions.tf requires, at least.
    assert setup["with"]["terraform_version"] == "~1.11"
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    runs = [
        (step.get("working-directory", "."), step["run"].strip()) for step in steps if "run" in step
    ]
    commands = [command for _, command in runs]
    folder = "infra/terraform"
    assert (folder, "terraform fmt -check -recursive") in runs
    assert (folder, "terraform init -backend=false -input=false") in runs
    assert (folder, "terraform validate") in runs
    assert commands.index("make package") < commands.index("terraform validate")
    assert any(
        c.startswith("checkov --directory infra/terraform --framework terraform") for c in commands
    )
    assert "${{" not in text


# ---------------------------------------------------------------- checkov


@pytest.fixture(scope="session")
def checkov(stacks: dict[str, Stack], tmp_path_factory: pytest.TempPathFactory) -> CheckovReport:
    """checkov once over every render's infra/terraform."""
    root = tmp_path_factory.mktemp("checkov-terraform")
    for name, stack in stacks.items():
        shutil.copytree(stack.folder, root / name)
    return run_checkov(root, "terraform")


def _in(stack_id: str, check: dict[str, Any]) -> bool:
    return check["file_path"].strip("/").split("/")[0] == stack_id


def test_checkov_passes(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    assert checkov.parsing_errors == []
    files = {c["file_path"].rsplit("/", 1)[-1] for c in checkov.passed if _in(stack_id, c)}
    assert files >= {"network.tf", "function.tf", "api.tf", NETWORK_FILE[stack.network]}
    failures = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov.failed
        if _in(stack_id, c)
    ]
    assert failures == []


SKIP = re.compile(r"^checkov:skip=(CKV2?_[A-Z]+_\d+):(.+)$")


def test_checkov_skips_are_explained_and_used(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    declared = set()
    for kind in ("resource", "data"):
        for key, body in tf.labelled(stack.configs, kind).items():
            for comment in tf.comments(body):
                if "checkov" in comment:
                    match = SKIP.match(comment)
                    assert match, (key, comment)
                    assert len(match.group(2).split()) >= 5, (key, comment)
                    declared.add((key, match.group(1)))
    # No skip outside a resource or data block (where checkov would not apply it).
    total = sum(text.count("#checkov:skip=") for text in stack.texts.values())
    assert total == len(declared)
    used = set()
    for check in checkov.skipped:
        if _in(stack_id, check):
            assert (check.get("check_result") or {}).get("suppress_comment"), check["check_id"]
            resource = re.sub(r"\[[^\]]*\]$", "", check["resource"])
            used.add((resource, check["check_id"]))
    assert used == declared
