{%- set snapstart = cookiecutter.cold_start == "snapstart" -%}
"""The Lambda function: the code `make package` built, in the VPC's private subnets."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .network import Network
from .settings import DATABASE_NAME, STACK_NAME, Settings
from .support import acknowledge, log_group, stack_output

# --- answers given to the project template ---------------------------------------------------
HANDLER = "{{ cookiecutter.package_name }}.handler.handler"
RUNTIME = lambda_.Runtime.PYTHON_{{ cookiecutter.python_version | replace(".", "_") }}
ARCHITECTURE = lambda_.Architecture.{{ "ARM_64" if cookiecutter.architecture == "arm64" else "X86_64" }}
MEMORY_MB = {{ cookiecutter.lambda_memory_mb | int }}
# The function's timeout, and the FUNCTION_TIMEOUT_S it reads to bound its own waits.
TIMEOUT_S = {{ cookiecutter.lambda_timeout_s | int }}
# What Lambda does with the role of a function in a VPC: its network interfaces.
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


class ServiceFunction(Construct):
    """The function, its log group and an execution role that may do nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        network: Network,
        package_zip: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "Logs", settings.log_retention_days)
        self.role = execution_role(self, "Role", self.log_group, vpc_function=STACK_NAME)
        self.function = lambda_.Function(
            self,
            "Function",
            # The name the alarms and the logs go by (alarms.py).
            function_name=STACK_NAME,
            description=f"{STACK_NAME} API",
            # The zip `make package` builds: code and dependencies, without boto3/botocore.
            code=lambda_.Code.from_asset(str(package_zip)),
            handler=HANDLER,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(TIMEOUT_S),
            # None reserves nothing: the account's unreserved pool then caps containers.
            reserved_concurrent_executions=settings.reserved_concurrency or None,
{%- if snapstart %}
            # Lambda snapshots each published version after INIT; the alias `live` serves them
            # (cold_start_snapstart.py).
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
{%- endif %}
            role=self.role,
            log_group=self.log_group,
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.function_security_group],
            environment={
                "MONGODB_URI": settings.mongodb_uri,
                "MONGODB_DATABASE": DATABASE_NAME,
                "FUNCTION_TIMEOUT_S": str(TIMEOUT_S),
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                # The service dimension and namespace of the app's metrics: what alarms.py reads.
                "POWERTOOLS_SERVICE_NAME": STACK_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": STACK_NAME,
            },
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"The runtime ({RUNTIME.name}) was chosen when the project was generated and matches "
            "the deployment package `make package` builds; change both together.",
        )
        stack_output(self, "FunctionName", self.function.function_name)
        stack_output(self, "FunctionLogGroup", self.log_group.log_group_name)
        stack_output(self, "FunctionRoleArn", self.role.role_arn)


def execution_role(
    scope: Construct,
    construct_id: str,
    logs_to: logs.LogGroup,
    *,
    vpc_function: str | None = None,
) -> iam.Role:
    """An execution role that may write its own log group.

    ``vpc_function`` is the name of the function the role runs in a VPC: Lambda then manages the
    function's network interfaces with the role, and the function's code may not.
    """
    statements = [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[logs_to.log_group_arn],
        )
    ]
    if vpc_function:
        statements += network_interface_statements(scope, vpc_function)
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={"Execution": iam.PolicyDocument(statements=statements)},
    )
    if vpc_function:
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda creates and deletes the function's network interfaces in the VPC with these "
            "EC2 actions, which do not support resource-level permissions (the same actions as "
            "the AWS managed AWSLambdaVPCAccessExecutionRole, without its logs:* on every group).",
        )
    return role


def network_interface_statements(scope: Construct, function_name: str) -> list[iam.PolicyStatement]:
    """Lambda may manage the function's network interfaces; the function's own code may not.

    The credentials Lambda gives the function carry the role's permissions. Lambda adds the
    condition key lambda:SourceFunctionArn to every AWS request made from inside the function's
    execution environment, and not to the EC2 calls it makes itself, outside it, to create the
    function's network interfaces (AWS Lambda Developer Guide, "Using source function ARN to
    control function access behavior":
    https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html). So a
    Deny on these actions conditioned on the key stops the code and leaves Lambda's ENIs alone.
    The key takes ARN condition operators; the ARN is built from the function's fixed name, not
    read from the function, which would make the role depend on the function that uses it.
    """
    function_arn = Stack.of(scope).format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return [
        iam.PolicyStatement(
            sid="ManageVpcNetworkInterfaces",
            actions=list(NETWORK_INTERFACE_ACTIONS),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="NotFromTheFunctionCode",
            effect=iam.Effect.DENY,
            actions=list(NETWORK_INTERFACE_ACTIONS),
            resources=["*"],
            # The function itself, or any of its versions and aliases (function:<name>:<qualifier>).
            conditions={
                "ArnLike": {"lambda:SourceFunctionArn": [function_arn, f"{function_arn}:*"]}
            },
        ),
    ]
