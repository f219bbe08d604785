{%- if cookiecutter.iac_tool == "cdk" -%}
{%- set auth = cookiecutter.auth_mode -%}
{%- set network = cookiecutter.network_mode -%}
{%- set sharded = cookiecutter.cluster_topology == "sharded" -%}
{%- set cold_start = cookiecutter.cold_start -%}
"""The CDK app in infra/cdk synthesizes offline, and its stacks are wired as intended.

Synthesis runs the cdk-nag AwsSolutions checks and fails on any finding that is neither
fixed nor acknowledged with a reason. No AWS account and no Atlas project are needed.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import {% if network == "peering" %}Callable, {% endif %}Mapping
from pathlib import Path
from typing import Any{% if network == "peering" %}, cast{% endif %}

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

INFRA = Path(__file__).resolve().parent.parent / "infra" / "cdk"
for folder in (INFRA, INFRA.parent / "peering_accepter"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# These live in infra/cdk (and infra/peering_accepter), put on the path above.
{%- if network == "peering" %}
import peering_accepter  # noqa: E402
{%- endif %}
from app import build  # noqa: E402
{%- if network == "peering" %}
from peering_accepter import PeeringNotFoundError, accept  # noqa: E402
{%- endif %}
from service_infra.extensions_stack import (  # noqa: E402
    ATLAS_PUBLISHER_ID,
    ATLAS_TYPES,
    EXTENSIONS_STACK_NAME,
)
from service_infra.function import HANDLER, TIMEOUT_S  # noqa: E402
from service_infra.settings import (  # noqa: E402
    AWS_REGION,
    DATABASE_NAME,
    MAX_RESERVED_CONCURRENCY,
{%- if cold_start == "provisioned" %}
    PROVISIONED_CONCURRENCY,
{%- endif %}
    RESERVED_CONCURRENCY,
    STACK_NAME,
    Settings,
    SettingsError,
    context_key,
)

PROJECT_ID = "0123456789abcdef01234567"
# The SRV strings Atlas shows for one cluster (README.md, "mongodbUri").
URIS = {
    "standard": "mongodb+srv://cluster0.ab1cd.mongodb.net",
    "-pri": "mongodb+srv://cluster0-pri.ab1cd.mongodb.net",
    "-pl-N": "mongodb+srv://cluster0-pl-1.ab1cd.mongodb.net",
    "-pl-N-lb": "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net",
}
{%- if network == "nat" %}
# Through the NAT gateway: Atlas's public host names only.
ACCEPTED = {"standard"}
URI = URIS["standard"]
{%- elif network == "peering" %}
# Peered: the standard string (resolves to private addresses here), or -pri with custom DNS.
ACCEPTED = {"standard", "-pri"}
URI = URIS["standard"]
{%- elif sharded %}
# Behind a private endpoint: -pl-N, or for a sharded cluster its optimized -pl-N-lb form.
ACCEPTED = {"-pl-N", "-pl-N-lb"}
URI = "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
{%- else %}
# Behind a private endpoint: the -pl-N string only.
ACCEPTED = {"-pl-N"}
URI = "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
{%- endif %}
CONTEXT = {"atlasProjectId": PROJECT_ID, "atlasClusterName": "Cluster0", "mongodbUri": URI}
{%- if network == "peering" %}
# The project's AWS network container in the region, which Atlas made with the cluster.
CONTAINER_ID = "fedcba9876543210fedcba98"
CONTEXT["atlasNetworkContainerId"] = CONTAINER_ID
{%- endif %}


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context (defaults, feature flags) plus the required values, as the CLI does."""
    context: dict[str, Any] = json.loads((INFRA / "cdk.json").read_text())["context"]
    return {**context, **CONTEXT, **overrides}


def settings(**overrides: Any) -> Settings:
    return Settings.from_context(cdk_context(**overrides).get)


def synthesize(directory: Path, **overrides: Any) -> dict[str, Template]:
    """Synthesize the app into ``directory``; return both stacks' templates."""
    package = directory / "lambda.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("placeholder.py", "")
    app = App(context=cdk_context(**overrides), outdir=str(directory / "cdk.out"))
    build(app, package)
    assembly = app.synth()  # raises if a cdk-nag finding is neither fixed nor acknowledged
    return {
        stack.stack_name: Template.from_json(stack.template)
        for stack in (
            assembly.get_stack_by_name(STACK_NAME),
            assembly.get_stack_by_name(EXTENSIONS_STACK_NAME),
        )
    }


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def template(templates: dict[str, Template]) -> Template:
    return templates[STACK_NAME]


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, Any]:
    found: dict[str, Any] = template.to_json()["Resources"]
    return found


def the_one(template: Template, resource_type: str, props: Any = None) -> tuple[str, Any]:
    """Logical id and body of the only resource of ``resource_type`` (matching ``props``)."""
    found = template.find_resources(resource_type, props)
    assert len(found) == 1, f"{resource_type}: {sorted(found)}"
    return next(iter(found.items()))


def function(template: Template) -> tuple[str, Any]:
    return the_one(template, "AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}})


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def attr(logical_id: str, name: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, name]}


def security_group_of(template: Template) -> str:
    _, body = function(template)
    (group,) = body["Properties"]["VpcConfig"]["SecurityGroupIds"]
    logical_id: str = group["Fn::GetAtt"][0]
    return logical_id


def rules(template: Template, group: str, direction: str) -> list[dict[str, Any]]:
    """Ingress or Egress rules of security group ``group``, inline or separate, sans text."""
    inline = template.to_json()["Resources"][group]["Properties"].get(
        f"SecurityGroup{direction}", []
    )
    separate = template.find_resources(f"AWS::EC2::SecurityGroup{direction}").values()
    found = [{**rule, "GroupId": attr(group, "GroupId")} for rule in inline] + [
        dict(rule["Properties"])
        for rule in separate
        if rule["Properties"]["GroupId"] == attr(group, "GroupId")
    ]
    return [{k: v for k, v in rule.items() if k != "Description"} for rule in found]


def secrets_manager_egress(template: Template, function_sg: str) -> list[dict[str, Any]]:
    """The function's egress rule to the Secrets Manager endpoint (password mode only)."""
{%- if auth == "password" %}
    _, endpoint = the_one(
        template, "AWS::EC2::VPCEndpoint", {"Properties": {"PrivateDnsEnabled": True}}
    )
    (group,) = endpoint["Properties"]["SecurityGroupIds"]
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "GroupId": attr(function_sg, "GroupId"),
            "DestinationSecurityGroupId": group,
        }
    ]
{%- else %}
    del template, function_sg
    return []
{%- endif %}


def private_subnets(resources: Mapping[str, Any]) -> set[str]:
    return {
        name
        for name, body in resources.items()
        if body["Type"] == "AWS::EC2::Subnet" and "PrivateSubnet" in name
    }


def atlas_types(template: Template) -> set[str]:
    return {
        body["Type"]
        for body in template.to_json()["Resources"].values()
        if body["Type"].startswith("MongoDB::Atlas::")
    }


# --- the function --------------------------------------------------------------------------------
def test_function_has_the_generated_runtime_and_limits(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": HANDLER,
            "Runtime": "python{{ cookiecutter.python_version }}",
            "Architectures": ["{{ cookiecutter.architecture }}"],
            "MemorySize": {{ cookiecutter.lambda_memory_mb | int }},
            "Timeout": {{ cookiecutter.lambda_timeout_s | int }},
            "ReservedConcurrentExecutions": {{ cookiecutter.reserved_concurrency | int }},
        },
    )


def test_function_environment_is_the_documented_one(template: Template) -> None:
    _, body = function(template)
    variables = dict(body["Properties"]["Environment"]["Variables"])
{%- if auth == "password" %}
    secret, _ = the_one(template, "AWS::SecretsManager::Secret")
    assert variables.pop("MONGODB_SECRET_ARN") == ref(secret)
{%- endif %}
    assert variables == {
        "MONGODB_URI": URI,
        "MONGODB_DATABASE": DATABASE_NAME,
        "FUNCTION_TIMEOUT_S": str(TIMEOUT_S),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        # Powertools' metric namespace and `service` dimension: what the alarms read.
        "POWERTOOLS_SERVICE_NAME": STACK_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": STACK_NAME,
    }
    # config.py bounds its waits by the timeout the function really has.
    assert variables["FUNCTION_TIMEOUT_S"] == str(body["Properties"]["Timeout"])


def test_function_runs_in_both_private_subnets(
    template: Template, resources: dict[str, Any]
) -> None:
    _, body = function(template)
    subnets = {subnet["Ref"] for subnet in body["Properties"]["VpcConfig"]["SubnetIds"]}
    assert subnets == private_subnets(resources)
    assert len(subnets) == 2
    assert "FunctionSecurityGroup" in security_group_of(template)


def test_function_role_is_least_privilege(template: Template, resources: dict[str, Any]) -> None:
    _, body = function(template)
    role_id = body["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    logs_id = body["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert by_sid["WriteOwnLogs"]["Resource"] == attr(logs_id, "Arn")
    eni_actions = by_sid["ManageVpcNetworkInterfaces"]["Action"]
    assert all(action.startswith("ec2:") for action in eni_actions)
    # Lambda manages the ENIs with the role; the function's code, holding the same role's
    # credentials, may not (Lambda tags only the code's requests with lambda:SourceFunctionArn).
    deny = by_sid["NotFromTheFunctionCode"]
    assert deny["Effect"] == "Deny"
    assert deny["Resource"] == "*"
    assert sorted(deny["Action"]) == sorted(eni_actions)
    assert list(deny["Condition"]) == ["ArnLike"]
    assert list(deny["Condition"]["ArnLike"]) == ["lambda:SourceFunctionArn"]
    arns = json.dumps(deny["Condition"]["ArnLike"]["lambda:SourceFunctionArn"])
    assert arns.count(f':lambda:{AWS_REGION}:"') == 2
    assert f':function:{STACK_NAME}"' in arns
    assert f':function:{STACK_NAME}:*"' in arns
    assert set(by_sid) == {"WriteOwnLogs", "ManageVpcNetworkInterfaces", "NotFromTheFunctionCode"}
    attached = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
{%- if auth == "password" %}
    secret, _ = the_one(template, "AWS::SecretsManager::Secret")
    assert attached == [
        {
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Effect": "Allow",
            "Resource": ref(secret),
        }
    ]
{%- else %}
    # MONGODB-AWS signs with the role's own credentials: no extra permission, no secret.
    assert attached == []
    assert not template.find_resources("AWS::SecretsManager::Secret")
{%- endif %}
{%- if auth == "password" %}


def test_secret_is_read_through_an_endpoint_only_the_function_reaches(
    template: Template, resources: dict[str, Any]
) -> None:
    _, endpoint = the_one(
        template, "AWS::EC2::VPCEndpoint", {"Properties": {"PrivateDnsEnabled": True}}
    )
    props = endpoint["Properties"]
    assert props["ServiceName"] == f"com.amazonaws.{AWS_REGION}.secretsmanager"
    assert {subnet["Ref"] for subnet in props["SubnetIds"]} == private_subnets(resources)
    (group,) = props["SecurityGroupIds"]
    function_sg = security_group_of(template)
    assert rules(template, group["Fn::GetAtt"][0], "Ingress") == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "GroupId": group,
            "SourceSecurityGroupId": attr(function_sg, "GroupId"),
        }
    ]
    egress = rules(template, function_sg, "Egress")
    assert secrets_manager_egress(template, function_sg)[0] in egress
{%- endif %}


# --- reserved concurrency: 0 (reserve nothing) up to the connection budget --------------------
ALARM_EMAIL = "ops+alarms@example.com"


@pytest.fixture(scope="module")
def unreserved(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The service stack synthesized with reservedConcurrency=0 (and an alarmEmail)."""
    directory = tmp_path_factory.mktemp("unreserved")
    return synthesize(directory, reservedConcurrency=0, alarmEmail=ALARM_EMAIL)[STACK_NAME]


def test_reserved_concurrency_zero_reserves_nothing(unreserved: Template) -> None:
    _, body = function(unreserved)
    assert "ReservedConcurrentExecutions" not in body["Properties"]
    # Throttling stays sane: the connection budget's containers, not zero.
    unreserved.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": min(MAX_RESERVED_CONCURRENCY, 5000),
                "ThrottlingRateLimit": min(MAX_RESERVED_CONCURRENCY * 10, 10000),
            }
        },
    )


@pytest.mark.parametrize("value", [0, 1, "0", str(MAX_RESERVED_CONCURRENCY)])
def test_reserved_concurrency_accepts_zero_to_the_budget(value: Any) -> None:
{%- if cold_start == "provisioned" %}
    # The provisioned environments come out of the reserved ones (below).
    found = settings(reservedConcurrency=value, provisionedConcurrency=1)
    assert found.reserved_concurrency == int(value)
{%- else %}
    assert settings(reservedConcurrency=value).reserved_concurrency == int(value)
{%- endif %}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (MAX_RESERVED_CONCURRENCY + 1, f"1-{MAX_RESERVED_CONCURRENCY}"),
        ("-1", "whole number"),
        ("ten", "whole number"),
        ("1.5", "whole number"),
    ],
)
def test_reserved_concurrency_beyond_the_budget_is_refused(value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=rf"^reservedConcurrency=.*{message}"):
        settings(reservedConcurrency=value)


def test_cdk_json_reserves_the_answer() -> None:
    assert cdk_context()["reservedConcurrency"] == RESERVED_CONCURRENCY
    assert 1 <= RESERVED_CONCURRENCY <= MAX_RESERVED_CONCURRENCY


# --- the HTTP API --------------------------------------------------------------------------------
def invoked(template: Template) -> dict[str, Any]:
    """What the HTTP API invokes: {% if cold_start == "on_demand" %}the function itself{% else %}the alias `live`{% endif %}."""
{%- if cold_start == "on_demand" %}
    name, _ = function(template)
    return attr(name, "Arn")
{%- else %}
    alias, _ = the_one(template, "AWS::Lambda::Alias")
    return ref(alias)
{%- endif %}


def test_one_default_route_sends_every_request_to_the_function(template: Template) -> None:
    (route,) = template.find_resources("AWS::ApiGatewayV2::Route").values()
    assert route["Properties"]["RouteKey"] == "$default"
    integration, body = the_one(template, "AWS::ApiGatewayV2::Integration")
    assert route["Properties"]["Target"] == {"Fn::Join": ["", ["integrations/", ref(integration)]]}
    assert body["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert body["Properties"]["IntegrationUri"] == invoked(template)
    assert body["Properties"]["PayloadFormatVersion"] == "2.0"
    # API Gateway may invoke exactly what it integrates.
    api_gateway = {"Principal": "apigateway.amazonaws.com", "FunctionName": invoked(template)}
    the_one(template, "AWS::Lambda::Permission", {"Properties": api_gateway})


# --- cold starts: {{ "%-79s" | format(cold_start ~ " ") | replace(" ", "-") }}
{%- if cold_start == "on_demand" %}
def test_on_demand_publishes_no_version_and_no_alias(template: Template) -> None:
    assert not template.find_resources("AWS::Lambda::Version")
    assert not template.find_resources("AWS::Lambda::Alias")
    _, body = function(template)
    assert "SnapStart" not in body["Properties"]
{%- else %}
def test_the_api_invokes_the_alias_live_on_the_published_version(template: Template) -> None:
    name, body = function(template)
    published = {"Properties": {"FunctionName": ref(name)}}
    version, _ = the_one(template, "AWS::Lambda::Version", published)
    alias, props = the_one(template, "AWS::Lambda::Alias")
    assert props["Properties"]["Name"] == "live"
    assert props["Properties"]["FunctionName"] == ref(name)
    assert props["Properties"]["FunctionVersion"] == attr(version, "Version")
    assert template.to_json()["Outputs"]["FunctionAliasArn"]["Value"] == ref(alias)
{%- if cold_start == "snapstart" %}
    assert body["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # Lambda refuses SnapStart together with provisioned concurrency.
    assert "ProvisionedConcurrencyConfig" not in props["Properties"]
{%- else %}
    assert "SnapStart" not in body["Properties"]
    assert props["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": PROVISIONED_CONCURRENCY
    }
{%- endif %}
{%- endif %}
{%- if cold_start == "provisioned" %}


# What the provisioned environments' INIT needs before it can connect and log in.
CONNECTS_THROUGH = {
    "AWS::EC2::Route",
    "AWS::EC2::NatGateway",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "Custom::AtlasPeeringAccepter",
    "MongoDB::Atlas::NetworkPeering",
    "MongoDB::Atlas::PrivateEndpointAWS",
    "MongoDB::Atlas::ProjectIpAccessList",
    "MongoDB::Atlas::DatabaseUser",
}


def test_provisioning_waits_for_the_way_to_atlas(
    template: Template, resources: dict[str, Any]
) -> None:
    """Creating the alias initialises its environments, which connect during INIT: the alias
    depends on every resource of the network path, the database user and the role's policies."""
    _, body = function(template)
    role = body["Properties"]["Role"]["Fn::GetAtt"][0]
    _, alias = the_one(template, "AWS::Lambda::Alias")
    after = set(alias["DependsOn"])
    needed = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in CONNECTS_THROUGH
        or (resource["Type"] == "AWS::IAM::Policy" and ref(role) in resource["Properties"]["Roles"])
    }
    assert needed - after == set()
    kinds = {resources[logical_id]["Type"] for logical_id in needed}
    assert "MongoDB::Atlas::DatabaseUser" in kinds
{%- if network == "peering" %}
    assert {"AWS::EC2::Route", "Custom::AtlasPeeringAccepter"} <= kinds
{%- elif network == "nat" %}
    assert {"AWS::EC2::Route", "AWS::EC2::NatGateway"} <= kinds
{%- else %}
    assert {"MongoDB::Atlas::PrivateEndpointAWS", "AWS::EC2::VPCEndpoint"} <= kinds
{%- endif %}
{%- if auth == "password" %}
    assert "AWS::IAM::Policy" in kinds  # reading the secret
{%- endif %}


def test_cdk_json_provisions_the_answer() -> None:
    assert cdk_context()["provisionedConcurrency"] == PROVISIONED_CONCURRENCY
    assert settings().provisioned_concurrency == PROVISIONED_CONCURRENCY


@pytest.mark.parametrize(
    ("reserved", "provisioned"),
    [(5, 1), (5, 5), (0, 7), (0, MAX_RESERVED_CONCURRENCY), (MAX_RESERVED_CONCURRENCY, 3)],
)
def test_provisioned_concurrency_within_the_reserved(reserved: int, provisioned: int) -> None:
    """Up to the reserved containers; with none reserved (0), up to the tier's budget."""
    found = settings(reservedConcurrency=reserved, provisionedConcurrency=provisioned)
    assert found.provisioned_concurrency == provisioned


@pytest.mark.parametrize(
    ("reserved", "provisioned", "message"),
    [
        (5, 6, "6 exceeds reservedConcurrency=5"),
        (0, MAX_RESERVED_CONCURRENCY + 1, f"choose 1-{MAX_RESERVED_CONCURRENCY}"),
        (5, "-1", "whole number"),
    ],
)
def test_provisioned_concurrency_beyond_the_reserved_is_refused(
    reserved: int, provisioned: Any, message: str
) -> None:
    """Refused while synthesizing, before CloudFormation or Lambda would refuse it."""
    with pytest.raises(SettingsError, match=rf"^provisionedConcurrency=.*{message}"):
        settings(reservedConcurrency=reserved, provisionedConcurrency=provisioned)
{%- endif %}


def test_stage_logs_access_and_throttles_to_the_reserved_concurrency(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": min(RESERVED_CONCURRENCY, 5000),
                "ThrottlingRateLimit": min(RESERVED_CONCURRENCY * 10, 10000),
            },
        },
    )


def test_log_groups_keep_logs_for_a_limited_time(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups
    assert all(group["Properties"]["RetentionInDays"] == 30 for group in groups.values())


# --- the Atlas database user ---------------------------------------------------------------------
def test_database_user_is_scoped_to_the_database_and_cluster(template: Template) -> None:
    _, user = the_one(template, "MongoDB::Atlas::DatabaseUser")
    props = user["Properties"]
    assert props["Roles"] == [{"RoleName": "readWrite", "DatabaseName": DATABASE_NAME}]
    assert props["Scopes"] == [{"Name": "Cluster0", "Type": "CLUSTER"}]
    assert props["ProjectId"] == PROJECT_ID
{%- if auth == "iam" %}
    name, _ = function(template)
    role_id = template.to_json()["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert props["Username"] == attr(role_id, "Arn")
    assert props["AWSIAMType"] == "ROLE"
    assert props["DatabaseName"] == "$external"
    assert "Password" not in props
{%- else %}
    secret, body = the_one(template, "AWS::SecretsManager::Secret")
    generated = body["Properties"]["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"username": props["Username"]}
    assert generated["GenerateStringKey"] == "password"
    assert props["DatabaseName"] == "admin"
    assert "AWSIAMType" not in props
    # The password is a dynamic reference resolved at deploy time, never a value.
    prefix, reference, suffix = props["Password"]["Fn::Join"][1]
    assert (prefix, reference, suffix) == (
        "{% raw %}{{{% endraw %}resolve:secretsmanager:",
        ref(secret),
        ":SecretString:password::{% raw %}}}{% endraw %}",
    )
{%- endif %}


# --- the network mode ----------------------------------------------------------------------------
{%- if network == "private_endpoint" %}
SERVICE_ID = "89abcdef0123456789abcdef"
SERVICE_NAME = f"com.amazonaws.vpce.{AWS_REGION}.vpce-svc-0123456789abcdef0"


def endpoint_to_atlas(template: Template) -> tuple[str, Any]:
    return the_one(template, "AWS::EC2::VPCEndpoint", {"Properties": {"PrivateDnsEnabled": False}})


def test_private_endpoint_is_registered_with_atlas(
    template: Template, resources: dict[str, Any]
) -> None:
    service, _ = the_one(
        template,
        "MongoDB::Atlas::PrivateEndpointService",
        {"Properties": {"CloudProvider": "AWS", "Region": AWS_REGION}},
    )
    endpoint, body = endpoint_to_atlas(template)
    props = body["Properties"]
    assert props["VpcEndpointType"] == "Interface"
    assert props["ServiceName"] == attr(service, "EndpointServiceName")
    assert {subnet["Ref"] for subnet in props["SubnetIds"]} == private_subnets(resources)
    template.has_resource_properties(
        "MongoDB::Atlas::PrivateEndpointAWS",
        {
            "EndpointServiceId": attr(service, "Id"),
            "Id": ref(endpoint),
            "ProjectId": PROJECT_ID,
            "EnforceConnectionSuccess": True,
        },
    )


def test_an_existing_endpoint_service_is_used_not_created(tmp_path: Path) -> None:
    """Atlas allows one endpoint service per project and region: a second stack reuses it."""
    templates = synthesize(
        tmp_path,
        atlasPrivateEndpointServiceId=SERVICE_ID,
        atlasPrivateEndpointServiceName=SERVICE_NAME,
    )
    template = templates[STACK_NAME]
    assert not template.find_resources("MongoDB::Atlas::PrivateEndpointService")
    endpoint, body = endpoint_to_atlas(template)
    assert body["Properties"]["ServiceName"] == SERVICE_NAME
    template.has_resource_properties(
        "MongoDB::Atlas::PrivateEndpointAWS", {"EndpointServiceId": SERVICE_ID, "Id": ref(endpoint)}
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"atlasPrivateEndpointServiceId": SERVICE_ID}, "go together"),
        ({"atlasPrivateEndpointServiceName": SERVICE_NAME}, "go together"),
        (
            {
                "atlasPrivateEndpointServiceId": "vpce-1",
                "atlasPrivateEndpointServiceName": SERVICE_NAME,
            },
            "atlasPrivateEndpointServiceId='vpce-1'",
        ),
        (
            {
                "atlasPrivateEndpointServiceId": SERVICE_ID,
                "atlasPrivateEndpointServiceName": SERVICE_NAME.replace(AWS_REGION, "xx-east-9"),
            },
            f"atlasPrivateEndpointServiceName=.*in {AWS_REGION}",
        ),
    ],
)
def test_an_existing_endpoint_service_needs_its_id_and_name(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**overrides)


def test_only_the_function_reaches_the_endpoint(template: Template) -> None:
    _, body = endpoint_to_atlas(template)
    (group,) = body["Properties"]["SecurityGroupIds"]
    endpoint_sg = group["Fn::GetAtt"][0]
    function_sg = security_group_of(template)
    tcp = {"IpProtocol": "tcp", "FromPort": 1024, "ToPort": 65535}
    assert rules(template, endpoint_sg, "Ingress") == [
        {
            **tcp,
            "GroupId": attr(endpoint_sg, "GroupId"),
            "SourceSecurityGroupId": attr(function_sg, "GroupId"),
        }
    ]
    assert {
        **tcp,
        "GroupId": attr(function_sg, "GroupId"),
        "DestinationSecurityGroupId": attr(endpoint_sg, "GroupId"),
    } in rules(template, function_sg, "Egress")


def test_private_network_has_no_way_to_the_internet(template: Template) -> None:
    for resource_type in (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "MongoDB::Atlas::ProjectIpAccessList",
    ):
        assert not template.find_resources(resource_type), resource_type
{%- elif network == "peering" %}
def accepter_attr(template: Template, name: str) -> dict[str, list[str]]:
    accepter, _ = the_one(template, "Custom::AtlasPeeringAccepter")
    return attr(accepter, name)


def test_peering_connects_the_vpc_to_the_named_atlas_container(template: Template) -> None:
    dns_on = {"Properties": {"EnableDnsHostnames": True, "EnableDnsSupport": True}}
    vpc, _ = the_one(template, "AWS::EC2::VPC", dns_on)
    # The extension cannot adopt the container the cluster made (its create fails on Atlas's
    # HTTP 409): the stack peers with the container named and creates none.
    assert not template.find_resources("MongoDB::Atlas::NetworkContainer")
    template.has_resource_properties(
        "MongoDB::Atlas::NetworkPeering",
        {
            "ContainerId": CONTAINER_ID,
            "VpcId": ref(vpc),
            "AccepterRegionName": AWS_REGION,
            "AwsAccountId": ref("AWS::AccountId"),
            "RouteTableCIDRBlock": "10.0.0.0/16",
        },
    )


def test_a_container_is_created_only_when_asked_for(tmp_path: Path) -> None:
    """atlasNetworkContainerId=create: a project without an AWS container in the region."""
    template = synthesize(tmp_path, atlasNetworkContainerId="create")[STACK_NAME]
    container, body = the_one(template, "MongoDB::Atlas::NetworkContainer")
    assert body["Properties"]["AtlasCidrBlock"] == "192.168.248.0/21"
    assert body["Properties"]["RegionName"] == "{{ cookiecutter.aws_region | upper | replace('-', '_') }}"
    # Clusters will use it, and Atlas refuses to delete a container in use.
    assert body["DeletionPolicy"] == "Retain"
    template.has_resource_properties(
        "MongoDB::Atlas::NetworkPeering", {"ContainerId": attr(container, "Id")}
    )


@pytest.mark.parametrize("value", ["", "  ", None])
def test_the_container_must_be_named_or_created_explicitly(value: Any) -> None:
    """cdk.json ships it empty: no path where an existing container is silently re-created."""
    with pytest.raises(SettingsError) as error:
        settings(atlasNetworkContainerId=value)
    message = str(error.value)
    assert message.startswith("atlasNetworkContainerId is not set")
    assert "atlas networking containers list --provider AWS" in message
    assert "'create'" in message
    assert json.loads((INFRA / "cdk.json").read_text())["context"]["atlasNetworkContainerId"] == ""


def test_routes_and_rules_use_the_cidr_atlas_really_peers_from(
    template: Template, resources: dict[str, Any]
) -> None:
    """No hand-typed Atlas CIDR: the named container has its own CIDR; the accepter reads it."""
    peering, _ = the_one(template, "MongoDB::Atlas::NetworkPeering")
    vpc, _ = the_one(template, "AWS::EC2::VPC")
    _, accepter = the_one(template, "Custom::AtlasPeeringAccepter")
    assert accepter["Properties"]["AtlasPeeringId"] == attr(peering, "Id")
    assert accepter["Properties"]["VpcId"] == ref(vpc)
    assert "AtlasCidrBlock" not in accepter["Properties"]
    atlas_cidr = accepter_attr(template, "AtlasCidrBlock")
    routes = template.find_resources(
        "AWS::EC2::Route", {"Properties": {"DestinationCidrBlock": atlas_cidr}}
    )
    tables = {route["Properties"]["RouteTableId"]["Ref"] for route in routes.values()}
    associations = template.find_resources("AWS::EC2::SubnetRouteTableAssociation").values()
    assert tables == {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in associations
        if a["Properties"]["SubnetId"]["Ref"] in private_subnets(resources)
    }
    assert len(tables) == 2
    assert all(
        route["Properties"]["VpcPeeringConnectionId"]
        == accepter_attr(template, "VpcPeeringConnectionId")
        for route in routes.values()
    )
    function_sg = security_group_of(template)
    assert rules(template, function_sg, "Egress") == [
        {
            "CidrIp": atlas_cidr,
            "IpProtocol": "tcp",
            "FromPort": 27015,
            "ToPort": 27017,
            "GroupId": attr(function_sg, "GroupId"),
        },
        *secrets_manager_egress(template, function_sg),
    ]
    # The CIDR of a container to create appears nowhere: the named container keeps its own.
    assert "192.168.248.0/21" not in json.dumps(resources)


def test_atlas_admits_the_vpc(template: Template) -> None:
    _, body = the_one(template, "MongoDB::Atlas::ProjectIpAccessList")
    assert [entry["CIDRBlock"] for entry in body["Properties"]["AccessList"]] == ["10.0.0.0/16"]


class FakeEc2:
    """The two EC2 calls the accepter makes, over a list of peering connections."""

    def __init__(self, *connections: dict[str, Any]) -> None:
        self.connections = list(connections)
        self.accepted: list[str] = []

    def describe_vpc_peering_connections(self, **request: Any) -> dict[str, Any]:
        filters = {f["Name"]: f["Values"] for f in request["Filters"]}
        found = [
            c
            for c in self.connections
            if c["AccepterVpcInfo"]["VpcId"] in filters["accepter-vpc-info.vpc-id"]
            and c["Status"]["Code"] in filters["status-code"]
        ]
        return {"VpcPeeringConnections": found}

    def accept_vpc_peering_connection(self, **request: Any) -> dict[str, Any]:
        self.accepted.append(request["VpcPeeringConnectionId"])
        for connection in self.connections:
            if connection["VpcPeeringConnectionId"] == request["VpcPeeringConnectionId"]:
                connection["Status"] = {"Code": "active"}
        return {}


def pending(connection_id: str, requester_cidr: str, vpc_id: str = "vpc-1") -> dict[str, Any]:
    return {
        "VpcPeeringConnectionId": connection_id,
        "Status": {"Code": "pending-acceptance"},
        "AccepterVpcInfo": {"VpcId": vpc_id},
        "RequesterVpcInfo": {"CidrBlock": requester_cidr},
    }


def run_accept(
    ec2: FakeEc2,
    atlas_cidr: str | None = None,
    deadline: float = 60,
    clock: Callable[[], float] = float,
) -> tuple[str, str]:
    return accept(cast(Any, ec2), "vpc-1", atlas_cidr, deadline, clock=clock, sleep=print)


def test_accepter_accepts_the_request_into_its_vpc_and_reads_atlas_cidr() -> None:
    ec2 = FakeEc2(
        pending("pcx-other", "172.16.0.0/21", vpc_id="vpc-2"), pending("pcx-atlas", "10.8.0.0/21")
    )
    assert run_accept(ec2) == ("pcx-atlas", "10.8.0.0/21")
    assert ec2.accepted == ["pcx-atlas"]


def test_accepter_refuses_to_guess_between_requests() -> None:
    ec2 = FakeEc2(pending("pcx-a", "10.8.0.0/21"), pending("pcx-b", "172.16.0.0/21"))
    with pytest.raises(PeeringNotFoundError, match="several peering requests"):
        run_accept(ec2)
    assert ec2.accepted == []


def test_accepter_given_a_cidr_refuses_a_request_from_another_network() -> None:
    ec2 = FakeEc2(pending("pcx-x", "172.16.0.0/21"))
    with pytest.raises(PeeringNotFoundError, match=r"172\.16\.0\.0/21"):
        run_accept(ec2, atlas_cidr="192.168.248.0/21")
    assert ec2.accepted == []


def test_accepter_gives_up_at_the_deadline() -> None:
    ticks = iter(range(100))
    with pytest.raises(PeeringNotFoundError, match="no active peering"):
        run_accept(FakeEc2(), deadline=3, clock=lambda: float(next(ticks)))


class FakeContext:
    log_stream_name = "stream"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the handler reports to CloudFormation, with EC2 faked."""
    sent: list[dict[str, Any]] = []
    ec2 = FakeEc2(pending("pcx-atlas", "10.8.0.0/21"))
    monkeypatch.setattr("boto3.client", lambda service: ec2)
    # The fake makes the connection active as soon as it is accepted: no 10 s pause between polls.
    monkeypatch.setattr(peering_accepter, "POLL_SECONDS", 0)

    def respond(event: Any, status: str, physical_id: str, **extra: Any) -> None:
        sent.append({"Status": status, "PhysicalResourceId": physical_id, **extra})

    monkeypatch.setattr(peering_accepter, "respond", respond)
    return sent


@pytest.mark.parametrize("atlas_cidr", [None, "10.8.0.0/21"])
def test_handler_reports_the_connection_and_atlas_cidr(
    responses: list[dict[str, Any]], atlas_cidr: str | None
) -> None:
    """The event interface the CDK app and the SAM template share (AtlasCidrBlock optional)."""
    properties = {"AtlasPeeringId": "0123", "VpcId": "vpc-1"}
    if atlas_cidr:
        properties["AtlasCidrBlock"] = atlas_cidr
    event = {"RequestType": "Create", "ResourceProperties": properties}
    peering_accepter.handler(event, FakeContext())
    assert responses == [
        {
            "Status": "SUCCESS",
            "PhysicalResourceId": "pcx-atlas",
            "data": {"VpcPeeringConnectionId": "pcx-atlas", "AtlasCidrBlock": "10.8.0.0/21"},
        }
    ]
{%- else %}
def test_nat_gateway_is_the_only_way_out(template: Template, resources: dict[str, Any]) -> None:
    eip, _ = the_one(template, "AWS::EC2::EIP", {"Properties": {"Domain": "vpc"}})
    nat, _ = the_one(
        template,
        "AWS::EC2::NatGateway",
        {"Properties": {"AllocationId": attr(eip, "AllocationId")}},
    )
    the_one(template, "AWS::EC2::InternetGateway")
    through_nat = {"Properties": {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": ref(nat)}}
    defaults = template.find_resources("AWS::EC2::Route", through_nat)
    tables = {route["Properties"]["RouteTableId"]["Ref"] for route in defaults.values()}
    associations = template.find_resources("AWS::EC2::SubnetRouteTableAssociation").values()
    assert tables == {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in associations
        if a["Properties"]["SubnetId"]["Ref"] in private_subnets(resources)
    }
    assert len(tables) == 2


def test_atlas_admits_exactly_the_nat_elastic_ip(template: Template) -> None:
    eip, _ = the_one(template, "AWS::EC2::EIP")
    _, body = the_one(template, "MongoDB::Atlas::ProjectIpAccessList")
    (entry,) = body["Properties"]["AccessList"]
    assert entry["CIDRBlock"] == {"Fn::Join": ["", [attr(eip, "PublicIp"), "/32"]]}
    function_sg = security_group_of(template)
    # Atlas's public addresses are not known in advance: MongoDB ports only, Atlas admits one IP.
    assert rules(template, function_sg, "Egress") == [
        {
            "CidrIp": "0.0.0.0/0",
            "IpProtocol": "tcp",
            "FromPort": 27015,
            "ToPort": 27017,
            "GroupId": attr(function_sg, "GroupId"),
        },
        *secrets_manager_egress(template, function_sg),
    ]
{%- endif %}


# --- the connection string (mongodbUri) ----------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(URIS))
def test_the_connection_strings_atlas_shows_are_accepted_or_refused(kind: str) -> None:
    uri = URIS[kind]
    if kind in ACCEPTED:
        assert settings(mongodbUri=uri).mongodb_uri == uri
        return
    with pytest.raises(SettingsError) as error:
        settings(mongodbUri=uri)
    message = str(error.value)
    # The key, the value, why, and which string to paste instead.
    assert message.startswith(f"mongodbUri={uri!r} is ")
    assert "cannot reach" in message
    assert "Connect >" in message


@pytest.mark.parametrize("uri", [URI + "/", URI.replace(".mongodb.net", ".mongodbgov.net")])
def test_a_trailing_slash_and_atlas_for_government_are_fine(uri: str) -> None:
    assert settings(mongodbUri=uri).mongodb_uri == uri


def test_a_cluster_named_like_a_suffix_keeps_its_standard_string() -> None:
    uri = "mongodb+srv://app-pri.ab1cd.mongodb.net"
    if "standard" in ACCEPTED:
        assert settings(atlasClusterName="app-pri", mongodbUri=uri).mongodb_uri == uri
    else:
        with pytest.raises(SettingsError, match="the standard string"):
            settings(atlasClusterName="app-pri", mongodbUri=uri)


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            # pragma: allowlist nextline secret
            "mongodb+srv://app:s3cret@cluster0.ab1cd.mongodb.net/?retryWrites=true",
            "'mongodb+srv://<credentials>@cluster0.ab1cd.mongodb.net/<database and options>'",
        ),
        (
            "mongodb+srv://cluster0.ab1cd.mongodb.net/?authMechanismProperties=s3cret",
            "'mongodb+srv://cluster0.ab1cd.mongodb.net/<database and options>'",
        ),
        ("mongodb+srv://cluster0.ab1cd.mongodb.net/app", None),
    ],
)
def test_credentials_and_options_are_refused_and_never_echoed(uri: str, shown: str | None) -> None:
    with pytest.raises(SettingsError, match="without user, password, /database or") as error:
        settings(mongodbUri=uri)
    assert "s3cret" not in str(error.value)
    if shown:
        assert str(error.value).startswith(f"mongodbUri={shown}")


# --- what CloudWatch and Atlas watch -------------------------------------------------------------
def alarms_of(template: Template) -> dict[str, Any]:
    return {
        body["Properties"]["AlarmName"]: body["Properties"]
        for body in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


def alarm_topic(template: Template) -> str:
    topic, _ = the_one(
        template, "AWS::SNS::Topic", {"Properties": {"TopicName": f"{STACK_NAME}-alarms"}}
    )
    return topic


def test_four_alarms_notify_one_encrypted_topic(template: Template) -> None:
    topic = alarm_topic(template)
    alarms = alarms_of(template)
    concerns = ("errors", "throttles", "duration", "connections-created")
    assert set(alarms) == {f"{STACK_NAME}-{concern}" for concern in concerns}
    for props in alarms.values():
        assert props["AlarmActions"] == props["OKActions"] == [ref(topic)]
        assert props["TreatMissingData"] == "notBreaching"
    # p99 near the timeout; more sockets than the reserved containers open
    # ({{ cookiecutter.__pool_sockets_per_container }} each at most{% if cookiecutter.cluster_topology == "sharded" %}: 6 per pool, one pool per mongos, 3 mongos{% endif %}).
    assert alarms[f"{STACK_NAME}-duration"]["Threshold"] == TIMEOUT_S * 1000 * 0.8
    connections = alarms[f"{STACK_NAME}-connections-created"]
    assert connections["Threshold"] == {{ cookiecutter.__pool_sockets_per_container }} * RESERVED_CONCURRENCY
    assert connections["Namespace"] == STACK_NAME
    assert connections["MetricName"] == "ConnectionsCreated"
    assert connections["Dimensions"] == [{"Name": "service", "Value": STACK_NAME}]
    key, _ = the_one(template, "AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    topics = template.find_resources("AWS::SNS::Topic")
    assert topics[topic]["Properties"]["KmsMasterKeyId"] == attr(key, "Arn")
    assert not template.find_resources("AWS::SNS::Subscription")  # alarmEmail is empty


def test_with_none_reserved_the_budget_bounds_connections_and_email_subscribes(
    unreserved: Template,
) -> None:
    alarms = alarms_of(unreserved)
    assert alarms[f"{STACK_NAME}-connections-created"]["Threshold"] == {{ cookiecutter.__pool_sockets_per_container }} * MAX_RESERVED_CONCURRENCY
    _, subscription = the_one(unreserved, "AWS::SNS::Subscription")
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": ALARM_EMAIL,
        "TopicArn": ref(alarm_topic(unreserved)),
    }


def test_the_atlas_alert_mails_the_owners_or_alarm_email(
    template: Template, unreserved: Template
) -> None:
    for found, notification in (
        (template, {"TypeName": "GROUP", "Roles": ["GROUP_OWNER"], "EmailEnabled": True}),
        (unreserved, {"TypeName": "EMAIL", "EmailAddress": ALARM_EMAIL}),
    ):
        _, alert = the_one(found, "MongoDB::Atlas::AlertConfiguration")
        props = alert["Properties"]
        assert props["EventTypeName"] == "OUTSIDE_METRIC_THRESHOLD"
        assert props["MetricThreshold"] == {
            "MetricName": "CONNECTIONS_PERCENT",
            "Operator": "GREATER_THAN",
            "Threshold": {{ (cookiecutter._connection_headroom * 100) | int }},
            "Units": "RAW",
            "Mode": "AVERAGE",
        }
        (sent,) = props["Notifications"]
        assert notification.items() <= sent.items()


# --- rules for every mode ------------------------------------------------------------------------
def test_nothing_is_open_to_the_internet(template: Template) -> None:
    for group in template.find_resources("AWS::EC2::SecurityGroup"):
        for rule in rules(template, group, "Ingress"):
            assert rule.get("CidrIp") != "0.0.0.0/0", rule
            assert rule.get("CidrIpv6") != "::/0", rule
    for access_list in template.find_resources("MongoDB::Atlas::ProjectIpAccessList").values():
        for entry in access_list["Properties"]["AccessList"]:
            assert entry.get("CIDRBlock") != "0.0.0.0/0", entry
            assert entry.get("IPAddress") != "0.0.0.0", entry  # noqa: S104 - not a bind


def test_every_security_group_replaces_the_default_allow_all_egress(template: Template) -> None:
    """A group without egress rules would get AWS's allow-all rule."""
    for group in template.find_resources("AWS::EC2::SecurityGroup"):
        found = rules(template, group, "Egress")
        assert found, group
        assert all(rule.get("IpProtocol") != "-1" for rule in found), group


def test_atlas_resources_use_the_project_and_profile(template: Template) -> None:
    atlas = {
        name: body
        for name, body in template.to_json()["Resources"].items()
        if body["Type"].startswith("MongoDB::Atlas::")
    }
    assert atlas
    for name, body in atlas.items():
        assert body["Properties"]["ProjectId"] == PROJECT_ID, name
        assert body["Properties"]["Profile"] == "default", name
        assert body["Metadata"]["cfn-lint"] == {"config": {"ignore_checks": ["E3006"]}}, name


def test_every_acknowledged_finding_has_a_reason(templates: dict[str, Template]) -> None:
    acknowledged = []
    for template in templates.values():
        for body in template.to_json()["Resources"].values():
            nag = body.get("Metadata", {}).get("cdk_nag", {})
            acknowledged += nag.get("rules_to_suppress", [])
    ours = [rule for rule in acknowledged if rule["id"].startswith("AwsSolutions-")]
    assert ours
    for rule in ours:
        assert len(rule["reason"]) > 40, rule


def test_outputs_the_readme_reads(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {
        "ApiUrl",
        "FunctionName",
        "FunctionLogGroup",
        "FunctionRoleArn",
        "AlarmTopicArn",
        "AtlasAlertConfigurationId",
    } <= set(outputs)
{%- if cold_start == "on_demand" %}
    assert "FunctionAliasArn" not in outputs
{%- else %}
    assert "FunctionAliasArn" in outputs
{%- endif %}
    # The stack is pinned to the generated region, whatever the CLI's default region.
    assert f".execute-api.{AWS_REGION}." in json.dumps(outputs["ApiUrl"])


def test_extensions_stack_activates_every_type_for_every_profile(
    templates: dict[str, Template],
) -> None:
    """One stack for every project in the account: deploying it again narrows nothing."""
    template = templates[EXTENSIONS_STACK_NAME]
    activations = template.find_resources("AWS::CloudFormation::TypeActivation")
    assert {a["Properties"]["TypeName"] for a in activations.values()} == set(ATLAS_TYPES)
    assert atlas_types(templates[STACK_NAME]) <= set(ATLAS_TYPES)
    role, body = the_one(template, "AWS::IAM::Role")
    assert role == "ExtensionExecutionRole"  # the logical id of the SAM variant's stack
    for activation in activations.values():
        assert activation["Properties"]["PublisherId"] == ATLAS_PUBLISHER_ID
        assert activation["Properties"]["ExecutionRoleArn"] == attr(role, "Arn")
    (trust,) = body["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "resources.cloudformation.amazonaws.com"}
    (policy,) = body["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert json.dumps(by_sid["ReadTheAtlasApiKeys"]["Resource"]).endswith(
        ':secret:cfn/atlas/profile/*"]]}'
    )
    assert "Parameters" not in template.to_json() or set(template.to_json()["Parameters"]) == {
        "BootstrapVersion"
    }


# --- context validation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"atlasProjectId": ""}, "atlasProjectId is not set"),
        ({"atlasProjectId": "xyz"}, "atlasProjectId='xyz'"),
        ({"atlasClusterName": "bad name"}, "atlasClusterName"),
        ({"mongodbUri": "mongodb://cluster0.ab1cd.mongodb.net:27017"}, "not an Atlas SRV string"),
        ({"vpcCidr": "10.0.0.0/8"}, "vpcCidr"),
        ({"vpcCidr": "8.8.0.0/16"}, "private"),
        ({"logRetentionDays": 31}, "logRetentionDays"),
        ({"atlasProfile": "a b"}, "atlasProfile"),
        ({"alarmEmail": "ops@example.com, dev@example.com"}, "alarmEmail"),
        ({"alarmEmail": "Ops <ops@example.com>"}, "alarmEmail"),
        ({"alarmEmail": "ops"}, "alarmEmail"),
{%- if network == "peering" %}
        ({"atlasNetworkContainerId": "vpc-0123"}, "atlasNetworkContainerId='vpc-0123'"),
        ({"atlasNetworkContainerId": "Create"}, "atlasNetworkContainerId='Create'"),
        (
            {"atlasNetworkContainerId": "create", "atlasCidrBlock": "10.0.8.0/21"},
            "overlaps",
        ),
        (
            {"atlasNetworkContainerId": "create", "atlasCidrBlock": "192.168.0.0/16"},
            "atlasCidrBlock",
        ),
{%- endif %}
{%- if auth == "password" %}
        ({"databaseUsername": "a/b"}, "databaseUsername"),
{%- endif %}
    ],
)
def test_bad_context_is_refused_with_the_key_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**overrides)


def test_every_setting_has_its_key_in_cdk_json() -> None:
    context = json.loads((INFRA / "cdk.json").read_text())["context"]
    keys = {context_key(name) for name in Settings.__dataclass_fields__}
    assert keys <= set(context), keys - set(context)


def test_defaults_come_from_cdk_json() -> None:
    found = settings()
    assert found.atlas_profile == "default"
    assert found.vpc_cidr == "10.0.0.0/16"
    assert found.mongodb_uri == URI
    assert found.reserved_concurrency == RESERVED_CONCURRENCY
    assert found.alarm_email == ""
{% endif %}