"""The Terraform stack (infra/terraform) of every Terraform combination: parse, wiring, checkov.

Each combination is rendered once. Its `.tf` files are parsed with python-hcl2 and laid out as
`terraform fmt` writes them; every reference resolves to a declaration and every declaration is
used; the per-mode resources are checked for how they reference each other; checkov runs once
over every render.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import terraform_support as tf
import yaml
from combinations import SUPPORTED, Answers, combination_id
from conftest import Render
from rendered_stack import RenderedStack
from toolchains import CheckovReport, run_checkov

TF_COMBINATIONS = [answers for answers in SUPPORTED if answers["iac_tool"] == "terraform"]
IDS = [combination_id(answers) for answers in TF_COMBINATIONS]

# Free text that must survive into HCL (where `${` and `%{` start templates) unchanged.
AWKWARD = {
    "project_name": 'Ünïcode "Quoted": ${HOME} %{if} & Service #1',
    "database_name": "d'b-ü{x}%{y}",
}

FILES = [
    "README.md",
    "api.tf",
    "atlas.tf",
    "function.tf",
    "network.tf",
    "outputs.tf",
    "providers.tf",
    "variables.tf",
    "versions.tf",
]
COMMON_RESOURCES = {
    "aws_vpc.main",
    "aws_default_security_group.default",
    "aws_subnet.private",
    "aws_route_table.private",
    "aws_route_table_association.private",
    "aws_security_group.function",
    "aws_vpc_security_group_egress_rule.function_to_atlas",
    "aws_iam_role.function",
    "aws_iam_role_policy_attachment.vpc_access",
    "aws_cloudwatch_log_group.function",
    "aws_lambda_function.api",
    "aws_apigatewayv2_api.http",
    "aws_apigatewayv2_integration.function",
    "aws_apigatewayv2_route.api",
    "aws_cloudwatch_log_group.api_access",
    "aws_apigatewayv2_stage.default",
    "aws_lambda_permission.api",
    "mongodbatlas_database_user.function",
}
NETWORK_RESOURCES = {
    "private_endpoint": {
        "mongodbatlas_privatelink_endpoint.atlas",
        "aws_security_group.atlas_endpoint",
        "aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function",
        "aws_vpc_endpoint.atlas",
        "mongodbatlas_privatelink_endpoint_service.atlas",
    },
    "peering": {
        "mongodbatlas_network_container.atlas",
        "mongodbatlas_network_peering.atlas",
        "aws_vpc_peering_connection_accepter.atlas",
        "aws_route.private_to_atlas",
        "mongodbatlas_project_ip_access_list.vpc",
    },
    "nat": {
        "aws_subnet.public",
        "aws_internet_gateway.main",
        "aws_route_table.public",
        "aws_route_table_association.public",
        "aws_route.public_default",
        "aws_eip.nat",
        "aws_nat_gateway.main",
        "aws_route.private_default",
        "mongodbatlas_project_ip_access_list.nat",
    },
}
PASSWORD_RESOURCES = {
    "aws_security_group.secretsmanager_endpoint",
    "aws_vpc_security_group_ingress_rule.secretsmanager_endpoint_from_function",
    "aws_vpc_security_group_egress_rule.function_to_secretsmanager",
    "aws_vpc_endpoint.secretsmanager",
    "aws_secretsmanager_secret.database_user",
    "aws_secretsmanager_secret_version.database_user",
    "aws_iam_role_policy.read_database_secret",
}
URI_EXPRESSIONS = {
    "peering": "${data.mongodbatlas_advanced_cluster.atlas.connection_strings.private_srv}",
    "nat": "${data.mongodbatlas_advanced_cluster.atlas.connection_strings.standard_srv}",
}
OPEN = ("0.0.0.0/0", "::/0")


class Stack(RenderedStack):
    """One rendered project's Terraform files, parsed once."""

    @property
    def folder(self) -> Path:
        return self.project / "infra" / "terraform"

    @cached_property
    def texts(self) -> dict[str, str]:
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.folder.glob("*.tf"))}

    @cached_property
    def configs(self) -> dict[str, tf.Config]:
        return {name: tf.parse(text) for name, text in self.texts.items()}

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return tf.labelled(self.configs, "resource")

    @cached_property
    def data(self) -> dict[str, dict[str, Any]]:
        return tf.labelled(self.configs, "data")

    @cached_property
    def variables(self) -> dict[str, dict[str, Any]]:
        return tf.named(self.configs, "variable")

    @cached_property
    def locals(self) -> dict[str, Any]:
        return tf.named(self.configs, "locals")

    @cached_property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return tf.named(self.configs, "output")

    def resource(self, key: str) -> dict[str, Any]:
        return self.resources[key]

    def default(self, expression: Any) -> Any:
        """The value of `${var.x}` (its default) or the literal itself."""
        match = re.fullmatch(r"\$\{var\.(\w+)\}", str(expression))
        return self.variables[match.group(1)]["default"] if match else expression


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


# ---------------------------------------------------------------- files, parsing, layout


def test_only_terraform_files_are_generated(stack: Stack) -> None:
    assert sorted(p.name for p in stack.folder.iterdir()) == FILES
    assert sorted(p.name for p in (stack.project / "infra").iterdir()) == ["terraform"]
    workflows = stack.project / ".github" / "workflows"
    assert sorted(p.name for p in workflows.glob("infra-*.yml")) == ["infra-terraform.yml"]
    for path in [*stack.folder.iterdir(), workflows / "infra-terraform.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "cookiecutter." not in text, path
        assert "{{" not in text and "{%" not in text and "{#" not in text, path


def test_every_file_parses(stack: Stack) -> None:
    assert set(stack.configs) == {name for name in FILES if name.endswith(".tf")}
    kinds = {kind for config in stack.configs.values() for kind in config}
    expected = {"terraform", "provider", "variable", "locals", "data", "resource", "output"}
    assert kinds - {"__comments__"} == expected | (
        {"ephemeral"} if stack.auth == "password" else set()
    )


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
    assert terraform["required_version"] == ">= 1.11"
    providers = single(terraform["required_providers"])
    expected = {
        "aws": {"source": "hashicorp/aws", "version": "~> 6.0"},
        "mongodbatlas": {"source": "mongodb/mongodbatlas", "version": "~> 2.0"},
    }
    if stack.auth == "password":
        expected["random"] = {"source": "hashicorp/random", "version": "~> 3.7"}
    assert providers == expected
    configured = dict(tf.blocks(stack.configs, "provider"))
    assert set(configured) == {"aws", "mongodbatlas"}
    assert configured["aws"]["region"] == ref("var.aws_region")
    # Atlas credentials come from the environment only.
    assert {k for k in configured["mongodbatlas"] if k != "__comments__"} == set()
    all_text = "\n".join(stack.texts.values())
    for key in ("public_key", "private_key", "client_secret", "credentials", "access_key"):
        assert not re.search(rf"^\s*{key}\s*=", all_text, re.MULTILINE), key


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
    texts["extra.tf"] = 'output "x" {\n  value = aws_vpc.mian.id\n}\n'
    assert tf.unresolved(texts, stack.configs) == [
        *(
            f"{name}: var pid"
            for name in sorted(stack.texts)
            if "var.atlas_project_id" in stack.texts[name] and name != "variables.tf"
        ),
        "extra.tf: resource aws_vpc.mian",
    ]
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
    }
    if stack.network == "peering":
        expected |= {"atlas_cidr", "atlas_container_id"}
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
    vpc = ipaddress.ip_network(stack.variables["vpc_cidr"]["default"])
    if stack.network == "peering":
        atlas = ipaddress.ip_network(stack.variables["atlas_cidr"]["default"])
        assert atlas == ipaddress.ip_network("192.168.248.0/21")
        assert not vpc.overlaps(atlas)


# ---------------------------------------------------------------- network


def test_resources_per_mode(stack: Stack) -> None:
    expected = COMMON_RESOURCES | NETWORK_RESOURCES[stack.network]
    if stack.auth == "password":
        expected |= PASSWORD_RESOURCES
    assert set(stack.resources) == expected
    ephemeral = tf.labelled(stack.configs, "ephemeral")
    assert set(ephemeral) == (
        {"random_password.database_user"} if stack.auth == "password" else set()
    )


def test_vpc_and_private_subnets(stack: Stack) -> None:
    vpc = stack.resource("aws_vpc.main")
    assert vpc["cidr_block"] == ref("var.vpc_cidr")
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
        assert (rule["from_port"], rule["to_port"]) == (27015, 27017)
        assert rule["cidr_ipv4"] == ref("var.atlas_cidr")
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
    if stack.network != "private_endpoint":
        pytest.skip("private_endpoint only")
    service = stack.resource("mongodbatlas_privatelink_endpoint.atlas")
    assert service["provider_name"] == "AWS"
    assert service["project_id"] == ref("var.atlas_project_id")
    endpoint = stack.resource("aws_vpc_endpoint.atlas")
    assert endpoint["vpc_endpoint_type"] == "Interface"
    assert endpoint["service_name"] == ref(
        "mongodbatlas_privatelink_endpoint.atlas.endpoint_service_name"
    )
    assert endpoint["subnet_ids"] == ref("aws_subnet.private[*].id")
    assert endpoint["security_group_ids"] == [ref("aws_security_group.atlas_endpoint.id")]
    registration = stack.resource("mongodbatlas_privatelink_endpoint_service.atlas")
    assert registration["endpoint_service_id"] == ref("aws_vpc_endpoint.atlas.id")
    assert registration["private_link_id"] == ref(
        "mongodbatlas_privatelink_endpoint.atlas.private_link_id"
    )
    ingress = stack.resource("aws_vpc_security_group_ingress_rule.atlas_endpoint_from_function")
    assert ingress["security_group_id"] == ref("aws_security_group.atlas_endpoint.id")
    assert (ingress["ip_protocol"], ingress["from_port"], ingress["to_port"]) == (
        "tcp",
        1024,
        65535,
    )
    # The URI is the SRV string of this endpoint, read once the endpoint is registered.
    cluster = stack.data["mongodbatlas_advanced_cluster.atlas"]
    assert cluster["depends_on"] == ["${mongodbatlas_privatelink_endpoint_service.atlas}"]
    selector = json.dumps(stack.locals["private_endpoint_srv"])
    assert "connection_strings.private_endpoint" in selector
    assert "srv_connection_string" in selector
    assert "endpoint_id" in selector and "aws_vpc_endpoint.atlas.id" in selector
    assert stack.locals["mongodb_uri"] == '${try(local.private_endpoint_srv[0], "")}'
    depends = stack.resource("aws_lambda_function.api")["depends_on"]
    assert "${mongodbatlas_privatelink_endpoint_service.atlas}" in depends


def test_peering_wiring(stack: Stack) -> None:
    if stack.network != "peering":
        pytest.skip("peering only")
    container = stack.resource("mongodbatlas_network_container.atlas")
    assert container["atlas_cidr_block"] == ref("var.atlas_cidr")
    assert container["provider_name"] == "AWS"
    peering = stack.resource("mongodbatlas_network_peering.atlas")
    assert peering["vpc_id"] == ref("aws_vpc.main.id")
    assert peering["route_table_cidr_block"] == ref("var.vpc_cidr")
    assert peering["aws_account_id"] == ref("data.aws_caller_identity.current.account_id")
    assert "mongodbatlas_network_container.atlas[0].container_id" in peering["container_id"]
    accepter = stack.resource("aws_vpc_peering_connection_accepter.atlas")
    assert accepter["vpc_peering_connection_id"] == ref(
        "mongodbatlas_network_peering.atlas.connection_id"
    )
    assert accepter["auto_accept"] is True
    route = stack.resource("aws_route.private_to_atlas")
    assert route["route_table_id"] == ref("aws_route_table.private.id")
    assert route["destination_cidr_block"] == ref("var.atlas_cidr")
    assert route["vpc_peering_connection_id"] == ref("aws_vpc_peering_connection_accepter.atlas.id")
    access = stack.resource("mongodbatlas_project_ip_access_list.vpc")
    assert access["cidr_block"] == ref("var.vpc_cidr")
    assert "ip_address" not in access


def test_nat_wiring(stack: Stack) -> None:
    if stack.network != "nat":
        pytest.skip("nat only")
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


def test_mongodb_uri_fits_the_network_mode(stack: Stack) -> None:
    cluster = stack.data["mongodbatlas_advanced_cluster.atlas"]
    assert cluster["project_id"] == ref("var.atlas_project_id")
    assert cluster["name"] == ref("var.atlas_cluster_name")
    if stack.network in URI_EXPRESSIONS:
        assert stack.locals["mongodb_uri"] == URI_EXPRESSIONS[stack.network]
    if stack.network == "peering":
        assert cluster["depends_on"] == ["${aws_vpc_peering_connection_accepter.atlas}"]
    variables = single(stack.resource("aws_lambda_function.api")["environment"])["variables"]
    assert variables["MONGODB_URI"] == ref("local.mongodb_uri")
    precondition = single(
        single(stack.resource("aws_lambda_function.api")["lifecycle"])["precondition"]
    )
    assert "mongodb+srv://" in precondition["condition"]
    assert "local.mongodb_uri" in precondition["condition"]


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


# ---------------------------------------------------------------- database user


def test_database_user(stack: Stack) -> None:
    user = stack.resource("mongodbatlas_database_user.function")
    assert user["project_id"] == ref("var.atlas_project_id")
    assert user["roles"] == [
        {"role_name": "readWrite", "database_name": ref("local.database_name")}
    ]
    assert stack.locals["database_name"] == stack.answer("database_name")
    assert user["scopes"] == [{"name": ref("var.atlas_cluster_name"), "type": "CLUSTER"}]
    assert "atlasAdmin" not in json.dumps(stack.resources)
    if stack.auth == "iam":
        assert user["username"] == ref("aws_iam_role.function.arn")
        assert user["auth_database_name"] == "$external"
        assert user["aws_iam_type"] == "ROLE"
        assert not {"password", "password_wo", "password_wo_version"} & set(user)
    else:
        assert user["username"] == ref("var.database_username")
        assert user["auth_database_name"] == "admin"
        assert user["password_wo"] == ref("ephemeral.random_password.database_user.result")
        assert user["password_wo_version"] == ref("var.password_version")
        assert "password" not in user and "aws_iam_type" not in user


def test_password_lives_only_in_write_only_arguments(stack: Stack) -> None:
    text = "\n".join(tf.strip_comments(t) for t in stack.texts.values())
    if stack.auth == "iam":
        assert "random_password" not in text and "secretsmanager_secret" not in text
        return
    uses = re.findall(r"^\s*(\w+)\s*=.*ephemeral\.random_password\.database_user", text, re.M)
    assert sorted(uses) == ["password", "password_wo"]  # `password` is the key in the JSON secret
    password = tf.labelled(stack.configs, "ephemeral")["random_password.database_user"]
    assert password["length"] >= 32
    version = stack.resource("aws_secretsmanager_secret_version.database_user")
    assert version["secret_id"] == ref("aws_secretsmanager_secret.database_user.id")
    assert "jsonencode" in version["secret_string_wo"]
    assert "var.database_username" in version["secret_string_wo"]
    assert version["secret_string_wo_version"] == ref("var.password_version")
    assert "secret_string" not in version
    endpoint = stack.resource("aws_vpc_endpoint.secretsmanager")
    assert endpoint["service_name"] == "com.amazonaws.${var.aws_region}.secretsmanager"
    assert endpoint["private_dns_enabled"] is True
    assert endpoint["subnet_ids"] == ref("aws_subnet.private[*].id")
    assert "write-only" in (stack.folder / "README.md").read_text(encoding="utf-8")


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
    assert stack.default(function["memory_size"]) == int(stack.answer("lambda_memory_mb"))
    assert stack.default(function["timeout"]) == int(stack.answer("lambda_timeout_s"))
    assert stack.default(function["reserved_concurrent_executions"]) == int(
        stack.answer("reserved_concurrency")
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
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    if stack.auth == "password":
        expected["MONGODB_SECRET_ARN"] = ref("aws_secretsmanager_secret.database_user.arn")
    assert variables == expected
    assert "${mongodbatlas_database_user.function}" in function["depends_on"]


def test_function_role_is_least_privilege(stack: Stack) -> None:
    role = stack.resource("aws_iam_role.function")
    assume = single(stack.data["aws_iam_policy_document.lambda_assume_role"]["statement"])
    assert assume["actions"] == ["sts:AssumeRole"]
    assert single(assume["principals"]) == {
        "type": "Service",
        "identifiers": ["lambda.amazonaws.com"],
    }
    assert role["assume_role_policy"] == ref("data.aws_iam_policy_document.lambda_assume_role.json")
    attachments = {
        k: v for k, v in stack.resources.items() if k.startswith("aws_iam_role_policy_attachment.")
    }
    assert [a["policy_arn"] for a in attachments.values()] == [
        "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    ]
    inline = {k: v for k, v in stack.resources.items() if k.startswith("aws_iam_role_policy.")}
    if stack.auth == "iam":
        assert inline == {}
        assert not any("secretsmanager" in k for k in stack.data)
        return
    (policy,) = inline.values()
    assert policy["role"] == ref("aws_iam_role.function.id")
    assert policy["policy"] == ref("data.aws_iam_policy_document.read_database_secret.json")
    statement = single(stack.data["aws_iam_policy_document.read_database_secret"]["statement"])
    assert statement["actions"] == ["secretsmanager:GetSecretValue"]
    assert statement["resources"] == [ref("aws_secretsmanager_secret.database_user.arn")]
    assert statement.get("effect", "Allow") == "Allow"
    assert "*" not in json.dumps(statement)


def test_http_api(stack: Stack) -> None:
    api = stack.resource("aws_apigatewayv2_api.http")
    assert api["protocol_type"] == "HTTP"
    integration = stack.resource("aws_apigatewayv2_integration.function")
    assert integration["api_id"] == ref("aws_apigatewayv2_api.http.id")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "2.0"
    assert integration["integration_uri"] == ref("aws_lambda_function.api.invoke_arn")
    routes = stack.resource("aws_apigatewayv2_route.api")
    assert routes["for_each"] == '${toset(["GET /health", "POST /items", "GET /items/{id}"])}'
    assert routes["route_key"] == ref("each.value")
    assert routes["target"] == "integrations/${aws_apigatewayv2_integration.function.id}"
    stage = stack.resource("aws_apigatewayv2_stage.default")
    assert stage["name"] == "$default"
    assert stage["auto_deploy"] is True
    logs = single(stage["access_log_settings"])
    assert logs["destination_arn"] == ref("aws_cloudwatch_log_group.api_access.arn")
    throttling = single(stage["default_route_settings"])
    assert throttling["throttling_burst_limit"] == ref("var.reserved_concurrency")
    permission = stack.resource("aws_lambda_permission.api")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function_name"] == ref("aws_lambda_function.api.function_name")
    assert permission["source_arn"] == "${aws_apigatewayv2_api.http.execution_arn}/*/*"


def test_outputs(stack: Stack) -> None:
    expected = {"api_url", "function_name", "function_role_arn"}
    expected |= {
        "private_endpoint": {"atlas_vpc_endpoint_id"},
        "peering": {"vpc_peering_connection_id"},
        "nat": {"nat_elastic_ip"},
    }[stack.network]
    if stack.auth == "password":
        expected.add("database_user_secret_arn")
    assert set(stack.outputs) == expected
    assert stack.outputs["api_url"]["value"] == ref("aws_apigatewayv2_api.http.api_endpoint")
    assert stack.outputs["function_name"]["value"] == ref("aws_lambda_function.api.function_name")


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


def test_readme_explains_deploy(stack: Stack) -> None:
    readme = (stack.folder / "README.md").read_text(encoding="utf-8")
    for text in (
        "MONGODB_ATLAS_PUBLIC_API_KEY",
        "MONGODB_ATLAS_PRIVATE_API_KEY",
        "make package",
        "terraform init",
        "terraform apply -var atlas_project_id=",
        "-var atlas_cluster_name=",
        'curl "$(terraform output -raw api_url)/health"',
        "terraform destroy",
        "../../dist/lambda.zip",
    ):
        assert text in readme, text
    for name in stack.variables:
        assert f"| `{name}` |" in readme, name
    for key in NETWORK_RESOURCES[stack.network]:
        if key.startswith("mongodbatlas_"):
            assert f"`{key.split('.')[0]}`" in readme, key
    if stack.auth == "password":
        assert "state and plan contain no database password" in readme


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
    assert any(action.startswith("hashicorp/setup-terraform@") for action in uses)
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
    assert files >= {"network.tf", "function.tf", "api.tf"}
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
