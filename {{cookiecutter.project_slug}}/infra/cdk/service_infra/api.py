"""The HTTP API: one $default route sends every request to the function.

The handler answers 404 and 405 itself, so a new route is a change to the handler alone.
"""

from __future__ import annotations

import json
from typing import cast

from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from .settings import MAX_RESERVED_CONCURRENCY, STACK_NAME, Settings
from .support import acknowledge, log_group, stack_output

# One JSON line per request in the access log.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "error": "$context.integrationErrorMessage",
}
# API Gateway's default account-level limits: a stage may not go beyond them.
ACCOUNT_BURST_LIMIT = 5000
ACCOUNT_RATE_LIMIT = 10000


class HttpApi(Construct):
    """An HTTP API with access logs, throttled to what the function's containers can serve."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            description=f"{STACK_NAME} HTTP API",
            create_default_stage=False,
            default_integration=HttpLambdaIntegration("Function", function),
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "The example API is public like the function it fronts; add an IAM or JWT "
            "authorizer before real data goes behind it (README.md).",
        )
        # A burst never needs more containers than may run at once: the reserved concurrency,
        # or with none reserved (0) the most the connection budget allows.
        containers = settings.reserved_concurrency or MAX_RESERVED_CONCURRENCY
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                burst_limit=min(containers, ACCOUNT_BURST_LIMIT),
                rate_limit=min(containers * 10, ACCOUNT_RATE_LIMIT),
            ),
        )
        access_logs = log_group(self, "AccessLogs", settings.log_retention_days)
        stage = cast(apigw.CfnStage, self.stage.node.default_child)
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        stack_output(self, "ApiUrl", self.stage.url, "Base URL of the HTTP API")
