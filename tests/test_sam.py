"""The AWS SAM stack (infra/sam) of every SAM combination: lint, schemas, wiring, checkov.

Each combination is rendered once. Its template is linted as written (what the generated
project's `sam validate --lint` sees) and after the SAM transform (so the function's runtime,
role, policies and `Fn::GetAtt` targets are linted as plain CloudFormation). The
MongoDB::Atlas resources, which cfn-lint cannot check, are validated against the published
schemas; the per-mode resources are checked for how they reference each other; checkov runs
once over every render.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import sam_support as sam
import yaml
from combinations import SUPPORTED, Answers, combination_id
from conftest import Render
from rendered_stack import RenderedStack
from toolchains import CheckovReport, run_checkov

SAM_COMBINATIONS = [answers for answers in SUPPORTED if answers["iac_tool"] == "sam"]
IDS = [combination_id(answers) for answers in SAM_COMBINATIONS]

# Free text that must survive into YAML, JSON and Markdown unchanged.
AWKWARD = {
    "project_name": 'Ünïcode "Quoted": Service #1 & $HOME',
    "database_name": "d'b-ü{x}",
}

ATLAS_TYPES_BY_MODE = {
    "private_endpoint": {
        "MongoDB::Atlas::DatabaseUser",
        "MongoDB::Atlas::PrivateEndpointService",
        "MongoDB::Atlas::PrivateEndpointAWS",
    },
    "peering": {
        "MongoDB::Atlas::DatabaseUser",
        "MongoDB::Atlas::NetworkContainer",
        "MongoDB::Atlas::NetworkPeering",
        "MongoDB::Atlas::ProjectIpAccessList",
    },
    "nat": {"MongoDB::Atlas::DatabaseUser", "MongoDB::Atlas::ProjectIpAccessList"},
}
OPEN = ("0.0.0.0/0", "::/0")


class Stack(RenderedStack):
    """One rendered project's SAM files, parsed once."""

    @property
    def folder(self) -> Path:
        return self.project / "infra" / "sam"

    @cached_property
    def text(self) -> str:
        return (self.folder / "template.yaml").read_text(encoding="utf-8")

    @cached_property
    def template(self) -> sam.Template:
        return sam.parse(self.text)

    @cached_property
    def transformed(self) -> sam.Template:
        return sam.transform(self.template, self.region)

    @cached_property
    def extensions(self) -> sam.Template:
        return sam.load(self.folder / "atlas-extensions.yaml")

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def props(self, name: str) -> dict[str, Any]:
        return self.resources[name]["Properties"]


@pytest.fixture(scope="session")
def stacks(render_once: Render) -> dict[str, Stack]:
    return {
        combination_id(answers): Stack(answers, render_once(**answers))
        for answers in SAM_COMBINATIONS
    }


@pytest.fixture(params=SAM_COMBINATIONS, ids=IDS)
def stack(request: pytest.FixtureRequest, stacks: dict[str, Stack]) -> Stack:
    return stacks[combination_id(request.param)]


@pytest.fixture(scope="session")
def awkward(render_once: Render) -> Stack:
    answers: Answers = {**SAM_COMBINATIONS[0], **AWKWARD, "auth_mode": "password"}
    return Stack(answers, render_once(**answers))


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


# ---------------------------------------------------------------- files and rendering


def test_only_sam_files_are_generated(stack: Stack) -> None:
    assert sorted(p.name for p in stack.folder.iterdir()) == [
        "README.md",
        "atlas-extensions.yaml",
        "samconfig.toml",
        "template.yaml",
    ]
    # The peering accepter's source is shared with the CDK app (a folder of its own).
    accepter = ["peering_accepter"] if stack.answers["network_mode"] == "peering" else []
    assert sorted(p.name for p in (stack.project / "infra").iterdir()) == [*accepter, "sam"]
    workflows = stack.project / ".github" / "workflows"
    assert sorted(p.name for p in workflows.glob("infra-*.yml")) == ["infra-sam.yml"]
    for path in [*stack.folder.iterdir(), workflows / "infra-sam.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "cookiecutter." not in text, path
        assert "{%" not in text and "{#" not in text, path
        # The one `{{` the stack needs is the dynamic reference to the generated password.
        for line in text.splitlines():
            if "{{" in line:
                assert "{{resolve:secretsmanager:${DatabaseUserSecret}:" in line, (path, line)


def test_awkward_answers_stay_data(awkward: Stack) -> None:
    template = awkward.template
    assert AWKWARD["project_name"] in template["Description"]
    function = template["Resources"]["ApiFunction"]["Properties"]
    assert function["Environment"]["Variables"]["MONGODB_DATABASE"] == AWKWARD["database_name"]
    roles = awkward.props("AtlasDatabaseUser")["Roles"]
    assert roles == [{"RoleName": "readWrite", "DatabaseName": AWKWARD["database_name"]}]
    assert sam.cfn_lint(awkward.text, awkward.region) == []
    assert (
        sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", awkward.props("AtlasDatabaseUser"))
        == []
    )


# ---------------------------------------------------------------- cfn-lint


def test_cfn_lint_as_written(stack: Stack) -> None:
    """What the generated project's `sam validate --lint` runs: no error, no warning."""
    assert sam.cfn_lint(stack.text, stack.region) == []


def test_cfn_lint_after_sam_transform(stack: Stack) -> None:
    transformed = stack.transformed
    functions = sam.resources_of_type(transformed, "AWS::Lambda::Function")
    assert set(functions) >= {"ApiFunction"}
    assert "ApiFunctionRole" in transformed["Resources"]
    assert sam.cfn_lint(json.dumps(transformed), stack.region) == []


def test_cfn_lint_atlas_extensions(stack: Stack) -> None:
    text = (stack.folder / "atlas-extensions.yaml").read_text(encoding="utf-8")
    assert sam.cfn_lint(text, stack.region) == []


def test_e3006_is_ignored_only_for_atlas_resources(stack: Stack) -> None:
    assert "cfn-lint" not in stack.template.get("Metadata", {})
    ignoring = {}
    for name, resource in stack.resources.items():
        config = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
        if config:
            ignoring[name] = config
    atlas = sam.resources_of_type(stack.template, sam.ATLAS_PREFIX)
    assert set(ignoring) == set(atlas)
    assert all(config == {"ignore_checks": ["E3006"]} for config in ignoring.values())

    # Without those ignores, E3006 is all cfn-lint reports, once per Atlas resource.
    stripped = json.loads(json.dumps(stack.template))
    for name in atlas:
        del stripped["Resources"][name]["Metadata"]["cfn-lint"]
    findings = sam.cfn_lint(json.dumps(stripped), stack.region)
    assert findings and all(f.startswith("[E3006") for f in findings), findings
    assert {
        name for name in atlas if any(f"'{atlas[name]['Type']}'" in f for f in findings)
    } == set(atlas)


# ---------------------------------------------------------------- MongoDB::Atlas resources


def test_atlas_types_per_network_mode(stack: Stack) -> None:
    atlas = sam.resources_of_type(stack.template, sam.ATLAS_PREFIX)
    assert {r["Type"] for r in atlas.values()} == ATLAS_TYPES_BY_MODE[stack.network]


def test_atlas_resources_match_published_schemas(stack: Stack) -> None:
    for name, resource in sam.resources_of_type(stack.transformed, sam.ATLAS_PREFIX).items():
        errors = sam.atlas_schema_errors(resource["Type"], resource["Properties"])
        assert errors == [], f"{name} ({resource['Type']}): {errors}"
        assert resource["Properties"]["Profile"] == ref("AtlasProfile"), name
        assert resource["Properties"]["ProjectId"] == ref("AtlasProjectId"), name


def test_schema_check_can_fail() -> None:
    """The schema check rejects what CloudFormation would: unknown, missing, off-enum, read-only."""
    user = {
        "ProjectId": ref("AtlasProjectId"),
        "Username": getatt("ApiFunctionRole", "Arn"),
        "DatabaseName": "$external",
        "AWSIAMType": "ROLE",
        "Roles": [{"RoleName": "readWrite", "DatabaseName": "app"}],
    }
    assert sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", user) == []
    bad = [
        {**user, "AwsIamType": "ROLE"},
        {k: v for k, v in user.items() if k != "Roles"},
        {**user, "AWSIAMType": "ROLES"},
        {**user, "Roles": ref("SomeList")},
        {**user, "Roles": [{"RoleName": "readWrite", "Database": "app"}]},
        {**user, "UserCFNIdentifier": "x"},
        {**user, "AWSIAMType": {"Fn::If": ["C", "ROLE", ["not", "a", "string"]]}},
    ]
    for properties in bad:
        assert sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", properties), properties


def test_references_resolve(stack: Stack) -> None:
    """Every Ref, GetAtt, Sub variable and condition points at something declared.

    cfn-lint does not look inside MongoDB::Atlas resources; GetAtt on them must name a
    read-only property of the published schema.
    """
    assert sam.unresolved_references(stack.transformed) == []
    assert sam.unresolved_references(stack.extensions) == []


def test_reference_check_can_fail(stack: Stack) -> None:
    broken = json.loads(json.dumps(stack.transformed))
    user = broken["Resources"]["AtlasDatabaseUser"]["Properties"]
    user["ProjectId"] = ref("AtlasProjectID")
    assert sam.unresolved_references(broken) == [
        "Resources: Ref AtlasProjectID: no such parameter or resource"
    ]


# ---------------------------------------------------------------- the function


def test_function_settings(stack: Stack) -> None:
    function = stack.props("ApiFunction")
    package = stack.project.name.replace("-", "_")  # the default package_name
    assert function["Handler"] == f"{package}.handler.handler"
    module = stack.project / "src" / package / "handler.py"
    assert re.search(r"^def handler\(", module.read_text(encoding="utf-8"), re.MULTILINE)
    assert function["CodeUri"] == "../../dist/lambda.zip"
    assert (stack.folder / function["CodeUri"]).resolve() == stack.project / "dist" / "lambda.zip"
    assert function["Runtime"] == f"python{stack.answer('python_version')}"
    assert function["Architectures"] == [stack.answer("architecture")]
    assert function["MemorySize"] == int(stack.answer("lambda_memory_mb"))
    assert function["Timeout"] == int(stack.answer("lambda_timeout_s"))
    assert function["ReservedConcurrentExecutions"] == int(stack.answer("reserved_concurrency"))
    assert function["LoggingConfig"] == {"LogGroup": ref("ApiFunctionLogGroup")}
    assert stack.props("ApiFunctionLogGroup")["RetentionInDays"] == ref("LogRetentionInDays")

    variables = function["Environment"]["Variables"]
    expected = {
        "MONGODB_URI": ref("MongoDbUri"),
        "MONGODB_DATABASE": stack.answer("database_name"),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    if stack.auth == "password":
        expected["MONGODB_SECRET_ARN"] = ref("DatabaseUserSecret")
    assert variables == expected


def test_function_in_private_subnets_of_the_vpc(stack: Stack) -> None:
    vpc_config = stack.props("ApiFunction")["VpcConfig"]
    assert vpc_config["SubnetIds"] == [ref("PrivateSubnetA"), ref("PrivateSubnetB")]
    assert vpc_config["SecurityGroupIds"] == [ref("FunctionSecurityGroup")]
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):
        assert stack.props(subnet)["VpcId"] == ref("Vpc")
        assert stack.props(subnet)["MapPublicIpOnLaunch"] is False
        associations = [
            r["Properties"]
            for r in stack.resources.values()
            if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
            and r["Properties"]["SubnetId"] == ref(subnet)
        ]
        assert associations == [{"SubnetId": ref(subnet), "RouteTableId": ref("PrivateRouteTable")}]
    assert stack.props("Vpc")["EnableDnsHostnames"] is True
    assert stack.props("Vpc")["EnableDnsSupport"] is True
    assert stack.props("FunctionSecurityGroup")["VpcId"] == ref("Vpc")
    assert "SecurityGroupIngress" not in stack.props("FunctionSecurityGroup")


def test_http_api_routes(stack: Stack) -> None:
    events = stack.props("ApiFunction")["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()}
    assert routes == {("GET", "/health"), ("POST", "/items"), ("GET", "/items/{id}")}
    assert all(
        e["Type"] == "HttpApi" and e["Properties"]["ApiId"] == ref("HttpApi")
        for e in events.values()
    )
    api = stack.props("HttpApi")
    assert api["AccessLogSettings"]["DestinationArn"] == getatt("HttpApiAccessLogGroup", "Arn")
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"] == int(
        stack.answer("reserved_concurrency")
    )
    outputs = stack.template["Outputs"]
    assert "${HttpApi}" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert outputs["FunctionName"]["Value"] == ref("ApiFunction")


def _role_statements(transformed: sam.Template, role: str) -> list[dict[str, Any]]:
    properties = transformed["Resources"][role]["Properties"]
    return [
        s
        for policy in properties.get("Policies", [])
        for s in policy["PolicyDocument"]["Statement"]
    ]


def test_function_role_is_least_privilege(stack: Stack) -> None:
    transformed = stack.transformed
    function = transformed["Resources"]["ApiFunction"]["Properties"]
    assert function["Role"] == getatt("ApiFunctionRole", "Arn")
    role = transformed["Resources"]["ApiFunctionRole"]["Properties"]
    assert sorted(role["ManagedPolicyArns"]) == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    ]
    statements = _role_statements(transformed, "ApiFunctionRole")
    if stack.auth == "iam":
        assert statements == []
        return
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert list(sam.references(statement["Resource"])) == [("Ref", "DatabaseUserSecret", None)]
    assert "*" not in json.dumps(statement["Resource"])


# ---------------------------------------------------------------- database user


def test_database_user(stack: Stack) -> None:
    user = stack.props("AtlasDatabaseUser")
    database = stack.answer("database_name")
    assert user["Roles"] == [{"RoleName": "readWrite", "DatabaseName": database}]
    assert user["Scopes"] == [{"Name": ref("AtlasClusterName"), "Type": "CLUSTER"}]
    assert "atlasAdmin" not in json.dumps(user)
    if stack.auth == "iam":
        assert user["Username"] == getatt("ApiFunctionRole", "Arn")
        assert user["DatabaseName"] == "$external"
        assert user["AWSIAMType"] == "ROLE"
        assert "Password" not in user
        assert not sam.resources_of_type(stack.template, "AWS::SecretsManager::")
        return
    assert user["Username"] == ref("DatabaseUsername")
    assert user["DatabaseName"] == "admin"
    assert user.get("AWSIAMType", "NONE") == "NONE"
    assert user["Password"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DatabaseUserSecret}:SecretString:password}}"
    }
    secret = stack.props("DatabaseUserSecret")["GenerateSecretString"]
    assert secret["GenerateStringKey"] == "password"
    assert secret["SecretStringTemplate"] == {"Fn::Sub": '{"username": "${DatabaseUsername}"}'}
    assert secret["PasswordLength"] >= 32
    assert "SecretString" not in stack.props("DatabaseUserSecret")
    for name in stack.template["Parameters"]:
        assert "password" not in name.lower(), name


def test_secrets_manager_reached_privately(stack: Stack) -> None:
    endpoints = {
        name: r["Properties"]
        for name, r in stack.resources.items()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and "secretsmanager" in json.dumps(r["Properties"])
    }
    if stack.auth == "iam":
        assert endpoints == {}
        return
    assert endpoints == {
        "SecretsManagerEndpoint": {
            "VpcEndpointType": "Interface",
            "VpcId": ref("Vpc"),
            "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.secretsmanager"},
            "SubnetIds": [ref("PrivateSubnetA"), ref("PrivateSubnetB")],
            "SecurityGroupIds": [ref("SecretsManagerEndpointSecurityGroup")],
            "PrivateDnsEnabled": True,
        }
    }
    ingress = stack.props("SecretsManagerEndpointSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress] == [
        (443, 443, ref("FunctionSecurityGroup"))
    ]
    egress = stack.props("FunctionToSecretsManagerEgress")
    assert egress["GroupId"] == ref("FunctionSecurityGroup")
    assert egress["DestinationSecurityGroupId"] == ref("SecretsManagerEndpointSecurityGroup")
    assert (egress["FromPort"], egress["ToPort"]) == (443, 443)


# ---------------------------------------------------------------- network modes


def _function_egress(stack: Stack) -> list[dict[str, Any]]:
    inline = stack.props("FunctionSecurityGroup").get("SecurityGroupEgress", [])
    separate = [
        r["Properties"]
        for r in stack.resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupEgress"
        and r["Properties"]["GroupId"] == ref("FunctionSecurityGroup")
    ]
    return [*inline, *separate]


def _types(stack: Stack) -> set[str]:
    return {r["Type"] for r in stack.resources.values()}


def test_private_endpoint_wiring(stack: Stack) -> None:
    if stack.network != "private_endpoint":
        assert "AtlasVpcEndpoint" not in stack.resources
        return
    assert stack.props("AtlasPrivateEndpointService") == {
        "Profile": ref("AtlasProfile"),
        "ProjectId": ref("AtlasProjectId"),
        "CloudProvider": "AWS",
        "Region": ref("AWS::Region"),
    }
    endpoint = stack.props("AtlasVpcEndpoint")
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["VpcId"] == ref("Vpc")
    assert endpoint["ServiceName"] == getatt("AtlasPrivateEndpointService", "EndpointServiceName")
    assert endpoint["SubnetIds"] == [ref("PrivateSubnetA"), ref("PrivateSubnetB")]
    assert endpoint["SecurityGroupIds"] == [ref("AtlasEndpointSecurityGroup")]
    registration = stack.props("AtlasPrivateEndpoint")
    assert registration["EndpointServiceId"] == getatt("AtlasPrivateEndpointService", "Id")
    assert registration["Id"] == ref("AtlasVpcEndpoint")
    assert registration["EnforceConnectionSuccess"] is True

    ingress = stack.props("AtlasEndpointSecurityGroup")["SecurityGroupIngress"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress
    ] == [("tcp", 1024, 65535, ref("FunctionSecurityGroup"))]
    to_atlas = [
        e
        for e in _function_egress(stack)
        if e.get("DestinationSecurityGroupId") == ref("AtlasEndpointSecurityGroup")
    ]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in to_atlas] == [
        ("tcp", 1024, 65535)
    ]
    assert not _types(stack) & {
        "AWS::EC2::NatGateway",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EIP",
    }
    assert "AWS::EC2::Route" not in _types(stack)
    assert stack.template["Outputs"]["AtlasVpcEndpointId"]["Value"] == ref("AtlasVpcEndpoint")


def test_peering_wiring(stack: Stack) -> None:
    if stack.network != "peering":
        assert "AtlasNetworkPeering" not in stack.resources
        return
    parameters = stack.template["Parameters"]
    vpc = ipaddress.ip_network(parameters["VpcCidr"]["Default"])
    atlas = ipaddress.ip_network(parameters["AtlasCidrBlock"]["Default"])
    assert not vpc.overlaps(atlas)
    assert stack.template["Conditions"]["CreateAtlasNetworkContainer"] == {
        "Fn::Equals": [ref("AtlasNetworkContainerId"), ""]
    }
    container = stack.resources["AtlasNetworkContainer"]
    assert container["Condition"] == "CreateAtlasNetworkContainer"
    assert container["Properties"]["AtlasCidrBlock"] == ref("AtlasCidrBlock")
    assert container["Properties"]["RegionName"] == stack.region.upper().replace("-", "_")
    assert container["DeletionPolicy"] == "Retain"

    peering = stack.props("AtlasNetworkPeering")
    assert peering["ContainerId"] == {
        "Fn::If": [
            "CreateAtlasNetworkContainer",
            getatt("AtlasNetworkContainer", "Id"),
            ref("AtlasNetworkContainerId"),
        ]
    }
    assert peering["VpcId"] == ref("Vpc")
    assert peering["AwsAccountId"] == ref("AWS::AccountId")
    assert peering["AccepterRegionName"] == ref("AWS::Region")
    assert peering["RouteTableCIDRBlock"] == ref("VpcCidr")

    accepter = stack.resources["AtlasPeeringAccepter"]
    assert accepter["Type"].startswith("Custom::")
    assert accepter["Properties"] == {
        "ServiceToken": getatt("PeeringAccepterFunction", "Arn"),
        "AtlasPeeringId": getatt("AtlasNetworkPeering", "Id"),
        "VpcId": ref("Vpc"),
        "AtlasCidrBlock": ref("AtlasCidrBlock"),
    }
    code = stack.props("PeeringAccepterFunction")["InlineCode"]
    compile(code, "accepter", "exec")
    assert "accept_vpc_peering_connection" in code and '"VpcPeeringConnectionId"' in code
    assert len(code) < 4096  # the ZipFile limit of AWS::Lambda::Function

    routes = {
        n: r["Properties"] for n, r in stack.resources.items() if r["Type"] == "AWS::EC2::Route"
    }
    assert routes == {
        "AtlasPeeringRoute": {
            "RouteTableId": ref("PrivateRouteTable"),
            "DestinationCidrBlock": ref("AtlasCidrBlock"),
            "VpcPeeringConnectionId": getatt("AtlasPeeringAccepter", "VpcPeeringConnectionId"),
        }
    }
    access = stack.props("AtlasAccessList")["AccessList"]
    assert [entry["CIDRBlock"] for entry in access] == [ref("VpcCidr")]
    assert all(set(entry) <= {"CIDRBlock", "Comment"} for entry in access)
    assert not _types(stack) & {
        "AWS::EC2::NatGateway",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EIP",
    }


def test_peering_accepter_may_only_accept_into_its_vpc(stack: Stack) -> None:
    if stack.network != "peering":
        assert "PeeringAccepterFunction" not in stack.resources
        return
    statements = _role_statements(stack.transformed, "PeeringAccepterFunctionRole")
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            by_action.setdefault(action, []).append(statement)
    assert set(by_action) == {"ec2:DescribeVpcPeeringConnections", "ec2:AcceptVpcPeeringConnection"}
    for statement in by_action["ec2:AcceptVpcPeeringConnection"]:
        assert statement["Resource"] != "*"
        assert "${Vpc}" in json.dumps(statement)


def test_nat_wiring(stack: Stack) -> None:
    if stack.network != "nat":
        assert "NatGateway" not in stack.resources
        return
    assert stack.props("NatElasticIp")["Domain"] == "vpc"
    nat = stack.props("NatGateway")
    assert nat["AllocationId"] == getatt("NatElasticIp", "AllocationId")
    assert nat["SubnetId"] == ref("PublicSubnet")
    assert stack.props("PublicSubnet")["VpcId"] == ref("Vpc")
    assert stack.props("InternetGatewayAttachment") == {
        "VpcId": ref("Vpc"),
        "InternetGatewayId": ref("InternetGateway"),
    }
    routes = {
        n: r["Properties"] for n, r in stack.resources.items() if r["Type"] == "AWS::EC2::Route"
    }
    assert routes == {
        "PublicDefaultRoute": {
            "RouteTableId": ref("PublicRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": ref("InternetGateway"),
        },
        "PrivateDefaultRoute": {
            "RouteTableId": ref("PrivateRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": ref("NatGateway"),
        },
    }
    assert stack.props("PublicSubnetRouteTableAssociation") == {
        "SubnetId": ref("PublicSubnet"),
        "RouteTableId": ref("PublicRouteTable"),
    }
    access = stack.props("AtlasAccessList")["AccessList"]
    assert len(access) == 1
    assert access[0]["CIDRBlock"] == {"Fn::Sub": "${NatElasticIp.PublicIp}/32"}
    assert set(access[0]) <= {"CIDRBlock", "Comment"}
    assert stack.template["Outputs"]["NatElasticIp"]["Value"] == ref("NatElasticIp")
    to_atlas = [e for e in _function_egress(stack) if "CidrIp" in e]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in to_atlas] == [
        ("tcp", 27015, 27017)
    ]


def test_function_egress_is_only_what_it_needs(stack: Stack) -> None:
    egress = _function_egress(stack)
    allowed_groups = {"private_endpoint": ["AtlasEndpointSecurityGroup"], "peering": [], "nat": []}[
        stack.network
    ]
    if stack.auth == "password":
        allowed_groups = [*allowed_groups, "SecretsManagerEndpointSecurityGroup"]
    groups = sorted(
        e["DestinationSecurityGroupId"]["Ref"] for e in egress if "DestinationSecurityGroupId" in e
    )
    assert groups == sorted(allowed_groups)
    cidr_rules = [e for e in egress if "CidrIp" in e]
    if stack.network == "private_endpoint":
        # Only the placeholder that replaces the default allow-all rule: matches no packet.
        assert [(e["IpProtocol"], e["CidrIp"]) for e in cidr_rules] == [
            ("icmp", "255.255.255.255/32")
        ]
    else:
        expected = ref("AtlasCidrBlock") if stack.network == "peering" else "0.0.0.0/0"
        assert [(e["IpProtocol"], e["FromPort"], e["ToPort"], e["CidrIp"]) for e in cidr_rules] == [
            ("tcp", 27015, 27017, expected)
        ]


def test_no_open_cidr(stack: Stack) -> None:
    """No 0.0.0.0/0 (or ::/0) anywhere, except what a NAT gateway cannot work without.

    In nat mode the public and private default routes and the function's egress to Atlas's
    public endpoints (TCP 27015-27017 only) span every address: Atlas node addresses are
    not fixed. Atlas's access list still holds only the Elastic IP.
    """
    found: list[str] = []
    for needle in OPEN:
        found += sam.strings_containing(stack.transformed, needle)
        found += sam.strings_containing(stack.extensions, needle)
    if stack.network == "nat":
        assert sorted(found) == [
            "/Resources/FunctionSecurityGroup/Properties/SecurityGroupEgress/0/CidrIp",
            "/Resources/PrivateDefaultRoute/Properties/DestinationCidrBlock",
            "/Resources/PublicDefaultRoute/Properties/DestinationCidrBlock",
        ]
    else:
        assert found == []
    for resource in sam.resources_of_type(stack.transformed, sam.ATLAS_PREFIX).values():
        assert not any(needle in json.dumps(resource) for needle in OPEN)
    for name, resource in stack.transformed["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            ingress = properties.get("SecurityGroupIngress", [])
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            ingress = [properties]
        else:
            continue
        for rule in ingress:
            assert "CidrIp" not in rule and "CidrIpv6" not in rule, name


# ---------------------------------------------------------------- parameters


URIS = {
    "private_endpoint": "mongodb+srv://cluster0-pl-0.abcde.mongodb.net",
    "peering": "mongodb+srv://cluster0-pri.abcde.mongodb.net",
    "nat": "mongodb+srv://cluster0.abcde.mongodb.net",
}


def test_mongodb_uri_parameter(stack: Stack) -> None:
    parameter = stack.template["Parameters"]["MongoDbUri"]
    assert "Default" not in parameter
    pattern = re.compile(parameter["AllowedPattern"])
    good = URIS[stack.network]
    assert pattern.fullmatch(good)
    assert pattern.fullmatch(good + "/")
    rejected = [
        good.replace("://", "://user:secret@"),
        good.replace("://", "://user@"),
        good + "/?retryWrites=true&w=majority",
        good + "/app",
        good + "/?authMechanism=MONGODB-AWS&authSource=%24external",
        good.replace("mongodb+srv://", "mongodb://") + ":27017",
        good + ":27017",
        "",
    ] + [uri for mode, uri in URIS.items() if mode != stack.network and stack.network != "nat"]
    for uri in rejected:
        assert not pattern.fullmatch(uri), uri


def test_parameters_constrained(stack: Stack) -> None:
    parameters = stack.template["Parameters"]
    assert re.fullmatch(parameters["AtlasProjectId"]["AllowedPattern"], "0123456789abcdef01234567")
    assert not re.fullmatch(
        parameters["AtlasProjectId"]["AllowedPattern"], "0123456789abcdef0123456"
    )
    vpc = re.compile(parameters["VpcCidr"]["AllowedPattern"])
    assert vpc.fullmatch(parameters["VpcCidr"]["Default"])
    assert not vpc.fullmatch("0.0.0.0/0") and not vpc.fullmatch("10.0.0.0/8")
    if stack.network == "peering":
        atlas = re.compile(parameters["AtlasCidrBlock"]["AllowedPattern"])
        assert atlas.fullmatch(parameters["AtlasCidrBlock"]["Default"])
        assert not atlas.fullmatch("0.0.0.0/0")
    for name, parameter in parameters.items():
        if "Default" in parameter and "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], str(parameter["Default"])), name


# ---------------------------------------------------------------- supporting files


def test_atlas_extensions_activate_exactly_the_used_types(stack: Stack) -> None:
    extensions = stack.extensions
    activations = sam.resources_of_type(extensions, "AWS::CloudFormation::TypeActivation")
    activated = {r["Properties"]["TypeName"] for r in activations.values()}
    used = {r["Type"] for r in sam.resources_of_type(stack.template, sam.ATLAS_PREFIX).values()}
    assert activated == used
    publisher = extensions["Mappings"]["MongoDB"]["Publisher"]["Id"]
    assert publisher == "bb989456c78c398a858fef18f2ca1bfc1fbba082"
    for activation in activations.values():
        assert activation["Properties"]["ExecutionRoleArn"] == getatt(
            "ExtensionExecutionRole", "Arn"
        )
    role = extensions["Resources"]["ExtensionExecutionRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "resources.cloudformation.amazonaws.com"}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    secret_read = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert len(secret_read) == 1
    assert ":secret:cfn/atlas/profile/${AtlasProfile}" in secret_read[0]["Resource"]["Fn::Sub"]


def test_samconfig(stack: Stack) -> None:
    config = tomllib.loads((stack.folder / "samconfig.toml").read_text(encoding="utf-8"))
    default = config["default"]
    assert default["global"]["parameters"] == {
        "stack_name": stack.project.name,
        "region": stack.region,
    }
    assert default["validate"]["parameters"]["lint"] is True
    deploy = default["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert "parameter_overrides" not in deploy
    assert "use_container" not in default["build"]["parameters"]


def test_readme_explains_deploy(stack: Stack) -> None:
    readme = (stack.folder / "README.md").read_text(encoding="utf-8")
    assert "## What must exist before the first deploy" in readme
    for text in (
        "make package",
        "sam validate --lint",
        "sam build",
        "sam deploy --guided",
        "sam delete",
        "../../dist/lambda.zip",
        "Docker",
        "cfn/atlas/profile/",
        "atlas-extensions.yaml",
        URIS[stack.network]
        .split("//")[1]
        .replace("cluster0", "<cluster>")
        .replace("abcde", "<id>"),
    ):
        assert text in readme, text
    for atlas_type in ATLAS_TYPES_BY_MODE[stack.network]:
        assert f"`{atlas_type}`" in readme, atlas_type
    for name, parameter in stack.template["Parameters"].items():
        assert f"`{name}`" in readme, name
        if "Default" not in parameter:
            assert f"| `{name}` |" in readme, name


def test_workflow(stack: Stack) -> None:
    path = stack.project / ".github" / "workflows" / "infra-sam.yml"
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses, "no actions used"
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.search(rf"uses: {re.escape(action)} # v\d+(\.\d+)*\s*$", text, re.MULTILINE), (
            action
        )
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    python = next(
        step for step in steps if step.get("uses", "").startswith("actions/setup-python@")
    )
    assert python["with"]["python-version"] == stack.answer("python_version")
    runs = [
        (step.get("working-directory", "."), step["run"].strip()) for step in steps if "run" in step
    ]
    commands = [command for _, command in runs]
    assert commands.index("make package") < commands.index("sam build")
    assert ("infra/sam", "sam validate --lint") in runs
    assert ("infra/sam", "sam build") in runs
    assert "${{" not in text


# ---------------------------------------------------------------- checkov


@pytest.fixture(scope="session")
def checkov(stacks: dict[str, Stack], tmp_path_factory: pytest.TempPathFactory) -> CheckovReport:
    """checkov once over every render: the SAM templates as written and as transformed."""
    root = tmp_path_factory.mktemp("checkov")
    for name, stack in stacks.items():
        folder = root / name
        folder.mkdir()
        shutil.copy(stack.folder / "template.yaml", folder / "template.yaml")
        shutil.copy(stack.folder / "atlas-extensions.yaml", folder / "atlas-extensions.yaml")
        (folder / "transformed.json").write_text(json.dumps(stack.transformed, indent=1))
    return run_checkov(root, "cloudformation")


def _in(stack_id: str, check: dict[str, Any]) -> bool:
    return check["file_path"].strip("/").split("/")[0] == stack_id


def test_checkov_passes(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    assert checkov.parsing_errors == []
    files = {c["file_path"].rsplit("/", 1)[-1] for c in checkov.passed if _in(stack_id, c)}
    assert files == {"template.yaml", "transformed.json", "atlas-extensions.yaml"}
    failures = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov.failed
        if _in(stack_id, c)
    ]
    assert failures == []


def test_checkov_skips_are_explained_and_used(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    declared = set()
    for name, resource in stack.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, (name, skip)
            assert len(skip["comment"].split()) >= 5, (name, skip)
            declared.add((name, skip["id"]))
    used = set()
    for check in checkov.skipped:
        if _in(stack_id, check):
            assert (check.get("check_result") or {}).get("suppress_comment"), check["check_id"]
            used.add((check["resource"].split(".")[-1], check["check_id"]))
    assert used == declared
