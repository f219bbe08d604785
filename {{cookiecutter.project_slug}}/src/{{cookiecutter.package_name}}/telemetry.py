"""What production sees: JSON logs and CloudWatch metrics, through Powertools for AWS Lambda.

Every invocation writes one JSON log line (with ``correlation_id`` = the API
Gateway request id, the cold start flag, the function and the request) and one
EMF blob of metrics to stdout; the Lambda runtime sends both to CloudWatch Logs,
which turns the EMF blob into metrics.  The service name (a metric dimension
and a log field) and the metrics namespace default to the project's name; the
stacks may set ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from .driver_events import Counts

PROJECT = "{{ cookiecutter.project_slug }}"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or PROJECT
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or PROJECT

# The metrics every invocation reports, and their units.  The names are a
# contract: dashboards and alarms (ConnectionsCreated above what the reserved
# containers explain means the per-call client crept back) rely on them.
CONNECTIONS_CREATED = "ConnectionsCreated"  # pool sockets opened: 0 when warm
COLD_START = "ColdStart"  # 1 on a container's first invocation, else 0
DATABASE_COMMANDS = "DatabaseCommands"  # commands sent, retries included
DATABASE_ERRORS = "DatabaseErrors"  # failed commands, check-outs and server checks
DATABASE_TIME = "DatabaseTime"  # time the commands took, in milliseconds
METRIC_UNITS: dict[str, MetricUnit] = {
    CONNECTIONS_CREATED: MetricUnit.Count,
    COLD_START: MetricUnit.Count,
    DATABASE_COMMANDS: MetricUnit.Count,
    DATABASE_ERRORS: MetricUnit.Count,
    DATABASE_TIME: MetricUnit.Milliseconds,
}
METRIC_NAMES = tuple(METRIC_UNITS)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to the current ``sys.stdout``: the Lambda runtime sends it to CloudWatch,
    and the tests and the local invoker read it there, as CloudWatch would."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


logger = Logger(service=SERVICE, logger_handler=_StdoutHandler())
# The package's own modules (mongo.py's warnings) log through the same JSON handler.
logging.getLogger(__package__)
copy_config_to_registered_loggers(source_logger=logger, include={str(__package__)})
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record_invocation(cold_start: bool, counts: Counts) -> None:
    """Add this invocation's metrics; ``metrics.log_metrics`` writes them when it returns."""
    values = {
        CONNECTIONS_CREATED: counts.connections_created,
        COLD_START: int(cold_start),
        DATABASE_COMMANDS: counts.commands,
        DATABASE_ERRORS: counts.errors,
        DATABASE_TIME: round(counts.database_ms, 3),
    }
    for name, value in values.items():
        metrics.add_metric(name=name, unit=METRIC_UNITS[name], value=value)
