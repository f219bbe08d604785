"""CloudWatch alarms on the function and its connections, and the SNS topic they notify.

Every alarm sends ALARM and OK to one topic, `<project>-alarms`. It is encrypted with a key of
its own: CloudWatch cannot publish to a topic encrypted with the AWS managed key alias/aws/sns,
so this key's policy lets CloudWatch use it, for this project's alarms only. The context key
alarmEmail subscribes one address (SNS mails it a confirmation link first).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .function import TIMEOUT_S
from .settings import MAX_RESERVED_CONCURRENCY, STACK_NAME, Settings
from .support import stack_output

PERIOD_S = 300
# The client's maxIdleTimeMS: a container idle this long drops its pool socket.
MAX_IDLE_S = 60
# Why 6 x N: a container opens a pool socket on its first invocation and again only after it
# sat idle for maxIdleTimeMS, so in one period it opens at most 300 / 60 + 1 = 6, and N
# containers at most 6 x N. More means the per-call client crept back: a client built per
# invocation opens a socket on every one.
{%- if cookiecutter.cluster_topology == "sharded" %}
# A container keeps one pool per mongos it uses, and srvMaxHosts lets it use 3.
POOLS_PER_CONTAINER = 3
{%- else %}
# A container's one pool: the primary's.
POOLS_PER_CONTAINER = 1
{%- endif %}
SOCKETS_PER_CONTAINER = (PERIOD_S // MAX_IDLE_S + 1) * POOLS_PER_CONTAINER
# The app's metric (telemetry.py), published in the namespace and with the one dimension
# `service` that the function's POWERTOOLS_* variables name: the project.
CONNECTIONS_CREATED = "ConnectionsCreated"
# p99 duration above this share of the timeout: requests are about to time out.
DURATION_PERCENT_OF_TIMEOUT = 80
CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


class Alarms(Construct):
    """Errors, throttles, p99 duration and connections created, each notifying one topic."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, function: lambda_.Function
    ) -> None:
        super().__init__(scope, construct_id)
        period = Duration.seconds(PERIOD_S)
        # With none reserved (0) the connection budget's containers are the most that run.
        containers = settings.reserved_concurrency or MAX_RESERVED_CONCURRENCY
        self.topic = self._topic(settings)
        self.errors = self._alarm(
            "errors",
            function.metric_errors(period=period, statistic="Sum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="The function failed (an unhandled exception or a timeout): see its log.",
        )
        self.throttles = self._alarm(
            "throttles",
            function.metric_throttles(period=period, statistic="Sum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="Lambda refused requests: every container of the reserved concurrency "
            "was busy (or the account's quota, with none reserved).",
        )
        self.duration = self._alarm(
            "duration",
            function.metric_duration(period=period, statistic="p99"),
            threshold=TIMEOUT_S * 1000 * DURATION_PERCENT_OF_TIMEOUT // 100,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"p99 duration above {DURATION_PERCENT_OF_TIMEOUT} % of the "
            f"{TIMEOUT_S} s timeout in 2 of 3 periods: requests are about to time out.",
        )
        self.connections_created = self._alarm(
            "connections-created",
            cloudwatch.Metric(
                namespace=STACK_NAME,
                metric_name=CONNECTIONS_CREATED,
                dimensions_map={"service": STACK_NAME},
                statistic="Sum",
                period=period,
            ),
            threshold=SOCKETS_PER_CONTAINER * containers,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"More pool sockets in 5 minutes than {containers} containers open "
            f"({SOCKETS_PER_CONTAINER} each at most): is a client built per invocation?",
        )
        stack_output(self, "AlarmTopicArn", self.topic.topic_arn, "Where the alarms notify")

    def _topic(self, settings: Settings) -> sns.Topic:
        stack = Stack.of(self)
        # Every alarm named <project>-*: these four, and any you add for this project.
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{STACK_NAME}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # CloudWatch, publishing for this project's alarms in this account, and nobody else.
        from_these_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarms},
        }
        key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the SNS topic {STACK_NAME}-alarms",
            alias=f"alias/{STACK_NAME}-alarms",
            enable_key_rotation=True,
            # It protects messages in flight only: nothing stays encrypted once the topic goes.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheTopic",
                principals=[CLOUDWATCH],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_these_alarms,
            )
        )
        topic = sns.Topic(
            self,
            "Topic",
            topic_name=f"{STACK_NAME}-alarms",
            display_name=f"{STACK_NAME} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # The topic policy the stack writes replaces SNS's default one: allow the alarms.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_these_alarms,
            )
        )
        if settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        return topic

    def _alarm(
        self,
        concern: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            concern.title().replace("-", ""),
            alarm_name=f"{STACK_NAME}-{concern}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            # No requests, no data: nothing is wrong.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = actions.SnsAction(self.topic)
        alarm.add_alarm_action(notify)
        alarm.add_ok_action(notify)
        return alarm
