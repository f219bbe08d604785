"""The Atlas alert on connections: a mail when a node's connections pass 80 % of its limit.

The alarms in alarms.py watch the function; this watches the cluster, whoever connects. Atlas
cannot notify SNS, so it mails alarmEmail when that is set, else the project's owners.
{%- if cookiecutter.atlas_tier == "FLEX" %}
Flex clusters raise this condition too (and Atlas's own "Flex metric outside threshold" alert
at the same 80 %); this one mails whom you chose.
{%- endif %}

Two limits of the MongoDB::Atlas::AlertConfiguration extension (README.md, "What you see in
CloudWatch and Atlas"): Atlas matches host metric alerts by host name, port, type or replica
set name, not by cluster, so the alert covers every node of the project; and the extension's
schema makes `Enabled` read-only while Atlas creates alert configurations disabled, so you turn
it on once after the first deploy.
"""

from __future__ import annotations

from awscdk_resources_mongodbatlas import (
    CfnAlertConfiguration,
    MetricThresholdView,
    MetricThresholdViewMode,
    MetricThresholdViewOperator,
    NotificationView,
    NotificationViewRoles,
    NotificationViewTypeName,
)
from constructs import Construct

from .settings import Settings
from .support import stack_output, third_party

# Atlas's host metric "Connections % of configured limit".
CONNECTIONS_PERCENT = "CONNECTIONS_PERCENT"
# The headroom the template's connection budget keeps below each node's limit.
HEADROOM_PERCENT = {{ (cookiecutter._connection_headroom * 100) | int }}
# Atlas repeats the notification this often until someone acknowledges the alert.
NOTIFY_EVERY_MIN = 60


def notification(email: str) -> NotificationView:
    """A mail to ``email``, or with none to every owner of the project."""
    if email:
        return NotificationView(
            type_name=NotificationViewTypeName.EMAIL,
            email_address=email,
            delay_min=0,
            interval_min=NOTIFY_EVERY_MIN,
        )
    return NotificationView(
        type_name=NotificationViewTypeName.GROUP,
        roles=[NotificationViewRoles.GROUP_OWNER],
        email_enabled=True,
        sms_enabled=False,
        delay_min=0,
        interval_min=NOTIFY_EVERY_MIN,
    )


class AtlasConnectionsAlert(Construct):
    """An Atlas alert configuration: CONNECTIONS_PERCENT above the headroom, averaged."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.alert = third_party(
            CfnAlertConfiguration(
                self,
                "Resource",
                project_id=settings.atlas_project_id,
                profile=settings.atlas_profile,
                event_type_name="OUTSIDE_METRIC_THRESHOLD",
                metric_threshold=MetricThresholdView(
                    metric_name=CONNECTIONS_PERCENT,
                    operator=MetricThresholdViewOperator.GREATER_THAN,
                    threshold=HEADROOM_PERCENT,
                    units="RAW",
                    mode=MetricThresholdViewMode.AVERAGE,
                ),
                notifications=[notification(settings.alarm_email)],
            )
        )
        stack_output(
            self,
            "AtlasAlertConfigurationId",
            self.alert.attr_id,
            "Turn it on once: atlas alerts settings enable <id> (README.md)",
        )
