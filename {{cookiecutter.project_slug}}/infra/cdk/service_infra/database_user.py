"""The Atlas database user the function logs in as: readWrite on one database, one cluster."""

from __future__ import annotations

from dataclasses import dataclass

{% if cookiecutter.auth_mode == "iam" -%}
from aws_cdk import aws_iam as iam
{% endif -%}
from awscdk_resources_mongodbatlas import (
    CfnDatabaseUser,
    CfnDatabaseUserPropsAwsiamType,
    RoleDefinition,
    ScopeDefinition,
    ScopeDefinitionType,
)
from constructs import Construct

from .settings import DATABASE_NAME, STACK_NAME, Settings
from .support import third_party


@dataclass(frozen=True)
class Login:
    """Who the function is to Atlas, and where Atlas checks it."""

    username: str
    # $external for AWS IAM identities, admin for SCRAM users.
    auth_database: str
    description: str
    aws_iam_type: CfnDatabaseUserPropsAwsiamType | None = None
    # A CloudFormation dynamic reference, resolved while deploying; never a value.
    password: str | None = None
{%- if cookiecutter.auth_mode == "iam" %}


def role_login(role: iam.IRole) -> Login:
    """MONGODB-AWS: the function's execution role is the user, so no password exists anywhere."""
    return Login(
        username=role.role_arn,
        auth_database="$external",
        description="The function's execution role (MONGODB-AWS)",
        aws_iam_type=CfnDatabaseUserPropsAwsiamType.ROLE,
    )
{%- endif %}


class DatabaseUser(Construct):
    """One Atlas user with the single role readWrite on the project's database."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, login: Login
    ) -> None:
        super().__init__(scope, construct_id)
        self.user = third_party(
            CfnDatabaseUser(
                self,
                "Resource",
                project_id=settings.atlas_project_id,
                profile=settings.atlas_profile,
                description=f"{login.description}, of stack {STACK_NAME}",
                username=login.username,
                database_name=login.auth_database,
                awsiam_type=login.aws_iam_type,
                password=login.password,
                roles=[RoleDefinition(role_name="readWrite", database_name=DATABASE_NAME)],
                # Only the cluster the function uses, not every cluster of the project.
                scopes=[
                    ScopeDefinition(
                        name=settings.atlas_cluster_name, type=ScopeDefinitionType.CLUSTER
                    )
                ],
            )
        )
