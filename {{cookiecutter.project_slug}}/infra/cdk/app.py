"""CDK entry point (cdk.json runs it): `npx cdk synth`, `npx cdk deploy ...` in this folder."""

from __future__ import annotations

import sys

from aws_cdk import App
from service_stack import PACKAGE_ZIP, SettingsError, build


def main() -> int:
    if not PACKAGE_ZIP.is_file():
        print(f"error: {PACKAGE_ZIP} is missing: run `make package` at the project root first")
        return 1
    app = App()
    try:
        build(app, PACKAGE_ZIP)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
