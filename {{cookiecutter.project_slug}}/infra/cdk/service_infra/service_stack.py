{%- set auth = cookiecutter.auth_mode -%}
{%- set cold_start = cookiecutter.cold_start -%}
"""The service: the function behind its HTTP API, its way to Atlas, its Atlas user and alarms.

Each part is a construct of its own file; this stack only composes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from .alarms import Alarms
from .api import HttpApi
from .atlas_alert import AtlasConnectionsAlert
{%- if cold_start != "on_demand" %}
from .cold_start_{{ cold_start }} import LiveAlias
{%- endif %}
{%- if auth == "password" %}
from .database_secret import DatabaseSecret
from .database_user import DatabaseUser
{%- else %}
from .database_user import DatabaseUser, role_login
{%- endif %}
from .function import ServiceFunction
from .network_{{ cookiecutter.network_mode }} import AtlasNetwork
from .settings import Settings


class ServiceStack(Stack):
    """VPC, function, HTTP API, the MongoDB Atlas resources they need, alarms and alert."""

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
        network = AtlasNetwork(self, "Network", settings=settings)
        function = ServiceFunction(
            self, "Function", settings=settings, network=network, package_zip=package_zip
        )
{%- if auth == "password" %}
        secret = DatabaseSecret(self, "DatabaseSecret", settings=settings, network=network)
        secret.grant_read(function.function)
        login = secret.login
{%- else %}
        login = role_login(function.role)
{%- endif %}
        {% if cold_start == "provisioned" %}user = {% endif %}DatabaseUser(self, "DatabaseUser", settings=settings, login=login)
{%- if cold_start == "snapstart" %}
        # The API invokes the alias `live`: the latest version, restored from its snapshot.
        alias = LiveAlias(self, "LiveAlias", function=function.function)
        HttpApi(self, "Api", settings=settings, function=alias.alias)
{%- elif cold_start == "provisioned" %}
        # The API invokes the alias `live`: the latest version, initialised ahead of traffic.
        alias = LiveAlias(
            self,
            "LiveAlias",
            settings=settings,
            function=function.function,
            # INIT connects: the way to Atlas, the user, the role's policies come first.
            connects_through=[network, user, function.role{% if auth == "password" %}, secret{% endif %}],
        )
        HttpApi(self, "Api", settings=settings, function=alias.alias)
{%- else %}
        HttpApi(self, "Api", settings=settings, function=function.function)
{%- endif %}
        Alarms(self, "Alarms", settings=settings, function=function.function)
        AtlasConnectionsAlert(self, "AtlasAlert", settings=settings)
