"""Small helpers every construct uses: cdk-nag acknowledgments, Atlas types, logs, outputs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, CfnResource, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_logs as logs
from constructs import Construct

from .settings import LOG_RETENTION_DAYS


def acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``construct``, with the reason on record."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def wildcard_finding(scope: Construct, arn: str) -> str:
    """The cdk-nag finding id of a wildcard resource ``arn`` (made with ``Stack.format_arn``)."""
    stack = Stack.of(scope)
    shown = arn
    for token, name in (
        (stack.partition, "<AWS::Partition>"),
        (stack.region, "<AWS::Region>"),
        (stack.account, "<AWS::AccountId>"),
    ):
        if Token.is_unresolved(token):
            shown = shown.replace(token, name)
    return f"AwsSolutions-IAM5[Resource::{shown}]"


def third_party[AtlasResource: CfnResource](resource: AtlasResource) -> AtlasResource:
    """Tell cfn-lint that a MongoDB::Atlas type comes from the CloudFormation registry."""
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3006"]}})
    return resource


def log_group(scope: Construct, construct_id: str, retention_days: int) -> logs.LogGroup:
    """A log group that keeps ``retention_days`` days and goes with the stack."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION_DAYS[retention_days],
        removal_policy=RemovalPolicy.DESTROY,
    )


def stack_output(scope: Construct, name: str, value: str, description: str = "") -> None:
    """A stack output named exactly ``name`` (README.md reads them by that name)."""
    CfnOutput(Stack.of(scope), name, value=value, description=description or None)
