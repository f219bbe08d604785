{%- set auth = cookiecutter.auth_mode -%}
{%- set network = cookiecutter.network_mode -%}
"""The CDK app's stacks: the function, its HTTP API, the VPC and the MongoDB Atlas side.

Generated for "{{ network }}" networking and "{{ auth }}" database authentication.
Deploy-time values (Atlas project id, cluster name, connection string, CIDRs, the Atlas
profile) come from CDK context: ``cdk.json`` or ``-c key=value`` (README.md lists them).
The answers given to the project template (runtime, memory, region, ...) are constants here.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import awscdk_resources_mongodbatlas as atlas
from aws_cdk import (
    Acknowledgment,
    App,
    ArnFormat,
    CfnOutput,
    CfnResource,
{%- if network == "peering" %}
    CustomResource,
{%- endif %}
    Duration,
    Environment,
    RemovalPolicy,
    Stack,
    Tags,
    Token,
    Validations,
)
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
{%- if auth == "password" %}
from aws_cdk import aws_secretsmanager as secretsmanager
{%- endif %}
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

# --- answers given to the project template -------------------------------------------------
STACK_NAME = "{{ cookiecutter.project_slug }}"
AWS_REGION = "{{ cookiecutter.aws_region }}"
DATABASE_NAME = {{ cookiecutter.database_name | tojson }}
HANDLER = "{{ cookiecutter.package_name }}.handler.handler"
RUNTIME = lambda_.Runtime.PYTHON_{{ cookiecutter.python_version | replace(".", "_") }}
ARCHITECTURE = lambda_.Architecture.{{ "ARM_64" if cookiecutter.architecture == "arm64" else "X86_64" }}
MEMORY_MB = {{ cookiecutter.lambda_memory_mb | int }}
TIMEOUT_S = {{ cookiecutter.lambda_timeout_s | int }}
# Caps containers, and so connections to Atlas (each container holds its own small pool).
RESERVED_CONCURRENCY = {{ cookiecutter.reserved_concurrency | int }}
{%- if network == "peering" %}
# Atlas names AWS regions its own way (us-east-1 -> US_EAST_1).
ATLAS_REGION = "{{ cookiecutter.aws_region | upper | replace('-', '_') }}"
{%- endif %}

# The CloudFormation extensions MongoDB publishes (third-party public types).
ATLAS_PUBLISHER_ID = "bb989456c78c398a858fef18f2ca1bfc1fbba082"
ATLAS_TYPES = (
    "MongoDB::Atlas::DatabaseUser",
{%- if network == "private_endpoint" %}
    "MongoDB::Atlas::PrivateEndpointService",
    "MongoDB::Atlas::PrivateEndpointAWS",
{%- elif network == "peering" %}
    "MongoDB::Atlas::ProjectIpAccessList",
    "MongoDB::Atlas::NetworkContainer",
    "MongoDB::Atlas::NetworkPeering",
{%- else %}
    "MongoDB::Atlas::ProjectIpAccessList",
{%- endif %}
)
# MongoDB's ports: 27017 (replica set members), 27016 (mongos of sharded clusters), 27015.
MONGODB_PORTS = ec2.Port.tcp_range(27015, 27017)
{%- if network == "private_endpoint" %}
# Behind a private endpoint Atlas maps every cluster node to its own port.
PRIVATE_ENDPOINT_PORTS = ec2.Port.tcp_range(1024, 65535)
{%- endif %}

# One JSON line per request in the HTTP API's access log.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "error": "$context.integrationErrorMessage",
}

HERE = Path(__file__).resolve().parent
PACKAGE_ZIP = HERE.parent.parent / "dist" / "lambda.zip"
# The custom resource that accepts the VPC peering request (shared with the SAM stack).
PEERING_ACCEPTER = HERE.parent / "peering_accepter"


# --- deploy-time settings (CDK context) -----------------------------------------------------
class SettingsError(ValueError):
    """A context value is missing or malformed; the message names the key and the fix."""


PROJECT_ID = r"[0-9a-f]{24}"
CLUSTER_NAME = r"[A-Za-z0-9][A-Za-z0-9-]{0,63}"
PROFILE = r"[A-Za-z0-9_.-]{1,64}"
{%- if auth == "password" %}
USERNAME = r"[A-Za-z0-9._-]{1,64}"
{%- endif %}
# The retention periods CloudWatch Logs offers, in days.
LOG_RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
{%- if network == "private_endpoint" %}
# The private endpoint SRV string: the cluster's host label ends in -pl-<n>.
URI_PATTERN = re.compile(r"mongodb\+srv://[a-z0-9-]+-pl-[0-9]+\.[a-z0-9]+\.mongodb(gov)?\.net/?")
URI_HINT = "the private endpoint SRV string Atlas shows, e.g. mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
{%- elif network == "peering" %}
# The private (peering) SRV string: the cluster's host label ends in -pri.
URI_PATTERN = re.compile(r"mongodb\+srv://[a-z0-9-]+-pri\.[a-z0-9]+\.mongodb(gov)?\.net/?")
URI_HINT = "the private (peering) SRV string Atlas shows, e.g. mongodb+srv://cluster0-pri.ab1cd.mongodb.net"
{%- else %}
# The standard SRV string (public host names, reached through the NAT gateway); not the
# private endpoint (-pl-<n>) or peering (-pri) strings, whose names resolve to private addresses.
URI_PATTERN = re.compile(
    r"mongodb\+srv://(?![a-z0-9-]*-(pri|pl-[0-9]+)\.)[a-z0-9-]+\.[a-z0-9]+\.mongodb(gov)?\.net/?"
)
URI_HINT = "the standard SRV string Atlas shows, e.g. mongodb+srv://cluster0.ab1cd.mongodb.net"
{%- endif %}


@dataclass(frozen=True)
class Settings:
    """What the stack needs to know about your Atlas project and network."""

    atlas_project_id: str
    atlas_cluster_name: str
    mongodb_uri: str
    atlas_profile: str = "default"
    vpc_cidr: str = "10.0.0.0/16"
    log_retention_days: int = 30
    # MongoDB::Atlas types this account already activated: the extensions stack skips them.
    atlas_types_already_active: tuple[str, ...] = ()
{%- if network == "peering" %}
    atlas_cidr_block: str = "192.168.248.0/21"
    # Empty: the stack creates the Atlas network container for the region.
    atlas_network_container_id: str = ""
{%- endif %}
{%- if auth == "password" %}
    database_username: str = "{{ cookiecutter.project_slug }}-app"
{%- endif %}

    def __post_init__(self) -> None:
        _check("atlasProjectId", self.atlas_project_id, PROJECT_ID, "the 24-hex-digit project id")
        _check("atlasClusterName", self.atlas_cluster_name, CLUSTER_NAME, "the cluster's name")
        _check_uri(self.mongodb_uri)
        _check("atlasProfile", self.atlas_profile, PROFILE, "<name> of cfn/atlas/profile/<name>")
{%- if network == "peering" %}
        vpc = _network("vpcCidr", self.vpc_cidr, 16, 20)
        atlas_cidr = _network("atlasCidrBlock", self.atlas_cidr_block, 21, 24)
        if vpc.overlaps(atlas_cidr):
            raise SettingsError(
                f"atlasCidrBlock={self.atlas_cidr_block} overlaps vpcCidr={self.vpc_cidr}: "
                "peered networks must not overlap"
            )
        if self.atlas_network_container_id:
            _check(
                "atlasNetworkContainerId",
                self.atlas_network_container_id,
                PROJECT_ID,
                "empty, or the 24-hex-digit id of the project's AWS network container",
            )
{%- else %}
        _network("vpcCidr", self.vpc_cidr, 16, 20)
{%- endif %}
        unknown = sorted(set(self.atlas_types_already_active) - set(ATLAS_TYPES))
        if unknown:
            raise SettingsError(
                f"atlasTypesAlreadyActive: {unknown} are not among {list(ATLAS_TYPES)}"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
            raise SettingsError(
                f"logRetentionDays={self.log_retention_days}: choose one of {allowed}"
            )
{%- if auth == "password" %}
        _check("databaseUsername", self.database_username, USERNAME, "letters, digits, . _ or -")
{%- endif %}

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> Settings:
        """Read the settings from CDK context (``app.node.try_get_context``)."""

        def text(key: str, default: str | None = None) -> str:
            value = lookup(key)
            if value is None or value == "":
                if default is None:
                    raise SettingsError(
                        f"{key} is not set: put it in cdk.json's context or pass -c {key}=..."
                    )
                return default
            return str(value).strip()

        defaults = cls.__dataclass_fields__
        retention = text("logRetentionDays", str(defaults["log_retention_days"].default))
        active = lookup("atlasTypesAlreadyActive") or ()
        if isinstance(active, str):  # -c atlasTypesAlreadyActive=A,B on the command line
            active = [name.strip() for name in active.split(",") if name.strip()]
        if not retention.isdigit():
            raise SettingsError(f"logRetentionDays={retention!r}: must be a whole number of days")
        return cls(
            atlas_project_id=text("atlasProjectId"),
            atlas_cluster_name=text("atlasClusterName"),
            mongodb_uri=text("mongodbUri"),
            atlas_profile=text("atlasProfile", str(defaults["atlas_profile"].default)),
            vpc_cidr=text("vpcCidr", str(defaults["vpc_cidr"].default)),
            log_retention_days=int(retention),
            atlas_types_already_active=tuple(str(name) for name in active),
{%- if network == "peering" %}
            atlas_cidr_block=text("atlasCidrBlock", str(defaults["atlas_cidr_block"].default)),
            atlas_network_container_id=text("atlasNetworkContainerId", ""),
{%- endif %}
{%- if auth == "password" %}
            database_username=text("databaseUsername", str(defaults["database_username"].default)),
{%- endif %}
        )


def _check(key: str, value: str, pattern: str, expected: str) -> None:
    if not re.fullmatch(pattern, value):
        raise SettingsError(f"{key}={value!r}: expected {expected}")


def _network(key: str, value: str, widest: int, narrowest: int) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as error:
        raise SettingsError(f"{key}={value!r}: not an IPv4 CIDR block ({error})") from None
    if not widest <= network.prefixlen <= narrowest or not network.is_private:
        raise SettingsError(
            f"{key}={value!r}: expected a private CIDR block from /{widest} to /{narrowest}"
        )
    return network


def _check_uri(uri: str) -> None:
    # Never echo the value: a pasted string may hold a password.
    if "@" in uri or "?" in uri:
        raise SettingsError(
            "mongodbUri holds credentials or options: paste the plain string Atlas shows, "
            "without user, password or ?options (the function adds what it needs)"
        )
    if not URI_PATTERN.fullmatch(uri):
        raise SettingsError(f"mongodbUri is not {URI_HINT}")


# --- helpers ----------------------------------------------------------------------------------
def acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``construct``, with the reason on record."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


AtlasResource = TypeVar("AtlasResource", bound=CfnResource)


def wildcard_finding(stack: Stack, arn: str) -> str:
    """The cdk-nag finding id of a wildcard resource ``arn`` (made with ``stack.format_arn``)."""
    shown = arn
    for token, name in (
        (stack.partition, "<AWS::Partition>"),
        (stack.region, "<AWS::Region>"),
        (stack.account, "<AWS::AccountId>"),
    ):
        if Token.is_unresolved(token):
            shown = shown.replace(token, name)
    return f"AwsSolutions-IAM5[Resource::{shown}]"


def third_party(resource: AtlasResource) -> AtlasResource:
    """Tell cfn-lint that a MongoDB::Atlas type comes from the CloudFormation registry."""
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3006"]}})
    return resource


def log_group(scope: Construct, construct_id: str, retention_days: int) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION_DAYS[retention_days],
        removal_policy=RemovalPolicy.DESTROY,
    )


def function_role(
    scope: Construct, construct_id: str, logs_to: logs.LogGroup, *, in_vpc: bool
) -> iam.Role:
    """An execution role that may write its own log group and, in a VPC, manage its ENIs."""
    statements = [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[logs_to.log_group_arn],
        )
    ]
    if in_vpc:
        statements.append(
            iam.PolicyStatement(
                sid="ManageVpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={"Execution": iam.PolicyDocument(statements=statements)},
    )
    if in_vpc:
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda creates and deletes the function's network interfaces in the VPC with these "
            "EC2 actions, which do not support resource-level permissions (the same actions as "
            "the AWS managed AWSLambdaVPCAccessExecutionRole, without its logs:* on every group).",
        )
    return role


# --- the service ------------------------------------------------------------------------------
class ServiceStack(Stack):
    """VPC, function, HTTP API and the Atlas resources for {{ network }} / {{ auth }}."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        package_zip: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        profile = settings.atlas_profile
        project_id = settings.atlas_project_id

        # ------------------------------------------------------------ network
        flow_logs = log_group(self, "VpcFlowLogs", settings.log_retention_days)
{%- if network == "nat" %}
        # The one address Atlas admits: allocated here so the access list can name it.
        nat_ip = ec2.CfnEIP(self, "NatElasticIp", domain="vpc")
        Tags.of(nat_ip).add("Name", f"{STACK_NAME}-nat")
{%- endif %}
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(settings.vpc_cidr),
            max_azs=2,
            enable_dns_hostnames=True,
            enable_dns_support=True,
{%- if network == "nat" %}
            nat_gateways=1,
            nat_gateway_provider=ec2.NatProvider.gateway(
                eip_allocation_ids=[nat_ip.attr_allocation_id]
            ),
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ],
{%- else %}
            # No internet gateway and no NAT: the function reaches Atlas privately.
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
{%- endif %}
            # The default security group is attached to nothing; leaving it as AWS creates it
            # avoids a custom resource that would only strip its rules.
            restrict_default_security_group=False,
            flow_logs={
                "FlowLog": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
{%- if network == "nat" %}
        private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
{%- else %}
        private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
{%- endif %}

        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
{%- if auth == "password" %}
            description="The function: no inbound; outbound only to Atlas and Secrets Manager",
{%- else %}
            description="The function: no inbound; outbound only to MongoDB Atlas",
{%- endif %}
            allow_all_outbound=False,
        )
        function_sg = self.function_security_group

        # ------------------------------------------------------------ function
        function_logs = log_group(self, "FunctionLogs", settings.log_retention_days)
        self.function_role = function_role(self, "FunctionRole", function_logs, in_vpc=True)
        environment = {
            "MONGODB_URI": settings.mongodb_uri,
            "MONGODB_DATABASE": DATABASE_NAME,
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        }
{%- if auth == "password" %}

        # ------------------------------------------------------------ Secrets Manager
        self.secret = secretsmanager.Secret(
            self,
            "DatabaseUserSecret",
            description=f"Username and password of the MongoDB Atlas database user of {STACK_NAME}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": settings.database_username}),
                generate_string_key="password",
                password_length=40,
                exclude_punctuation=True,
            ),
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Rotating this password means changing the Atlas database user too, which needs a "
            "rotation function calling the Atlas Admin API; README.md describes rotation. The "
            "function re-reads the secret when Atlas rejects the password.",
        )
        environment["MONGODB_SECRET_ARN"] = self.secret.secret_arn
        # The function reads the secret through an interface endpoint in the VPC, so its
        # security group needs no way to the internet for it.
        secrets_endpoint_sg = ec2.SecurityGroup(
            self,
            "SecretsManagerEndpointSecurityGroup",
            vpc=self.vpc,
            description="Secrets Manager interface endpoint; only the function may connect",
            allow_all_outbound=False,
        )
        secrets_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=private_subnets,
            security_groups=[secrets_endpoint_sg],
            private_dns_enabled=True,
            open=False,
        )
        secrets_endpoint.connections.allow_default_port_from(
            function_sg, "HTTPS from the function to Secrets Manager"
        )
{%- endif %}

        self.function = lambda_.Function(
            self,
            "Function",
            description=f"{STACK_NAME} API",
            # The zip `make package` builds: code and dependencies, without boto3/botocore.
            code=lambda_.Code.from_asset(str(package_zip)),
            handler=HANDLER,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(TIMEOUT_S),
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            role=self.function_role,
            log_group=function_logs,
            vpc=self.vpc,
            vpc_subnets=private_subnets,
            security_groups=[function_sg],
            environment=environment,
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"The runtime ({RUNTIME.name}) was chosen when the project was generated and matches "
            "the deployment package `make package` builds; change both together.",
        )
{%- if auth == "password" %}
        self.secret.grant_read(self.function)
{%- endif %}

        # ------------------------------------------------------------ Atlas network side
{%- if network == "private_endpoint" %}
        endpoint_sg = ec2.SecurityGroup(
            self,
            "AtlasEndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoint to Atlas; only the function may connect",
            allow_all_outbound=False,
        )
        service = third_party(
            atlas.CfnPrivateEndpointService(
                self,
                "AtlasPrivateEndpointService",
                project_id=project_id,
                profile=profile,
                region=AWS_REGION,
                cloud_provider=atlas.CfnPrivateEndpointServicePropsCloudProvider.AWS,
            )
        )
        self.atlas_endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "AtlasVpcEndpoint",
            vpc=self.vpc,
            service=ec2.InterfaceVpcEndpointService(service.attr_endpoint_service_name),
            subnets=private_subnets,
            security_groups=[endpoint_sg],
            # Atlas publishes the private endpoint host names in its own DNS zone.
            private_dns_enabled=False,
            open=False,
        )
        self.atlas_endpoint.connections.allow_from(
            function_sg,
            PRIVATE_ENDPOINT_PORTS,
            "MongoDB over AWS PrivateLink from the function (Atlas maps each node to a port)",
        )
        third_party(
            atlas.CfnPrivateEndpointAws(
                self,
                "AtlasPrivateEndpoint",
                project_id=project_id,
                profile=profile,
                endpoint_service_id=service.attr_id,
                id=self.atlas_endpoint.vpc_endpoint_id,
                enforce_connection_success=True,
            )
        )
{%- elif network == "peering" %}
        atlas_cidr = settings.atlas_cidr_block
        function_sg.add_egress_rule(
            ec2.Peer.ipv4(atlas_cidr), MONGODB_PORTS, "MongoDB Atlas nodes in the peered Atlas VPC"
        )
        container_id = settings.atlas_network_container_id
        if not container_id:
            container = atlas.CfnNetworkContainer(
                self,
                "AtlasNetworkContainer",
                project_id=project_id,
                profile=profile,
                region_name=ATLAS_REGION,
                atlas_cidr_block=atlas_cidr,
            )
            # Atlas refuses to delete a container that a cluster uses: keep it with the stack gone.
            container.apply_removal_policy(RemovalPolicy.RETAIN)
            third_party(container)
            container_id = container.attr_id
        peering = atlas.CfnNetworkPeering(
            self,
            "AtlasNetworkPeering",
            project_id=project_id,
            profile=profile,
            container_id=container_id,
            vpc_id=self.vpc.vpc_id,
            aws_account_id=self.account,
            accepter_region_name=AWS_REGION,
            route_table_cidr_block=settings.vpc_cidr,
        )
        third_party(peering)
        connection_id = self._accept_peering(peering, atlas_cidr, settings.log_retention_days)
        for index, subnet in enumerate(self.vpc.isolated_subnets, start=1):
            ec2.CfnRoute(
                self,
                f"AtlasPeeringRoute{index}",
                route_table_id=subnet.route_table.route_table_id,
                destination_cidr_block=atlas_cidr,
                vpc_peering_connection_id=connection_id,
            )
        self.access_list = atlas.CfnProjectIpAccessList(
            self,
            "AtlasAccessList",
            project_id=project_id,
            profile=profile,
            access_list=[
                atlas.AccessListDefinition(
                    cidr_block=settings.vpc_cidr, comment=f"VPC of stack {STACK_NAME} (peered)"
                )
            ],
        )
        third_party(self.access_list)
{%- else %}
        function_sg.add_egress_rule(
            ec2.Peer.any_ipv4(),
            MONGODB_PORTS,
            "MongoDB Atlas nodes on their public addresses, through the NAT gateway "
            "(Atlas admits only its Elastic IP)",
        )
        self.access_list = atlas.CfnProjectIpAccessList(
            self,
            "AtlasAccessList",
            project_id=project_id,
            profile=profile,
            access_list=[
                atlas.AccessListDefinition(
                    cidr_block=f"{nat_ip.attr_public_ip}/32",
                    comment=f"NAT gateway of stack {STACK_NAME}",
                )
            ],
        )
        third_party(self.access_list)
{%- endif %}

        # ------------------------------------------------------------ Atlas database user
{%- if auth == "iam" %}
        # The function authenticates as its execution role (MONGODB-AWS): no password anywhere.
        self.database_user = atlas.CfnDatabaseUser(
            self,
            "AtlasDatabaseUser",
            project_id=project_id,
            profile=profile,
            description=f"Lambda execution role of stack {STACK_NAME} (MONGODB-AWS)",
            username=self.function_role.role_arn,
            awsiam_type=atlas.CfnDatabaseUserPropsAwsiamType.ROLE,
            database_name="$external",
            roles=[atlas.RoleDefinition(role_name="readWrite", database_name=DATABASE_NAME)],
            scopes=[
                atlas.ScopeDefinition(
                    name=settings.atlas_cluster_name, type=atlas.ScopeDefinitionType.CLUSTER
                )
            ],
        )
{%- else %}
        self.database_user = atlas.CfnDatabaseUser(
            self,
            "AtlasDatabaseUser",
            project_id=project_id,
            profile=profile,
            description=f"SCRAM user of stack {STACK_NAME}; password in Secrets Manager",
            username=settings.database_username,
            # A dynamic reference ({% raw %}{{resolve:secretsmanager:...}}{% endraw %}): CloudFormation
            # resolves it while deploying; neither the template nor the stack holds the password.
            password=self.secret.secret_value_from_json("password").unsafe_unwrap(),
            database_name="admin",
            roles=[atlas.RoleDefinition(role_name="readWrite", database_name=DATABASE_NAME)],
            scopes=[
                atlas.ScopeDefinition(
                    name=settings.atlas_cluster_name, type=atlas.ScopeDefinitionType.CLUSTER
                )
            ],
        )
{%- endif %}
        third_party(self.database_user)

        # ------------------------------------------------------------ HTTP API
        self.api = apigw.HttpApi(
            self,
            "HttpApi",
            description=f"{STACK_NAME} HTTP API",
            create_default_stage=False,
        )
        integration = integrations.HttpLambdaIntegration("Function", self.function)
        for path, method in (
            ("/health", apigw.HttpMethod.GET),
            ("/items", apigw.HttpMethod.POST),
            ("/items/{id}", apigw.HttpMethod.GET),
        ):
            for route in self.api.add_routes(path=path, methods=[method], integration=integration):
                acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    "The example API is public like the function it fronts; add an IAM or JWT "
                    "authorizer before real data goes behind it (README.md).",
                )
        access_logs = log_group(self, "ApiAccessLogs", settings.log_retention_days)
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            # A burst never needs more containers than the reserved concurrency allows.
            throttle=apigw.ThrottleSettings(
                burst_limit=RESERVED_CONCURRENCY, rate_limit=RESERVED_CONCURRENCY * 10
            ),
        )
        stage = cast(apigw.CfnStage, self.stage.node.default_child)
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )

        # ------------------------------------------------------------ outputs
        CfnOutput(self, "ApiUrl", value=self.stage.url, description="Base URL of the HTTP API")
        CfnOutput(self, "FunctionName", value=self.function.function_name)
        CfnOutput(self, "FunctionLogGroup", value=function_logs.log_group_name)
        CfnOutput(self, "FunctionRoleArn", value=self.function_role.role_arn)
{%- if auth == "password" %}
        CfnOutput(self, "DatabaseUserSecretArn", value=self.secret.secret_arn)
{%- endif %}
{%- if network == "nat" %}
        CfnOutput(self, "NatPublicIp", value=nat_ip.attr_public_ip)
{%- elif network == "private_endpoint" %}
        CfnOutput(self, "AtlasVpcEndpointId", value=self.atlas_endpoint.vpc_endpoint_id)
{%- elif network == "peering" %}
        CfnOutput(self, "VpcPeeringConnectionId", value=connection_id)
{%- endif %}
{%- if network == "peering" %}

    def _accept_peering(
        self, peering: atlas.CfnNetworkPeering, atlas_cidr: str, retention_days: int
    ) -> str:
        """Accept the peering request Atlas sends; return the peering connection's id.

        CloudFormation has no resource that accepts a request another account made, so a
        small custom resource (peering_accepter.py) finds the request and accepts it.
        """
        accepter_logs = log_group(self, "PeeringAccepterLogs", retention_days)
        role = function_role(self, "PeeringAccepterRole", accepter_logs, in_vpc=False)
        vpc_arn = self.format_arn(service="ec2", resource="vpc", resource_name=self.vpc.vpc_id)
        peerings = self.format_arn(
            service="ec2", resource="vpc-peering-connection", resource_name="*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FindThePeeringRequest",
                actions=["ec2:DescribeVpcPeeringConnections"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AcceptPeeringIntoThisVpcOnly",
                actions=["ec2:AcceptVpcPeeringConnection"],
                resources=[peerings],
                conditions={"StringEquals": {"ec2:AccepterVpc": vpc_arn}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TheAccepterVpc",
                actions=["ec2:AcceptVpcPeeringConnection"],
                resources=[vpc_arn],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeVpcPeeringConnections supports no resource-level permissions.",
        )
        acknowledge(
            role,
            wildcard_finding(self, peerings),
            "The peering connection's id is known only once Atlas requests it; the condition "
            "limits acceptance to connections into this stack's VPC.",
        )
        accepter = lambda_.Function(
            self,
            "PeeringAccepter",
            description="Accepts the VPC peering request MongoDB Atlas sends to this stack's VPC",
            code=lambda_.Code.from_asset(
                str(PEERING_ACCEPTER), exclude=["*", ".*", "!peering_accepter.py"]
            ),
            handler="peering_accepter.handler",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=128,
            timeout=Duration.minutes(5),
            role=role,
            log_group=accepter_logs,
        )
        acknowledge(
            accepter,
            "AwsSolutions-L1",
            f"Runs on the project's runtime ({RUNTIME.name}) like the function itself.",
        )
        resource = CustomResource(
            self,
            "AtlasPeeringAccepter",
            service_token=accepter.function_arn,
            resource_type="Custom::AtlasPeeringAccepter",
            properties={
                "AtlasPeeringId": peering.attr_id,
                "VpcId": self.vpc.vpc_id,
                "AtlasCidrBlock": atlas_cidr,
            },
        )
        return resource.get_att_string("VpcPeeringConnectionId")
{%- endif %}


# --- one-time prerequisite: the Atlas CloudFormation extensions ----------------------------
class AtlasExtensionsStack(Stack):
    """Activates the MongoDB::Atlas types the service uses, with the role they run as.

    Deploy it once per account and region, before the service stack. Activating a type the
    account already activated fails: list those in ``already_active`` (README.md).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        atlas_profile: str,
        already_active: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        profile_secrets = self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"cfn/atlas/profile/{atlas_profile}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadTheAtlasApiKey",
                actions=["secretsmanager:GetSecretValue"],
                resources=[profile_secrets],
            )
        ]
{%- if network == "private_endpoint" %}
        # MongoDB::Atlas::PrivateEndpointService declares these handler permissions.
        ec2_anything = self.format_arn(service="ec2", resource="*")
        statements += [
            iam.PolicyStatement(
                sid="ManageInterfaceEndpoints",
                actions=["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"],
                resources=[ec2_anything],
            ),
            iam.PolicyStatement(
                sid="DescribeInterfaceEndpoints",
                actions=["ec2:DescribeVpcEndpoints"],
                resources=["*"],
            ),
        ]
{%- endif %}
        role = iam.Role(
            self,
            "ExtensionExecutionRole",
            description="Assumed by the MongoDB Atlas extensions to call the Atlas Admin API",
            assumed_by=iam.ServicePrincipal(
                "resources.cloudformation.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            max_session_duration=Duration.seconds(8400),
            inline_policies={"AtlasExtensions": iam.PolicyDocument(statements=statements)},
        )
        acknowledge(
            role,
            wildcard_finding(self, profile_secrets),
            "Secrets Manager appends a random suffix to every secret's ARN; the prefix names "
            "exactly the Atlas profile secret.",
        )
{%- if network == "private_endpoint" %}
        acknowledge(
            role,
            wildcard_finding(self, ec2_anything),
            "The private endpoint service handler declares ec2:CreateVpcEndpoint and "
            "ec2:DeleteVpcEndpoints; endpoints it manages do not exist before it runs.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeVpcEndpoints supports no resource-level permissions.",
        )
{%- endif %}
        for type_name in (t for t in ATLAS_TYPES if t not in already_active):
            cloudformation.CfnTypeActivation(
                self,
                "Activate" + type_name.rsplit("::", 1)[1],
                type="RESOURCE",
                type_name=type_name,
                publisher_id=ATLAS_PUBLISHER_ID,
                execution_role_arn=role.role_arn,
            )
        CfnOutput(self, "ExecutionRoleArn", value=role.role_arn)


# --- the app ----------------------------------------------------------------------------------
EXTENSIONS_STACK_NAME = "mongodb-atlas-extensions"


def build(app: App, package_zip: Path = PACKAGE_ZIP) -> ServiceStack:
    """Add both stacks and the cdk-nag AwsSolutions checks to ``app``."""
    settings = Settings.from_context(app.node.try_get_context)
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=AWS_REGION)
    stack = ServiceStack(
        app,
        STACK_NAME,
        settings=settings,
        package_zip=package_zip,
        env=env,
        description=f"{STACK_NAME}: Lambda function behind an HTTP API on MongoDB Atlas "
        "({{ network }}, {{ auth }} auth)",
    )
    AtlasExtensionsStack(
        app,
        EXTENSIONS_STACK_NAME,
        atlas_profile=settings.atlas_profile,
        already_active=settings.atlas_types_already_active,
        env=env,
        description="MongoDB Atlas CloudFormation extensions and the role they run as",
    )
    Tags.of(app).add("project", STACK_NAME)
    # Synthesis fails on any finding that is neither fixed nor acknowledged with a reason.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )
    return stack
