"""One-time prerequisite per account and region: the MongoDB::Atlas CloudFormation extensions.

Every project generated from this template deploys this same stack under the same name,
whatever its network mode, and so does the SAM variant (its atlas-extensions.yaml holds the
same resources under the same logical ids). It activates every type any of them declares and
lets the extensions read every Atlas profile (``cfn/atlas/profile/*``): a second project
deploying it changes nothing, so it can neither deactivate a type nor narrow the profiles
another project's stack relies on.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnOutput, CfnResource, Duration, Stack
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_iam as iam
from constructs import Construct

from .support import acknowledge, wildcard_finding

EXTENSIONS_STACK_NAME = "mongodb-atlas-extensions"
EXTENSIONS_DESCRIPTION = (
    "MongoDB Atlas CloudFormation extensions (third-party public types) and their execution role"
)
# MongoDB's publisher id in the CloudFormation registry.
ATLAS_PUBLISHER_ID = "bb989456c78c398a858fef18f2ca1bfc1fbba082"
# Every MongoDB::Atlas type a project generated from this template declares.
ATLAS_TYPES = (
    "MongoDB::Atlas::DatabaseUser",
    "MongoDB::Atlas::ProjectIpAccessList",
    "MongoDB::Atlas::NetworkContainer",
    "MongoDB::Atlas::NetworkPeering",
    "MongoDB::Atlas::PrivateEndpointService",
    "MongoDB::Atlas::PrivateEndpointAWS",
    "MongoDB::Atlas::AlertConfiguration",
)


class AtlasExtensionsStack(Stack):
    """The role the extensions run as, and the activation of every type."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Each stack names its profile (its resources' Profile property); by the extensions'
        # convention only Atlas API keys for them live under this prefix.
        profiles = self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name="cfn/atlas/profile/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        anything_ec2 = self.format_arn(service="ec2", resource="*")
        statements = [
            iam.PolicyStatement(
                sid="ReadTheAtlasApiKeys",
                actions=["secretsmanager:GetSecretValue"],
                resources=[profiles],
            ),
            # MongoDB::Atlas::PrivateEndpointService declares these handler permissions.
            iam.PolicyStatement(
                sid="ManageInterfaceEndpoints",
                actions=["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"],
                resources=[anything_ec2],
            ),
            iam.PolicyStatement(
                sid="DescribeInterfaceEndpoints",
                actions=["ec2:DescribeVpcEndpoints"],
                resources=["*"],
            ),
        ]
        role = iam.Role(
            self,
            "ExtensionExecutionRole",
            description="Assumed by the MongoDB Atlas CloudFormation extensions while they call "
            "the Atlas Administration API",
            assumed_by=iam.ServicePrincipal(
                "resources.cloudformation.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            max_session_duration=Duration.seconds(8400),
            inline_policies={"ReadAtlasProfiles": iam.PolicyDocument(statements=statements)},
        )
        _same_id_as_sam(role.node.default_child, "ExtensionExecutionRole")
        acknowledge(
            role,
            wildcard_finding(self, profiles),
            "Every Atlas profile secret (cfn/atlas/profile/<name>), and nothing else: each "
            "stack's resources name their own profile, and one shared role serves them all.",
        )
        acknowledge(
            role,
            wildcard_finding(self, anything_ec2),
            "The private endpoint service extension declares ec2:CreateVpcEndpoint and "
            "ec2:DeleteVpcEndpoints; the endpoints it manages do not exist before it runs.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeVpcEndpoints supports no resource-level permissions.",
        )
        for type_name in ATLAS_TYPES:
            logical_id = "Activate" + type_name.rsplit("::", 1)[1]
            activation = cloudformation.CfnTypeActivation(
                self,
                logical_id,
                type="RESOURCE",
                type_name=type_name,
                publisher_id=ATLAS_PUBLISHER_ID,
                execution_role_arn=role.role_arn,
            )
            _same_id_as_sam(activation, logical_id)
        CfnOutput(
            self,
            "ExecutionRoleArn",
            value=role.role_arn,
            description="Role the Atlas extensions run as",
        )


def _same_id_as_sam(resource: Any, logical_id: str) -> None:
    """Keep the SAM template's logical id: either tool updates the shared stack in place."""
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{logical_id}: not a CloudFormation resource")
    resource.override_logical_id(logical_id)
