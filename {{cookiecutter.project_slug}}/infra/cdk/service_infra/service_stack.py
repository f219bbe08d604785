{%- set auth = cookiecutter.auth_mode -%}
"""The service: the function behind its HTTP API, its way to Atlas, and its Atlas user.

Each part is a construct of its own file; this stack only composes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from .api import HttpApi
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
    """VPC, function, HTTP API and the MongoDB Atlas resources they need."""

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
        DatabaseUser(self, "DatabaseUser", settings=settings, login=secret.login)
{%- else %}
        DatabaseUser(self, "DatabaseUser", settings=settings, login=role_login(function.role))
{%- endif %}
        HttpApi(self, "Api", settings=settings, function=function.function)
