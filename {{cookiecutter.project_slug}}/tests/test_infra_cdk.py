{%- if cookiecutter.iac_tool == "cdk" -%}
{%- set auth = cookiecutter.auth_mode -%}
{%- set network = cookiecutter.network_mode -%}
"""The CDK app in infra/cdk synthesizes offline, and its stack is wired as intended.

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

import service_stack  # noqa: E402 - lives in infra/cdk, put on the path above
{%- if network == "peering" %}
from peering_accepter import PeeringNotFoundError, accept  # noqa: E402 - same place
{%- endif %}

PROJECT_ID = "0123456789abcdef01234567"
{%- if network == "private_endpoint" %}
URI = "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
{%- elif network == "peering" %}
URI = "mongodb+srv://cluster0-pri.ab1cd.mongodb.net"
CONTAINER_ID = "89abcdef0123456789abcdef"
{%- else %}
URI = "mongodb+srv://cluster0.ab1cd.mongodb.net"
{%- endif %}
CONTEXT = {"atlasProjectId": PROJECT_ID, "atlasClusterName": "Cluster0", "mongodbUri": URI}
ATLAS_TYPES = set(service_stack.ATLAS_TYPES)
Resources = Mapping[str, Mapping[str, Any]]


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context (defaults, feature flags) plus the required values, as the CLI does."""
    context: dict[str, Any] = json.loads((INFRA / "cdk.json").read_text())["context"]
    return {**context, **CONTEXT, **overrides}


def synthesize(directory: Path, **overrides: Any) -> dict[str, Template]:
    """Synthesize the app into ``directory``; return both stacks' templates."""
    package = directory / "lambda.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("placeholder.py", "")
    app = App(context=cdk_context(**overrides), outdir=str(directory / "cdk.out"))
    service_stack.build(app, package)
    assembly = app.synth()  # raises if a cdk-nag finding is neither fixed nor acknowledged
    return {
        stack.stack_name: Template.from_json(stack.template)
        for stack in (
            assembly.get_stack_by_name(service_stack.STACK_NAME),
            assembly.get_stack_by_name(service_stack.EXTENSIONS_STACK_NAME),
        )
    }


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def template(templates: dict[str, Template]) -> Template:
    return templates[service_stack.STACK_NAME]


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
    return the_one(
        template, "AWS::Lambda::Function", {"Properties": {"Handler": service_stack.HANDLER}}
    )


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def attr(logical_id: str, name: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, name]}


def security_group_of(template: Template) -> str:
    _, body = function(template)
    (group,) = body["Properties"]["VpcConfig"]["SecurityGroupIds"]
    logical_id: str = group["Fn::GetAtt"][0]
    return logical_id


def ingress_rules(template: Template, group: str) -> list[dict[str, Any]]:
    """Ingress rules of security group ``group`` (logical id), inline or separate, sans text."""
    rules = [
        {**rule, "GroupId": attr(group, "GroupId")}
        for rule in template.to_json()["Resources"][group]["Properties"].get(
            "SecurityGroupIngress", []
        )
    ] + [
        dict(rule["Properties"])
        for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == attr(group, "GroupId")
    ]
    return [{k: v for k, v in rule.items() if k != "Description"} for rule in rules]


def egress_rules(template: Template, group: str) -> list[dict[str, Any]]:
    """Egress rules of security group ``group`` (logical id), inline or separate, sans text."""
    rules = [
        {**rule, "GroupId": attr(group, "GroupId")}
        for rule in template.to_json()["Resources"][group]["Properties"].get(
            "SecurityGroupEgress", []
        )
    ] + [
        dict(rule["Properties"])
        for rule in template.find_resources("AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == attr(group, "GroupId")
    ]
    return [{k: v for k, v in rule.items() if k != "Description"} for rule in rules]


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


# --- the function --------------------------------------------------------------------------------
def test_function_has_the_generated_runtime_and_limits(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": service_stack.HANDLER,
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
        "MONGODB_DATABASE": service_stack.DATABASE_NAME,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }


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
    assert props["ServiceName"] == f"com.amazonaws.{service_stack.AWS_REGION}.secretsmanager"
    assert {subnet["Ref"] for subnet in props["SubnetIds"]} == private_subnets(resources)
    (group,) = props["SecurityGroupIds"]
    function_sg = security_group_of(template)
    assert ingress_rules(template, group["Fn::GetAtt"][0]) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "GroupId": group,
            "SourceSecurityGroupId": attr(function_sg, "GroupId"),
        }
    ]
    assert secrets_manager_egress(template, function_sg)[0] in egress_rules(template, function_sg)
{%- endif %}


# --- the HTTP API --------------------------------------------------------------------------------
def test_http_api_routes_reach_the_function(template: Template) -> None:
    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    assert {route["Properties"]["RouteKey"] for route in routes.values()} == {
        "GET /health",
        "POST /items",
        "GET /items/{id}",
    }
    name, _ = function(template)
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": attr(name, "Arn"),
            "PayloadFormatVersion": "2.0",
        },
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": service_stack.RESERVED_CONCURRENCY,
                "ThrottlingRateLimit": service_stack.RESERVED_CONCURRENCY * 10,
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
    assert props["Roles"] == [
        {"RoleName": "readWrite", "DatabaseName": service_stack.DATABASE_NAME}
    ]
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
def endpoint_to_atlas(template: Template) -> tuple[str, Any]:
    return the_one(template, "AWS::EC2::VPCEndpoint", {"Properties": {"PrivateDnsEnabled": False}})


def test_private_endpoint_is_registered_with_atlas(
    template: Template, resources: dict[str, Any]
) -> None:
    service, _ = the_one(
        template,
        "MongoDB::Atlas::PrivateEndpointService",
        {"Properties": {"CloudProvider": "AWS", "Region": service_stack.AWS_REGION}},
    )
    endpoint, body = endpoint_to_atlas(template)
    props = body["Properties"]
    assert props["VpcEndpointType"] == "Interface"
    assert props["ServiceName"] == attr(service, "EndpointServiceName")
    assert {subnet["Ref"] for subnet in props["SubnetIds"]} == private_subnets(resources)
    template.has_resource_properties(
        "MongoDB::Atlas::PrivateEndpointAWS",
        {"EndpointServiceId": attr(service, "Id"), "Id": ref(endpoint), "ProjectId": PROJECT_ID},
    )


def test_only_the_function_reaches_the_endpoint(template: Template) -> None:
    _, body = endpoint_to_atlas(template)
    (group,) = body["Properties"]["SecurityGroupIds"]
    endpoint_sg = group["Fn::GetAtt"][0]
    function_sg = security_group_of(template)
    tcp = {"IpProtocol": "tcp", "FromPort": 1024, "ToPort": 65535}
    assert ingress_rules(template, endpoint_sg) == [
        {
            **tcp,
            "GroupId": attr(endpoint_sg, "GroupId"),
            "SourceSecurityGroupId": attr(function_sg, "GroupId"),
        }
    ]
    assert {
        "IpProtocol": "tcp",
        "FromPort": 1024,
        "ToPort": 65535,
        "GroupId": attr(function_sg, "GroupId"),
        "DestinationSecurityGroupId": attr(endpoint_sg, "GroupId"),
    } in egress_rules(template, function_sg)


def test_private_network_has_no_way_to_the_internet(template: Template) -> None:
    for resource_type in (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "MongoDB::Atlas::ProjectIpAccessList",
    ):
        assert not template.find_resources(resource_type), resource_type
{%- elif network == "peering" %}
def test_peering_connects_the_vpc_to_the_atlas_container(template: Template) -> None:
    dns_on = {"Properties": {"EnableDnsHostnames": True, "EnableDnsSupport": True}}
    vpc, _ = the_one(template, "AWS::EC2::VPC", dns_on)
    container, body = the_one(template, "MongoDB::Atlas::NetworkContainer")
    assert body["Properties"]["AtlasCidrBlock"] == "192.168.248.0/21"
    assert body["Properties"]["RegionName"] == service_stack.ATLAS_REGION
    assert body["DeletionPolicy"] == "Retain"
    template.has_resource_properties(
        "MongoDB::Atlas::NetworkPeering",
        {
            "ContainerId": attr(container, "Id"),
            "VpcId": ref(vpc),
            "AccepterRegionName": service_stack.AWS_REGION,
            "AwsAccountId": ref("AWS::AccountId"),
            "RouteTableCIDRBlock": "10.0.0.0/16",
        },
    )


def test_the_peering_is_accepted_and_routed(template: Template, resources: dict[str, Any]) -> None:
    peering, _ = the_one(template, "MongoDB::Atlas::NetworkPeering")
    vpc, _ = the_one(template, "AWS::EC2::VPC")
    accepter, body = the_one(template, "Custom::AtlasPeeringAccepter")
    assert body["Properties"]["AtlasPeeringId"] == attr(peering, "Id")
    assert body["Properties"]["VpcId"] == ref(vpc)
    routes = template.find_resources(
        "AWS::EC2::Route", {"Properties": {"DestinationCidrBlock": "192.168.248.0/21"}}
    )
    tables = {route["Properties"]["RouteTableId"]["Ref"] for route in routes.values()}
    associations = template.find_resources("AWS::EC2::SubnetRouteTableAssociation").values()
    assert tables == {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in associations
        if a["Properties"]["SubnetId"]["Ref"] in private_subnets(resources)
    }
    assert all(
        route["Properties"]["VpcPeeringConnectionId"] == attr(accepter, "VpcPeeringConnectionId")
        for route in routes.values()
    )


def test_atlas_admits_the_vpc_and_the_function_reaches_only_atlas(template: Template) -> None:
    _, body = the_one(template, "MongoDB::Atlas::ProjectIpAccessList")
    assert [entry["CIDRBlock"] for entry in body["Properties"]["AccessList"]] == ["10.0.0.0/16"]
    function_sg = security_group_of(template)
    assert egress_rules(template, function_sg) == [
        {
            "CidrIp": "192.168.248.0/21",
            "IpProtocol": "tcp",
            "FromPort": 27015,
            "ToPort": 27017,
            "GroupId": attr(function_sg, "GroupId"),
        },
        *secrets_manager_egress(template, function_sg),
    ]


def test_an_existing_atlas_container_is_used_not_created(tmp_path: Path) -> None:
    templates = synthesize(tmp_path, atlasNetworkContainerId=CONTAINER_ID)
    template = templates[service_stack.STACK_NAME]
    assert not template.find_resources("MongoDB::Atlas::NetworkContainer")
    template.has_resource_properties(
        "MongoDB::Atlas::NetworkPeering", {"ContainerId": CONTAINER_ID}
    )


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


def pending(connection_id: str, requester_cidr: str) -> dict[str, Any]:
    return {
        "VpcPeeringConnectionId": connection_id,
        "Status": {"Code": "pending-acceptance"},
        "AccepterVpcInfo": {"VpcId": "vpc-1"},
        "RequesterVpcInfo": {"CidrBlock": requester_cidr},
    }


def run_accept(ec2: FakeEc2, deadline: float = 60, clock: Callable[[], float] = float) -> str:
    return accept(cast(Any, ec2), "vpc-1", "192.168.248.0/21", deadline, clock=clock, sleep=print)


def test_accepter_accepts_the_atlas_request_and_returns_its_id() -> None:
    ec2 = FakeEc2(pending("pcx-other", "172.16.0.0/21"), pending("pcx-atlas", "192.168.248.0/21"))
    ec2.connections[0]["AccepterVpcInfo"]["VpcId"] = "vpc-2"
    assert run_accept(ec2) == "pcx-atlas"
    assert ec2.accepted == ["pcx-atlas"]


def test_accepter_refuses_a_request_from_another_network() -> None:
    ec2 = FakeEc2(pending("pcx-x", "172.16.0.0/21"))
    with pytest.raises(PeeringNotFoundError, match=r"172\.16\.0\.0/21"):
        run_accept(ec2)
    assert ec2.accepted == []


def test_accepter_gives_up_at_the_deadline() -> None:
    ticks = iter(range(100))
    with pytest.raises(PeeringNotFoundError, match="no active peering"):
        run_accept(FakeEc2(), deadline=3, clock=lambda: float(next(ticks)))
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
    assert egress_rules(template, function_sg) == [
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


# --- rules for every mode ------------------------------------------------------------------------
def test_nothing_is_open_to_the_internet(template: Template) -> None:
    for group in template.find_resources("AWS::EC2::SecurityGroup"):
        for rule in ingress_rules(template, group):
            assert rule.get("CidrIp") != "0.0.0.0/0", rule
            assert rule.get("CidrIpv6") != "::/0", rule
    for access_list in template.find_resources("MongoDB::Atlas::ProjectIpAccessList").values():
        for entry in access_list["Properties"]["AccessList"]:
            assert entry.get("CIDRBlock") != "0.0.0.0/0", entry
            assert entry.get("IPAddress") != "0.0.0.0", entry  # noqa: S104 - not a bind


def test_every_security_group_replaces_the_default_allow_all_egress(template: Template) -> None:
    """A group without egress rules would get AWS's allow-all rule."""
    for group in template.find_resources("AWS::EC2::SecurityGroup"):
        rules = egress_rules(template, group)
        assert rules, group
        assert all(rule.get("IpProtocol") != "-1" for rule in rules), group


def test_atlas_resources_use_the_project_and_profile(template: Template) -> None:
    atlas = {
        name: body
        for name, body in template.to_json()["Resources"].items()
        if body["Type"].startswith("MongoDB::Atlas::")
    }
    assert {body["Type"] for body in atlas.values()} == ATLAS_TYPES
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


def test_extensions_stack_activates_exactly_the_types_used(templates: dict[str, Template]) -> None:
    template = templates[service_stack.EXTENSIONS_STACK_NAME]
    activations = template.find_resources("AWS::CloudFormation::TypeActivation")
    role, body = the_one(template, "AWS::IAM::Role")
    assert {a["Properties"]["TypeName"] for a in activations.values()} == ATLAS_TYPES
    for activation in activations.values():
        assert activation["Properties"]["PublisherId"] == service_stack.ATLAS_PUBLISHER_ID
        assert activation["Properties"]["ExecutionRoleArn"] == attr(role, "Arn")
    (trust,) = body["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "resources.cloudformation.amazonaws.com"}


def test_extensions_stack_skips_types_the_account_already_activated() -> None:
    settings = service_stack.Settings.from_context(
        cdk_context(atlasTypesAlreadyActive="MongoDB::Atlas::DatabaseUser").get
    )
    assert settings.atlas_types_already_active == ("MongoDB::Atlas::DatabaseUser",)
    stack = service_stack.AtlasExtensionsStack(
        App(),
        "extensions",
        atlas_profile="default",
        already_active=("MongoDB::Atlas::DatabaseUser",),
    )
    activations = Template.from_stack(stack).find_resources("AWS::CloudFormation::TypeActivation")
    names = {a["Properties"]["TypeName"] for a in activations.values()}
    assert names == ATLAS_TYPES - {"MongoDB::Atlas::DatabaseUser"}


# --- context validation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"atlasProjectId": ""}, "atlasProjectId is not set"),
        ({"atlasProjectId": "xyz"}, "atlasProjectId"),
        ({"atlasClusterName": "bad name"}, "atlasClusterName"),
        # pragma: allowlist nextline secret
        ({"mongodbUri": "mongodb+srv://user:s3cret@cluster0.ab1cd.mongodb.net"}, "credentials"),
        ({"mongodbUri": URI + "/?authSource=admin"}, "options"),
        ({"mongodbUri": "mongodb://cluster0.ab1cd.mongodb.net:27017"}, "mongodbUri"),
        ({"vpcCidr": "10.0.0.0/8"}, "vpcCidr"),
        ({"vpcCidr": "8.8.0.0/16"}, "private"),
        ({"logRetentionDays": 31}, "logRetentionDays"),
        ({"atlasProfile": "a b"}, "atlasProfile"),
        ({"atlasTypesAlreadyActive": ["MongoDB::Atlas::Cluster"]}, "atlasTypesAlreadyActive"),
{%- if network == "peering" %}
        ({"atlasCidrBlock": "10.0.8.0/21"}, "overlaps"),
        ({"atlasNetworkContainerId": "nope"}, "atlasNetworkContainerId"),
{%- else %}
        ({"mongodbUri": "mongodb+srv://cluster0-pri.ab1cd.mongodb.net"}, "mongodbUri"),
{%- endif %}
{%- if auth == "password" %}
        ({"databaseUsername": "a/b"}, "databaseUsername"),
{%- endif %}
    ],
)
def test_bad_context_is_refused_with_the_key_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(service_stack.SettingsError, match=message) as error:
        service_stack.Settings.from_context(cdk_context(**overrides).get)
    assert "s3cret" not in str(error.value)


def test_defaults_come_from_cdk_json() -> None:
    settings = service_stack.Settings.from_context(cdk_context().get)
    assert settings.atlas_profile == "default"
    assert settings.vpc_cidr == "10.0.0.0/16"
    assert settings.mongodb_uri == URI
{% endif %}