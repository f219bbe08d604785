"""CDK entry point (cdk.json runs it): `npx cdk synth`, `npx cdk deploy ...` in this folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks
from service_infra.extensions_stack import (
    EXTENSIONS_DESCRIPTION,
    EXTENSIONS_STACK_NAME,
    AtlasExtensionsStack,
)
from service_infra.service_stack import ServiceStack
from service_infra.settings import AWS_REGION, STACK_NAME, Settings, SettingsError

# The zip `make package` builds at the project root: the code and its dependencies.
PACKAGE_ZIP = Path(__file__).resolve().parents[2] / "dist" / "lambda.zip"


def build(app: App, package_zip: Path = PACKAGE_ZIP) -> ServiceStack:
    """Add both stacks and the cdk-nag AwsSolutions checks to ``app``."""
    settings = Settings.from_context(app.node.try_get_context)
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=AWS_REGION)
    stack = ServiceStack(
        app,
        STACK_NAME,
        settings=settings,
        package_zip=package_zip,
        env=env,
        description=f"{STACK_NAME}: Lambda function behind an HTTP API on MongoDB Atlas",
    )
    AtlasExtensionsStack(app, EXTENSIONS_STACK_NAME, env=env, description=EXTENSIONS_DESCRIPTION)
    # The extensions stack is shared by every project in the account: it names none.
    Tags.of(stack).add("project", STACK_NAME)
    # Synthesis fails on any finding that is neither fixed nor acknowledged with a reason.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )
    return stack


def main() -> int:
    if not PACKAGE_ZIP.is_file():
        print(
            f"error: {PACKAGE_ZIP} is missing: run `make package` at the project root first",
            file=sys.stderr,
        )
        return 1
    app = App()
    try:
        build(app)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
