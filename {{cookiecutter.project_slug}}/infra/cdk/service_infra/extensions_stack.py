"""One-time prerequisite per account and region: the MongoDB::Atlas CloudFormation extensions.

Activates the third-party types the service stack declares, with the role they run as. That
role may read the Atlas API key (the profile secret) and, where a type's published schema
declares more handler permissions, exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_iam as iam
from constructs import Construct

from .settings import SettingsError
from .support import acknowledge, wildcard_finding

EXTENSIONS_STACK_NAME = "mongodb-atlas-extensions"
# MongoDB's publisher id in the CloudFormation registry.
ATLAS_PUBLISHER_ID = "bb989456c78c398a858fef18f2ca1bfc1fbba082"
# Handler permissions the published schemas declare beyond reading the profile secret.
EXTRA_HANDLER_PERMISSIONS = {
    "MongoDB::Atlas::PrivateEndpointService": ("ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"),
}


class AtlasExtensionsStack(Stack):
    """Activates ``types`` except those in ``already_active``, with their execution role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        atlas_profile: str,
        types: Sequence[str],
        already_active: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(already_active) - set(types))
        if unknown:
            raise SettingsError(
                f"atlasTypesAlreadyActive={unknown}: the stacks use only {sorted(types)}; "
                "list those of them this account already activated"
            )
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
        extra = sorted({action for t in types for action in EXTRA_HANDLER_PERMISSIONS.get(t, ())})
        anywhere = self.format_arn(service="ec2", resource="*")
        if extra:
            statements.append(
                iam.PolicyStatement(
                    sid="DeclaredHandlerPermissions", actions=extra, resources=[anywhere]
                )
            )
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
        if extra:
            acknowledge(
                role,
                wildcard_finding(self, anywhere),
                "The extensions' published schemas declare these handler permissions; what they "
                "manage does not exist before they run, so no narrower resource can be named.",
            )
        for type_name in sorted(set(types) - set(already_active)):
            cloudformation.CfnTypeActivation(
                self,
                "Activate" + type_name.rsplit("::", 1)[1],
                type="RESOURCE",
                type_name=type_name,
                publisher_id=ATLAS_PUBLISHER_ID,
                execution_role_arn=role.role_arn,
            )
        CfnOutput(self, "ExecutionRoleArn", value=role.role_arn)
