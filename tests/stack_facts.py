"""What one rendered stack deploys, as one typed record whichever IaC tool wrote it.

Terraform, SAM and the CDK write the same service in three languages. ``Facts`` holds what
a reader of any of them must find: the function's settings, what its role may do, the
Atlas database user, the network path to Atlas, the API, and which connection strings can
reach the function. One adapter per tool turns a rendered project into ``Facts``, from the
files the per-tool tests already parse: the SAM template after the SAM transform, as
CloudFormation deploys it with its parameters' defaults (tests/sam_support.py); the
Terraform files parsed by python-hcl2, with the simple expressions evaluated at the
variables' defaults (tests/terraform_support.py, tests/hcl_eval.py); the CloudFormation the
CDK app synthesized (tests/test_cdk.py synthesizes it once per session) and the CDK app's
own settings module, which checks the deploy-time context.

Values are normalized so that equal behaviour compares equal: references become the kind
of thing they point at ("database secret", "function log group"), AWS managed policies
become the grants they hold, route tables and subnets become sets of routes.

A new fact is one field here (on ``Facts`` or a record under it) and one extractor per
adapter: each adapter has a method named after every field of ``Facts``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import hcl_eval
import sam_support as sam
import terraform_support as tf
from rendered_stack import DEFAULTS, RenderedStack

# ---------------------------------------------------------------- the record

# MONGODB_URI holds the connection string; ConnectionString says where it comes from.
CONNECTION_STRING = "<connection string>"
SECRET_ARN = "<database secret ARN>"
CLUSTER_NAME_INPUT = "<Atlas cluster name>"
PROJECT_ID_INPUT = "<Atlas project id>"
TYPED_IN = "typed into the stack"
# Resource kinds a grant or a route may name.
ANY = "*"
SECRET = "database secret"
FUNCTION_LOG_GROUP = "function log group"
ROLE_ARN = "function role ARN"
SECRET_USERNAME = "the database secret's username"
SECRET_PASSWORD = "the database secret's password"
ATLAS_ENDPOINT = "Atlas interface endpoint"
SECRETS_MANAGER_ENDPOINT = "Secrets Manager interface endpoint"
ATLAS_CIDR = "Atlas CIDR (from the peering Atlas made)"
VPC_CIDR = "VPC CIDR"
NAT_IP = "NAT Elastic IP/32"
OPEN = "0.0.0.0/0"

# The Atlas SRV strings, by kind, for cluster "cluster0" in a project whose host id is ab1cd.
URIS = {
    "standard": "mongodb+srv://cluster0.ab1cd.mongodb.net",
    "standard, Atlas for Government": "mongodb+srv://cluster0.ab1cd.mongodbgov.net",
    "-pri": "mongodb+srv://cluster0-pri.ab1cd.mongodb.net",
    "-pl-N": "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net",
    "-pl-N, second endpoint": "mongodb+srv://cluster0-pl-1.ab1cd.mongodb.net",
    "-pl-N-lb": "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net",
}
# What a user might paste that no mode takes: credentials, options, a database, a port.
REFUSED_EVERYWHERE = {
    "credentials": "mongodb+srv://user:secret@cluster0.ab1cd.mongodb.net",
    "options": "mongodb+srv://cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority",
    "database": "mongodb+srv://cluster0.ab1cd.mongodb.net/app",
    "not SRV": "mongodb://cluster0.ab1cd.mongodb.net:27017",
    "not Atlas": "mongodb+srv://cluster0.ab1cd.example.com",
}


@dataclass(frozen=True)
class Function:
    handler: str
    handler_defined: bool  # the handler's module in src/ defines that function
    package: str  # the deployment package, relative to the project
    runtime: str
    architecture: str
    memory_mb: int
    log_retention_days: int | None  # of the log group the function writes to, made by the stack
    timeout_s: int  # deployed with every deploy-time value at its default
    reserved_concurrency: int | None  # likewise; None reserves nothing
    reserved_concurrency_max: int  # the largest deploy-time value the stack accepts
    environment: dict[str, str]  # name -> value (references by kind, see the constants)
    subnets: int  # private subnets the function runs in
    availability_zones: int  # distinct zones of those subnets
    security_groups: tuple[str, ...]  # by kind


@dataclass(frozen=True)
class Role:
    trusted: frozenset[str]  # service principals that may assume it
    grants: frozenset[str]  # "action on resource kind", managed policies expanded


@dataclass(frozen=True)
class DatabaseUser:
    users: int  # Atlas database users the stack creates
    project: str
    auth: str  # "AWS IAM ROLE" (the IAM type) or "SCRAM"
    username: str
    auth_database: str
    roles: frozenset[tuple[str, str]]  # (role, database)
    scopes: frozenset[tuple[str, str]]  # (type, name)
    password: str | None  # where the user's password comes from
    secret: tuple[str, int] | None  # (key generated into the secret, its length)
    password_inputs: frozenset[str]  # deploy-time string inputs named like a password
    labels: frozenset[str]  # label keys on the user
    atlas_admin_anywhere: bool  # "atlasAdmin" anywhere in the stack


@dataclass(frozen=True)
class Network:
    function_egress: frozenset[str]  # "protocol ports to destination kind"
    resources: frozenset[str]  # what the mode builds, by kind
    routes: frozenset[str]  # "subnets: destination via target"
    atlas_access_list: frozenset[str]  # entries, by kind


@dataclass(frozen=True)
class Api:
    routes: frozenset[str]  # route keys
    integration: str  # "type payload-version target"
    throttling: tuple[int, int] | None  # (burst, rate) at the default reserved concurrency


@dataclass(frozen=True)
class ConnectionString:
    source: str  # "deploy-time input" or "read from Atlas"
    reaches: frozenset[str]  # kinds of Atlas SRV string (keys of URIS) that reach the function
    refused: frozenset[str]  # keys of REFUSED_EVERYWHERE the stack refuses


@dataclass(frozen=True)
class Facts:
    function: Function
    role: Role
    database_user: DatabaseUser
    network: Network
    api: Api
    connection_string: ConnectionString


FACTS = tuple(field.name for field in fields(Facts))


def facts(adapter: Any) -> Facts:
    """The ``Facts`` an adapter extracts: one method per field."""
    return Facts(**{name: getattr(adapter, name)() for name in FACTS})


# AWS managed policies the stacks attach, as their current versions grant (on every resource).
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
LOGS_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": LOGS_ACTIONS,
    "AWSLambdaVPCAccessExecutionRole": LOGS_ACTIONS + VPC_ACCESS_ACTIONS,
}


def grant(action: str, resource: str) -> str:
    return f"{action} on {resource}"


def managed_grants(arn: str) -> set[str]:
    name = arn.rsplit("/", 1)[-1]
    if name not in MANAGED_POLICIES:
        raise AssertionError(f"unknown managed policy {arn}: add what it grants")
    return {grant(action, ANY) for action in MANAGED_POLICIES[name]}


def handler_defined(project: Path, handler: str) -> bool:
    """Whether src/<package>/<module>.py defines the function ``handler`` names."""
    *module, function = handler.split(".")
    path = project.joinpath("src", *module).with_suffix(".py")
    return path.is_file() and bool(
        re.search(rf"^def {re.escape(function)}\(", path.read_text(encoding="utf-8"), re.M)
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def reserved_budget(answers: dict[str, Any]) -> int:
    """The connection budget's largest reserved concurrency (cookiecutter.json's data)."""
    tier = answers.get("atlas_tier", DEFAULTS["atlas_tier"][0])
    limit = DEFAULTS["_tier_connection_limits"][tier] * DEFAULTS["_connection_headroom"]
    return int(limit // DEFAULTS["_connections_per_container_per_node"])


def largest_accepted(accepts: Callable[[int], bool], low: int = 0, high: int = 10_000) -> int:
    """The largest value in [low, high] ``accepts`` takes, for a bound below which all pass."""
    assert accepts(low), f"{low} refused"
    if accepts(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepts(middle) else (low, middle)
    return low


def port_range(protocol: str, low: Any, high: Any) -> str:
    return f"{protocol} {low}" if str(low) == str(high) else f"{protocol} {low}-{high}"


# ---------------------------------------------------------------- CloudFormation (SAM, CDK)

# The rule AWS::EC2::SecurityGroup gets to replace the default allow-all egress: no packet.
NO_EGRESS = ("icmp", 252, 86, "255.255.255.255/32")


def cfn_targets(node: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to (Ref, GetAtt, Sub)."""
    return {target for kind, target, _ in sam.references(node) if kind in ("Ref", "GetAtt")}


class CloudFormationAdapter:
    """Facts of a deployed CloudFormation template: SAM's after the transform, or CDK's."""

    answers: dict[str, Any]
    project: Path

    @property
    def template(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def resources(self) -> dict[str, Any]:
        raise NotImplementedError

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: body["Properties"]
            for name, body in self.resources.items()
            if body["Type"] == resource_type
        }

    def the_one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"{resource_type}: {sorted(found)}"
        return next(iter(found.items()))

    @cached_property
    def function_name(self) -> str:
        found = [
            name
            for name, props in self.of_type("AWS::Lambda::Function").items()
            if props["Handler"].endswith(".handler.handler")
        ]
        assert len(found) == 1, found
        return found[0]

    @property
    def function_props(self) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[self.function_name]["Properties"]
        return props

    @cached_property
    def role_name(self) -> str:
        (role,) = cfn_targets(self.function_props["Role"])
        return role

    # -- what a reference points at
    @cached_property
    def kinds(self) -> dict[str, str]:
        """Logical id -> kind, for every resource a fact names."""
        kinds: dict[str, str] = {}
        for name in self.of_type("AWS::SecretsManager::Secret"):
            kinds[name] = SECRET
        logging = self.function_props.get("LoggingConfig", {}).get("LogGroup")
        for name in cfn_targets(logging):
            kinds[name] = FUNCTION_LOG_GROUP
        kinds[self.role_name] = ROLE_ARN
        for props in self.of_type("AWS::EC2::VPCEndpoint").values():
            service = json.dumps(props["ServiceName"])
            kind = SECRETS_MANAGER_ENDPOINT if "secretsmanager" in service else ATLAS_ENDPOINT
            for group in props.get("SecurityGroupIds", []):
                for target in cfn_targets(group):
                    kinds[target] = kind
        for group in self.function_props["VpcConfig"]["SecurityGroupIds"]:
            for target in cfn_targets(group):
                kinds[target] = "function"
        return kinds

    def vpc_cidr(self) -> str:
        raise NotImplementedError

    def kind(self, value: Any) -> str:
        """The kind of resource a value refers to, or the literal value."""
        if value == self.vpc_cidr():
            return VPC_CIDR
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if self.resources[target]["Type"] == "Custom::AtlasPeeringAccepter":
                return {"AtlasCidrBlock": ATLAS_CIDR}.get(attribute, f"{target}.{attribute}")
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in self.inputs():
            return self.input_kind(value["Ref"])
        targets = cfn_targets(value)
        if len(targets) == 1:
            (target,) = targets
            return self.kinds.get(target, self.resources.get(target, {}).get("Type", target))
        return json.dumps(value, sort_keys=True)

    def inputs(self) -> dict[str, Any]:
        """Deploy-time inputs: name -> declaration."""
        return {}

    def input_kind(self, name: str) -> str:
        return f"<{name}>"

    # -- the facts
    def function(self) -> Function:
        props = self.function_props
        subnets = [
            self.resources[target]["Properties"]
            for subnet in props["VpcConfig"]["SubnetIds"]
            for target in cfn_targets(subnet)
        ]
        zones = {json.dumps(subnet.get("AvailabilityZone"), sort_keys=True) for subnet in subnets}
        reserved = props.get("ReservedConcurrentExecutions")
        return Function(
            handler=props["Handler"],
            handler_defined=handler_defined(self.project, props["Handler"]),
            package=self.package(),
            runtime=props["Runtime"],
            architecture=single(props.get("Architectures", ["x86_64"])),
            memory_mb=int(props["MemorySize"]),
            log_retention_days=self.log_retention(props.get("LoggingConfig", {}).get("LogGroup")),
            timeout_s=int(props["Timeout"]),
            reserved_concurrency=None if reserved is None else int(reserved),
            reserved_concurrency_max=self.reserved_concurrency_max(),
            environment={
                name: self.environment_value(name, value)
                for name, value in props["Environment"]["Variables"].items()
            },
            subnets=len(subnets),
            availability_zones=len(zones),
            security_groups=tuple(self.kind(g) for g in props["VpcConfig"]["SecurityGroupIds"]),
        )

    def package(self) -> str:
        raise NotImplementedError

    def log_retention(self, log_group: Any) -> int | None:
        targets = cfn_targets(log_group)
        if len(targets) != 1 or next(iter(targets)) not in self.resources:
            return None
        (target,) = targets
        retention = self.resources[target]["Properties"].get("RetentionInDays")
        return None if retention is None else int(retention)

    def reserved_concurrency_max(self) -> int:
        raise NotImplementedError

    def environment_value(self, name: str, value: Any) -> str:
        if name == "MONGODB_URI":
            return CONNECTION_STRING if self.is_uri_input(value) else json.dumps(value)
        if name == "MONGODB_SECRET_ARN":
            return SECRET_ARN if self.kind(value) == SECRET else json.dumps(value)
        return value if isinstance(value, str) else json.dumps(value)

    def is_uri_input(self, value: Any) -> bool:
        raise NotImplementedError

    def role_statements(self) -> Iterator[dict[str, Any]]:
        role = self.resources[self.role_name]["Properties"]
        for policy in role.get("Policies", []):
            yield from as_list(policy["PolicyDocument"]["Statement"])
        for props in self.of_type("AWS::IAM::Policy").values():
            if any(self.role_name in cfn_targets(r) for r in props.get("Roles", [])):
                yield from as_list(props["PolicyDocument"]["Statement"])

    def role(self) -> Role:
        role = self.resources[self.role_name]["Properties"]
        trusted = {
            service
            for statement in role["AssumeRolePolicyDocument"]["Statement"]
            if "sts:AssumeRole" in as_list(statement["Action"]) and statement["Effect"] == "Allow"
            for service in as_list(statement["Principal"].get("Service", []))
        }
        grants: set[str] = set()
        for arn in role.get("ManagedPolicyArns", []):
            grants |= managed_grants(json.dumps(arn).strip('"'))
        for statement in self.role_statements():
            assert statement["Effect"] == "Allow", statement
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    grants.add(grant(action, self.kind(resource)))
        return Role(trusted=frozenset(trusted), grants=frozenset(grants))

    def database_user(self) -> DatabaseUser:
        users = self.of_type("MongoDB::Atlas::DatabaseUser")
        (user,) = users.values()
        iam_type = user.get("AWSIAMType", "NONE")
        secret = None
        secrets = self.of_type("AWS::SecretsManager::Secret")
        if secrets:
            (props,) = secrets.values()
            generated = props.get("GenerateSecretString", {})
            secret = (
                generated.get("GenerateStringKey", TYPED_IN),
                generated.get("PasswordLength", 0),
            )
            if "SecretString" in props:
                secret = (TYPED_IN, 0)
        return DatabaseUser(
            users=len(users),
            project=self.project_id(user["ProjectId"]),
            auth="SCRAM" if iam_type == "NONE" else f"AWS IAM {iam_type}",
            username=self.username(user["Username"]),
            auth_database=user["DatabaseName"],
            roles=frozenset((r["RoleName"], r["DatabaseName"]) for r in user["Roles"]),
            scopes=frozenset((s["Type"], self.cluster_name(s["Name"])) for s in user["Scopes"]),
            password=self.password_source(user.get("Password")),
            secret=secret,
            password_inputs=frozenset(self.password_inputs()),
            labels=frozenset(label["Key"] for label in user.get("Labels", [])),
            atlas_admin_anywhere="atlasAdmin" in json.dumps(self.resources),
        )

    def project_id(self, value: Any) -> str:
        raise NotImplementedError

    def username(self, value: Any) -> str:
        if self.kind(value) == ROLE_ARN:
            return ROLE_ARN
        secrets = self.of_type("AWS::SecretsManager::Secret")
        if secrets:
            (props,) = secrets.values()
            template = props["GenerateSecretString"]["SecretStringTemplate"]
            if isinstance(template, dict) and "Fn::Sub" in template:
                stored = json.loads(template["Fn::Sub"])["username"]
                if value == {"Fn::Sub": stored}:
                    return SECRET_USERNAME
            elif json.loads(template).get("username") == value:
                return SECRET_USERNAME
        return json.dumps(value)

    def cluster_name(self, value: Any) -> str:
        raise NotImplementedError

    def password_source(self, value: Any) -> str | None:
        if value is None:
            return None
        text = value.get("Fn::Sub", value)
        if isinstance(text, dict) and "Fn::Join" in text:
            separator, parts = text["Fn::Join"]
            text = separator.join(
                p if isinstance(p, str) else "${" + next(iter(cfn_targets(p))) + "}" for p in parts
            )
        match = re.fullmatch(
            r"\{\{resolve:secretsmanager:\$\{(\w+)\}:SecretString:(\w+)(?:::)?\}\}", text
        )
        if match and self.kinds.get(match.group(1)) == SECRET and match.group(2) == "password":
            return SECRET_PASSWORD
        return json.dumps(value)

    def password_inputs(self) -> set[str]:
        raise NotImplementedError

    def network(self) -> Network:
        egress = []
        function_groups = [k for k, v in self.kinds.items() if v == "function"]
        for name in function_groups:
            egress += self.resources[name]["Properties"].get("SecurityGroupEgress", [])
        for props in self.of_type("AWS::EC2::SecurityGroupEgress").values():
            if cfn_targets(props["GroupId"]) & set(function_groups):
                egress.append(props)
        rules = set()
        for rule in egress:
            destination = rule.get("CidrIp") or rule.get("DestinationSecurityGroupId")
            key = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), destination)
            if key == NO_EGRESS:
                continue
            protocol = rule["IpProtocol"]
            ports = port_range(protocol, rule.get("FromPort"), rule.get("ToPort"))
            rules.add(f"{ports} to {self.kind(destination)}")
        return Network(
            function_egress=frozenset(rules),
            resources=frozenset(self.network_resources()),
            routes=frozenset(self.routes()),
            atlas_access_list=frozenset(self.access_list()),
        )

    def network_resources(self) -> set[str]:
        found = set()
        types_ = {body["Type"] for body in self.resources.values()}
        for props in self.of_type("AWS::EC2::VPCEndpoint").values():
            service = json.dumps(props["ServiceName"])
            kind = "secretsmanager" if "secretsmanager" in service else "Atlas endpoint service"
            found.add(f"interface endpoint to {kind}")
        for resource_type, kind in CFN_NETWORK_TYPES.items():
            if resource_type in types_:
                found.add(kind)
        return found

    def routes(self) -> set[str]:
        private = self.private_route_tables()
        found = set()
        for props in self.of_type("AWS::EC2::Route").values():
            tables = cfn_targets(props["RouteTableId"])
            where = "private" if tables <= private else "public"
            for key, target in ROUTE_TARGETS.items():
                if key in props:
                    destination = self.kind(props["DestinationCidrBlock"])
                    found.add(f"{where}: {destination} via {target}")
        return found

    def private_route_tables(self) -> set[str]:
        subnets = {
            target
            for subnet in self.function_props["VpcConfig"]["SubnetIds"]
            for target in cfn_targets(subnet)
        }
        return {
            table
            for props in self.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
            if cfn_targets(props["SubnetId"]) & subnets
            for table in cfn_targets(props["RouteTableId"])
        }

    def access_list(self) -> set[str]:
        found = set()
        for props in self.of_type("MongoDB::Atlas::ProjectIpAccessList").values():
            for entry in props["AccessList"]:
                found.add(self.access_kind(entry.get("CIDRBlock") or entry.get("IPAddress")))
        return found

    def access_kind(self, value: Any) -> str:
        text = json.dumps(value)
        if "PublicIp" in text and "/32" in text:
            return NAT_IP
        return self.kind(value)

    def api(self) -> Api:
        raise NotImplementedError

    def connection_string(self) -> ConnectionString:
        accepts = self.uri_accepts()
        return ConnectionString(
            source="deploy-time input",
            reaches=frozenset(kind for kind, uri in URIS.items() if accepts(uri)),
            refused=frozenset(kind for kind, uri in REFUSED_EVERYWHERE.items() if not accepts(uri)),
        )

    def uri_accepts(self) -> Callable[[str], bool]:
        raise NotImplementedError


CFN_NETWORK_TYPES = {
    "MongoDB::Atlas::PrivateEndpointService": "Atlas private endpoint service",
    "MongoDB::Atlas::PrivateEndpointAWS": "Atlas private endpoint registration",
    "MongoDB::Atlas::NetworkContainer": "Atlas network container",
    "MongoDB::Atlas::NetworkPeering": "Atlas network peering",
    "Custom::AtlasPeeringAccepter": "peering accepted in the VPC",
    "AWS::EC2::InternetGateway": "internet gateway",
    "AWS::EC2::NatGateway": "NAT gateway",
    "AWS::EC2::EIP": "Elastic IP",
}
ROUTE_TARGETS = {
    "NatGatewayId": "NAT gateway",
    "GatewayId": "internet gateway",
    "VpcPeeringConnectionId": "peering",
}


def single(value: Any) -> Any:
    items = as_list(value)
    assert len(items) == 1, value
    return items[0]


# ---------------------------------------------------------------- SAM


class SamAdapter(CloudFormationAdapter):
    """infra/sam/template.yaml, transformed and evaluated with the parameters' defaults."""

    def __init__(self, stack: RenderedStack) -> None:
        self.answers = stack.answers
        self.project = stack.project
        self.region = stack.region
        self.folder = stack.project / "infra" / "sam"

    @cached_property
    def written(self) -> dict[str, Any]:
        return sam.load(self.folder / "template.yaml")

    @cached_property
    def transformed(self) -> dict[str, Any]:
        return sam.transform(self.written, self.region)

    def deployed(self, **values: Any) -> sam.Evaluation:
        # The stack name samconfig.toml deploys under: the project's slug.
        pseudo = {"AWS::Region": self.region, "AWS::StackName": self.project.name}
        return sam.Evaluation(self.transformed, {**pseudo, **self.required(), **values})

    def required(self) -> dict[str, str]:
        """Values for the parameters that have no default: peering's AtlasNetworkContainerId
        as `create`, so the facts show the container the template declares (as the other
        tools' facts do), which the stack creates only in a project without one."""
        parameters = self.inputs()
        return (
            {"AtlasNetworkContainerId": "create"} if "AtlasNetworkContainerId" in parameters else {}
        )

    @cached_property
    def template(self) -> dict[str, Any]:  # type: ignore[override]
        return self.transformed

    @cached_property
    def resources(self) -> dict[str, Any]:  # type: ignore[override]
        return self.deployed().resources

    def inputs(self) -> dict[str, Any]:
        parameters: dict[str, Any] = self.written.get("Parameters", {})
        return parameters

    def input_kind(self, name: str) -> str:
        return {
            "MongoDbUri": CONNECTION_STRING,
            "AtlasClusterName": CLUSTER_NAME_INPUT,
            "AtlasProjectId": PROJECT_ID_INPUT,
            "VpcCidr": VPC_CIDR,
        }.get(name, f"<{name}>")

    def vpc_cidr(self) -> str:
        return str(self.inputs()["VpcCidr"]["Default"])

    def package(self) -> str:
        code_uri = self.written["Resources"][self.function_name]["Properties"]["CodeUri"]
        return (self.folder / code_uri).resolve().relative_to(self.project).as_posix()

    def reserved_concurrency_max(self) -> int:
        parameter = self.inputs()["ReservedConcurrency"]
        return int(parameter["MaxValue"])

    def is_uri_input(self, value: Any) -> bool:
        return value == {"Ref": "MongoDbUri"}

    def cluster_name(self, value: Any) -> str:
        return self.kind(value)

    def project_id(self, value: Any) -> str:
        return self.kind(value)

    def password_inputs(self) -> set[str]:
        return {
            name
            for name, parameter in self.inputs().items()
            if "password" in name.lower() and parameter["Type"] == "String"
        }

    def api(self) -> Api:
        (api,) = self.of_type("AWS::ApiGatewayV2::Api").values()
        routes, integrations = set(), set()
        for path, methods in api["Body"]["paths"].items():
            for method, operation in methods.items():
                routes.add(path if method == "x-amazon-apigateway-any-method" else method)
                spec = operation["x-amazon-apigateway-integration"]
                uri = spec["uri"]["Fn::Sub"]
                target = (
                    "function"
                    if f"${{{self.function_name}.Arn}}" in uri
                    # AutoPublishAlias: live names the alias resource <function>Aliaslive.
                    else "function alias live"
                    if f"${{{self.function_name}Aliaslive}}" in uri
                    else uri
                )
                integrations.add(f"{spec['type'].upper()} {spec['payloadFormatVersion']} {target}")
        (_, stage) = self.the_one("AWS::ApiGatewayV2::Stage")
        settings = stage.get("DefaultRouteSettings", {})
        throttling = None
        if settings:
            throttling = (
                int(settings["ThrottlingBurstLimit"]),
                int(float(settings["ThrottlingRateLimit"])),
            )
        return Api(
            routes=frozenset(routes),
            integration=single(sorted(integrations)),
            throttling=throttling,
        )

    def uri_accepts(self) -> Callable[[str], bool]:
        pattern = re.compile(self.inputs()["MongoDbUri"]["AllowedPattern"])
        return lambda uri: bool(pattern.fullmatch(uri))


# ---------------------------------------------------------------- CDK


class CdkAdapter(CloudFormationAdapter):
    """The CloudFormation the CDK app synthesized, and its settings module for the context."""

    def __init__(self, stack: RenderedStack, synthesized: dict[str, Any], context: dict[str, str]):
        self.answers = stack.answers
        self.project = stack.project
        self.synthesized = synthesized
        self.context = context

    @property
    def template(self) -> dict[str, Any]:  # type: ignore[override]
        return self.synthesized

    @property
    def resources(self) -> dict[str, Any]:  # type: ignore[override]
        resources: dict[str, Any] = self.synthesized["Resources"]
        return resources

    @cached_property
    def settings(self) -> types.ModuleType:
        return load_cdk_settings(self.project)

    def check(self, **context: Any) -> bool:
        """Whether the app's settings accept the context given over the one synthesized."""
        settings = self.settings
        values = {
            "atlas_project_id": self.context["atlasProjectId"],
            "atlas_cluster_name": self.context["atlasClusterName"],
            "mongodb_uri": self.context["mongodbUri"],
            **context,
        }
        if "atlasNetworkContainerId" in self.context:  # peering
            values.setdefault("atlas_network_container_id", self.context["atlasNetworkContainerId"])
        try:
            settings.Settings(**values)
        except settings.SettingsError:
            return False
        return True

    def role_statements(self) -> Iterator[dict[str, Any]]:
        # A Deny grants nothing: the one the CDK role has keeps the function's code from the
        # ENI actions Lambda uses the role for (tests/test_cdk.py checks it).
        return (s for s in super().role_statements() if s["Effect"] != "Deny")

    def network_resources(self) -> set[str]:
        found = super().network_resources()
        # Peering with the container named by atlasNetworkContainerId (the one the cluster made)
        # uses an Atlas network container as much as creating one does.
        given = self.context.get("atlasNetworkContainerId")
        if any(
            p["ContainerId"] == given
            for p in self.of_type("MongoDB::Atlas::NetworkPeering").values()
        ):
            found.add(CFN_NETWORK_TYPES["MongoDB::Atlas::NetworkContainer"])
        return found

    def package(self) -> str:
        # The asset app.py gives the stack when the CDK CLI runs it (cdk_synth.py passes the
        # same file): PACKAGE_ZIP = Path(__file__).resolve().parents[N] / "..." / "...".
        app = self.project / "infra" / "cdk" / "app.py"
        found = re.search(
            r"^PACKAGE_ZIP = Path\(__file__\)\.resolve\(\)\.parents\[(\d)\]((?: / \"[\w.]+\")+)$",
            app.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
        assert found, "app.py: PACKAGE_ZIP not found"
        path = (
            app.resolve()
            .parents[int(found.group(1))]
            .joinpath(*re.findall(r'"([\w.]+)"', found.group(2)))
        )
        return path.relative_to(self.project.resolve()).as_posix()

    def reserved_concurrency_max(self) -> int:
        return largest_accepted(lambda n: self.check(reserved_concurrency=n))

    def is_uri_input(self, value: Any) -> bool:
        return value == self.context["mongodbUri"]

    def cluster_name(self, value: Any) -> str:
        return CLUSTER_NAME_INPUT if value == self.context["atlasClusterName"] else str(value)

    def project_id(self, value: Any) -> str:
        return PROJECT_ID_INPUT if value == self.context["atlasProjectId"] else str(value)

    def vpc_cidr(self) -> str:
        return self.context.get("vpcCidr") or str(self.settings.Settings.vpc_cidr)

    def password_inputs(self) -> set[str]:
        import dataclasses

        return {
            self.settings.context_key(field.name)
            for field in dataclasses.fields(self.settings.Settings)
            if "password" in field.name and field.type in (str, "str")
        }

    def api(self) -> Api:
        routes = self.of_type("AWS::ApiGatewayV2::Route")
        integrations = self.of_type("AWS::ApiGatewayV2::Integration")
        described = set()
        for integration in integrations.values():
            target = integration["IntegrationUri"]
            kind = "function" if cfn_targets(target) == {self.function_name} else str(target)
            if len(cfn_targets(target)) == 1:
                resource = self.resources.get(next(iter(cfn_targets(target))), {})
                if resource.get("Type") == "AWS::Lambda::Alias":
                    kind = f"function alias {resource['Properties']['Name']}"
            described.add(
                f"{integration['IntegrationType']} {integration['PayloadFormatVersion']} {kind}"
            )
        (_, stage) = self.the_one("AWS::ApiGatewayV2::Stage")
        settings = stage.get("DefaultRouteSettings", {})
        throttling = None
        if settings:
            throttling = (
                int(settings["ThrottlingBurstLimit"]),
                int(settings["ThrottlingRateLimit"]),
            )
        return Api(
            routes=frozenset(r["RouteKey"] for r in routes.values()),
            integration=single(sorted(described)),
            throttling=throttling,
        )

    def uri_accepts(self) -> Callable[[str], bool]:
        return lambda uri: self.check(mongodb_uri=uri, atlas_cluster_name="cluster0")


class _Names:
    """Any attribute is its own name (what settings.py reads of RetentionDays)."""

    def __getattr__(self, name: str) -> str:
        return name


def load_cdk_settings(project: Path) -> types.ModuleType:
    """The rendered CDK app's settings module, loaded without the CDK libraries.

    It uses ``aws_cdk.aws_logs.RetentionDays`` as names only; a stand-in module holds any
    name asked for while the module loads.
    """
    path = project / "infra" / "cdk" / "service_infra" / "settings.py"
    stand_in = types.ModuleType("aws_cdk")
    logs = types.ModuleType("aws_cdk.aws_logs")
    logs.RetentionDays = _Names()  # type: ignore[attr-defined]
    stand_in.aws_logs = logs  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("aws_cdk", "aws_cdk.aws_logs")}
    sys.modules.update({"aws_cdk": stand_in, "aws_cdk.aws_logs": logs})
    try:
        name = f"cdk_settings_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while loading
        spec.loader.exec_module(module)
        return module
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


# ---------------------------------------------------------------- Terraform


class TerraformAdapter(tf.ParsedConfiguration):
    """infra/terraform/*.tf, parsed, with simple expressions evaluated at the defaults."""

    def __init__(self, stack: RenderedStack) -> None:
        self.answers = stack.answers
        self.project = stack.project
        self.folder = stack.project / "infra" / "terraform"

    def evaluator(self, **given: Any) -> hcl_eval.Evaluator:
        values = {
            name: body["default"] for name, body in self.variables.items() if "default" in body
        }
        return hcl_eval.Evaluator({**values, **given}, self.locals)

    def value(self, node: Any, **given: Any) -> Any:
        return self.evaluator(**given).value(node)

    def of_type(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if k.startswith(prefix + ".")}

    def refs(self, node: Any) -> set[str]:
        """What a value refers to ("aws_x.name", "data.x.name", "var.x", "local.x"),
        following locals."""
        text = json.dumps(node)
        found = {
            target if kind == "resource" else f"{kind}.{target}"
            for kind, target in tf.references(text)
            if kind in ("resource", "data", "ephemeral")
        }
        found |= {f"var.{name}" for name in re.findall(r"(?<![\w.])var\.(\w+)", text)}
        for name in re.findall(r"(?<![\w.])local\.(\w+)", text):
            found |= self.refs(self.locals[name])
        return found

    def kind(self, node: Any) -> str:
        refs = self.refs(node)
        table = {
            "aws_secretsmanager_secret.database_user": SECRET,
            "aws_cloudwatch_log_group.function": FUNCTION_LOG_GROUP,
            "aws_iam_role.function": ROLE_ARN,
            "aws_security_group.function": "function",
            "aws_security_group.atlas_endpoint": ATLAS_ENDPOINT,
            "aws_security_group.secretsmanager_endpoint": SECRETS_MANAGER_ENDPOINT,
            "var.vpc_cidr": VPC_CIDR,
            "var.atlas_cluster_name": CLUSTER_NAME_INPUT,
            "var.atlas_project_id": PROJECT_ID_INPUT,
            "aws_eip.nat": NAT_IP,
        }
        if refs & {
            "mongodbatlas_network_container.atlas",
            "data.mongodbatlas_network_containers.aws",
        }:
            return ATLAS_CIDR
        known = {table[r] for r in refs if r in table}
        if len(known) == 1:
            return known.pop()
        value = self.value(node)
        return str(value) if value is not hcl_eval.UNKNOWN else json.dumps(node)

    def function(self) -> Function:
        function = self.resources["aws_lambda_function.api"]
        package = function["filename"].replace("${path.module}", str(self.folder))
        reserved = self.value(function["reserved_concurrent_executions"])
        variables = single(function["environment"])["variables"]
        vpc = single(function["vpc_config"])
        subnets = self.resources["aws_subnet.private"]
        zones = {
            subnets["availability_zone"].replace("count.index", str(index))
            for index in range(subnets["count"])
        }
        log_group = self.resources.get("aws_cloudwatch_log_group.function", {})
        logging = single(function.get("logging_config", [{}]))
        writes_there = self.refs(logging.get("log_group")) == {"aws_cloudwatch_log_group.function"}
        return Function(
            handler=function["handler"],
            handler_defined=handler_defined(self.project, function["handler"]),
            package=Path(package).resolve().relative_to(self.project).as_posix(),
            runtime=self.value(function["runtime"]),
            architecture=single(self.value(function["architectures"])),
            memory_mb=self.value(function["memory_size"]),
            log_retention_days=self.value(log_group["retention_in_days"]) if writes_there else None,
            timeout_s=self.value(function["timeout"]),
            reserved_concurrency=None if reserved == -1 else reserved,
            reserved_concurrency_max=self.largest_valid("reserved_concurrency"),
            environment={
                name: self.environment_value(name, value)
                for name, value in variables.items()
                if not name.startswith("__")
            },
            subnets=subnets["count"] if vpc["subnet_ids"] == "${aws_subnet.private[*].id}" else 0,
            availability_zones=len(zones),
            security_groups=tuple(self.kind(g) for g in vpc["security_group_ids"]),
        )

    def largest_valid(self, variable: str) -> int:
        validations = self.variables[variable].get("validation", [])

        def valid(number: int) -> bool:
            evaluator = self.evaluator(**{variable: number})
            return all(evaluator.value(v["condition"]) is True for v in validations)

        return largest_accepted(valid)

    def environment_value(self, name: str, value: Any) -> str:
        if name == "MONGODB_URI":
            reads = self.refs(value)
            return (
                CONNECTION_STRING
                if any(r.startswith("data.mongodbatlas_") for r in reads)
                else value
            )
        if name == "MONGODB_SECRET_ARN":
            return SECRET_ARN if self.kind(value) == SECRET else json.dumps(value)
        evaluated = self.value(value)
        return str(evaluated) if evaluated is not hcl_eval.UNKNOWN else json.dumps(value)

    def policy_grants(self, document: str) -> set[str]:
        grants = set()
        for statement in as_list(self.data[document]["statement"]):
            if statement.get("effect") == "Deny":
                # Only a Deny on the function's own code (lambda:SourceFunctionArn) is allowed:
                # the role still grants Lambda what it uses itself (test_terraform.py checks it).
                (condition,) = as_list(statement["condition"])
                assert condition["variable"] == "lambda:SourceFunctionArn", statement
                continue
            assert statement.get("effect", "Allow") == "Allow", statement
            for action in statement["actions"]:
                for resource in statement["resources"]:
                    grants.add(grant(action, self.kind(resource)))
        return grants

    def role(self) -> Role:
        role = self.resources["aws_iam_role.function"]
        (document,) = {r[5:] for r in self.refs(role["assume_role_policy"])}
        assume = single(self.data[document]["statement"])
        trusted = {
            identifier
            for principal in as_list(assume["principals"])
            if principal["type"] == "Service"
            for identifier in principal["identifiers"]
        }
        assert assume["actions"] == ["sts:AssumeRole"], assume
        grants: set[str] = set()
        for body in self.of_type("aws_iam_role_policy_attachment").values():
            assert body["role"] == "${aws_iam_role.function.name}", body
            grants |= managed_grants(body["policy_arn"])
        for body in self.of_type("aws_iam_role_policy").values():
            assert body["role"] == "${aws_iam_role.function.id}", body
            (document,) = {
                r[5:] for r in self.refs(body["policy"]) if r.startswith("data.aws_iam_policy")
            }
            grants |= self.policy_grants(document)
        return Role(trusted=frozenset(trusted), grants=frozenset(grants))

    def database_user(self) -> DatabaseUser:
        users = self.of_type("mongodbatlas_database_user")
        (user,) = users.values()
        iam_type = user.get("aws_iam_type", "NONE")
        secret = None
        if "aws_secretsmanager_random_password.database_user" in self.ephemeral:
            generated = self.ephemeral["aws_secretsmanager_random_password.database_user"]
            stored = self.resources["aws_secretsmanager_secret_version.database_user"]
            keys = re.findall(
                r"(\w+) = ephemeral\.aws_secretsmanager_random_password\.database_user",
                stored["secret_string_wo"],
            )
            secret = (single(keys), generated["password_length"])
            if {"secret_string", "secret_binary"} & set(stored):
                secret = (TYPED_IN, 0)
        return DatabaseUser(
            users=len(users),
            project=self.kind(user["project_id"]),
            auth="SCRAM" if iam_type == "NONE" else f"AWS IAM {iam_type}",
            username=self.username(user["username"]),
            auth_database=user["auth_database_name"],
            roles=frozenset(
                (r["role_name"], self.value(r["database_name"])) for r in as_list(user["roles"])
            ),
            scopes=frozenset((s["type"], self.kind(s["name"])) for s in as_list(user["scopes"])),
            password=self.password_source(user),
            secret=secret,
            password_inputs=frozenset(
                name
                for name, body in self.variables.items()
                if "password" in name and body.get("type") == "string"
            ),
            labels=frozenset(label["key"] for label in as_list(user.get("labels", []))),
            atlas_admin_anywhere="atlasAdmin" in json.dumps(self.resources),
        )

    def username(self, value: Any) -> str:
        if self.kind(value) == ROLE_ARN:
            return ROLE_ARN
        stored = self.resources.get("aws_secretsmanager_secret_version.database_user")
        if stored and f"username = {value[2:-1]}" in stored["secret_string_wo"]:
            return SECRET_USERNAME
        return json.dumps(value)

    def password_source(self, user: dict[str, Any]) -> str | None:
        if not {"password", "password_wo", "password_wo_version"} & set(user):
            return None
        if "password" in user:  # stored in plan and state
            return json.dumps(user["password"])
        written = user.get("password_wo")
        read = "ephemeral.aws_secretsmanager_secret_version.database_user.secret_string"
        version = self.ephemeral.get("aws_secretsmanager_secret_version.database_user", {})
        if (
            written == "${jsondecode(" + read + ").password}"
            and self.refs(version.get("secret_id"))
            == {"aws_secretsmanager_secret_version.database_user"}
            and "aws_secretsmanager_secret.database_user"
            in self.refs(self.resources["aws_secretsmanager_secret_version.database_user"])
        ):
            return SECRET_PASSWORD
        return json.dumps(written)

    def network(self) -> Network:
        egress = set()
        for body in self.of_type("aws_vpc_security_group_egress_rule").values():
            if self.kind(body["security_group_id"]) != "function":
                continue
            destination = body.get("cidr_ipv4") or body.get("referenced_security_group_id")
            ports = port_range(body["ip_protocol"], body["from_port"], body["to_port"])
            egress.add(f"{ports} to {self.kind(destination)}")
        function_sg = self.resources["aws_security_group.function"]
        assert "egress" not in function_sg, "inline egress rules: read them too"
        return Network(
            function_egress=frozenset(egress),
            resources=frozenset(self.network_resources()),
            routes=frozenset(self.routes()),
            atlas_access_list=frozenset(
                self.kind(body.get("cidr_block") or body.get("ip_address"))
                for body in self.of_type("mongodbatlas_project_ip_access_list").values()
            ),
        )

    def network_resources(self) -> set[str]:
        found = set()
        for body in self.of_type("aws_vpc_endpoint").values():
            service = json.dumps(body["service_name"])
            kind = "secretsmanager" if "secretsmanager" in service else "Atlas endpoint service"
            found.add(f"interface endpoint to {kind}")
        for prefix, kind in TF_NETWORK_TYPES.items():
            if self.of_type(prefix):
                found.add(kind)
        return found

    def routes(self) -> set[str]:
        found = set()
        for body in self.of_type("aws_route").values():
            where = (
                "private"
                if body["route_table_id"] == "${aws_route_table.private.id}"
                else ("public")
            )
            for key, target in TF_ROUTE_TARGETS.items():
                if key in body:
                    found.add(f"{where}: {self.kind(body['destination_cidr_block'])} via {target}")
        return found

    def api(self) -> Api:
        routes = self.of_type("aws_apigatewayv2_route")
        integrations = self.of_type("aws_apigatewayv2_integration")
        described = set()
        for body in integrations.values():
            target = body["integration_uri"]
            kind = {
                frozenset({"aws_lambda_function.api"}): "function",
                frozenset({"aws_lambda_alias.live"}): "function alias live",
            }.get(frozenset(self.refs(target)), target)
            described.add(f"{body['integration_type']} {body['payload_format_version']} {kind}")
        stage = single(list(self.of_type("aws_apigatewayv2_stage").values()))
        settings = single(stage.get("default_route_settings", [{}]))
        throttling = None
        if settings:
            throttling = (
                self.value(settings["throttling_burst_limit"]),
                self.value(settings["throttling_rate_limit"]),
            )
        return Api(
            routes=frozenset(self.value(r["route_key"]) for r in routes.values()),
            integration=single(sorted(described)),
            throttling=throttling,
        )

    def connection_string(self) -> ConnectionString:
        """Terraform reads the string from Atlas: the attributes it reads are what reach."""
        function = self.resources["aws_lambda_function.api"]
        uri = single(function["environment"])["variables"]["MONGODB_URI"]
        text = self.expanded(uri)
        reaches = {
            kind
            for attribute, kinds in ATLAS_ATTRIBUTES.items()
            if re.search(rf"\b{re.escape(attribute)}\b", text)
            for kind in kinds
        }
        # What the function gets is what Atlas shows, never a value a user typed.
        return ConnectionString(
            source="read from Atlas", reaches=frozenset(reaches), refused=ATLAS_NEVER_SHOWS
        )

    def expanded(self, node: Any) -> Any:
        """``node`` with each ``local.x`` replaced by its expression."""
        text = json.dumps(node)
        for _ in range(10):
            replaced = re.sub(
                r"(?<![\w.])local\.(\w+)",
                lambda m: "(" + json.dumps(self.locals[m.group(1)])[1:-1] + ")",
                text,
            )
            if replaced == text:
                break
            text = replaced
        return text


# Which Atlas SRV strings each connection_strings attribute holds.
ATLAS_ATTRIBUTES = {
    "connection_strings.standard_srv": ("standard", "standard, Atlas for Government"),
    "connection_strings.private_srv": ("-pri",),
    "connection.srv_connection_string": ("-pl-N", "-pl-N, second endpoint"),
    "connection.srv_shard_optimized_connection_string": ("-pl-N-lb",),
}
# Strings Atlas never puts in the attributes Terraform reads: nothing of them can reach.
ATLAS_NEVER_SHOWS = frozenset(REFUSED_EVERYWHERE)
TF_NETWORK_TYPES = {
    "mongodbatlas_privatelink_endpoint": "Atlas private endpoint service",
    "mongodbatlas_privatelink_endpoint_service": "Atlas private endpoint registration",
    "mongodbatlas_network_container": "Atlas network container",
    "mongodbatlas_network_peering": "Atlas network peering",
    "aws_vpc_peering_connection_accepter": "peering accepted in the VPC",
    "aws_internet_gateway": "internet gateway",
    "aws_nat_gateway": "NAT gateway",
    "aws_eip": "Elastic IP",
}
TF_ROUTE_TARGETS = {
    "nat_gateway_id": "NAT gateway",
    "gateway_id": "internet gateway",
    "vpc_peering_connection_id": "peering",
}
