"""The generated projects tests/test_user_path.py follows from render to Lambda, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from combinations import combination, combination_id

HOSTILE_NAME = '{% raw %}Ünïcode "q" {{ not jinja }} $(id) ;`x` \\{% endraw %}'


@dataclass(frozen=True)
class Variant:
    answers: dict[str, Any]
    installer: str = "uv"  # or "pip": no uv on PATH
    # CI's `make test-all`: the slow tests (faults, timeouts) depend on the code, not on
    # what else is installed, so they run once per code fingerprint (see VARIANTS).
    full_suite: bool = False

    @property
    def id(self) -> str:
        parts = [combination_id(self.answers)]
        if "package_name" in self.answers:
            parts.append(self.answers["package_name"])
        if "project_name" in self.answers:
            parts.append("hostile-names")
        if self.installer == "pip":
            parts.append("pip")
        return "-".join(parts)

    @property
    def python_version(self) -> str:
        return str(self.answers.get("python_version", "3.13"))

    @property
    def architecture(self) -> str:
        return str(self.answers.get("architecture", "arm64"))


# One per distinct dependency set: auth mode (password adds boto3, its stubs and moto) x
# CDK or not (the CDK libraries), CDK with peering (the accepter's EC2 stubs) x the Lambda
# Python. Names before "local" (atlas_lambda_service, billing_api) and after it (orders_api,
# stock_svc, zeta_api, unicode_...). CI's test job (`make test-all`) runs where the code is
# new: the 3.13 arm64 projects with the default names (between them every code fingerprint
# of the supported combinations: test_generated_projects.py checks), and the hostile names
# on the other Lambda Python. Elsewhere the README's `make test` has still collected, so
# imported, every test module in that environment. Each cold-start mode beyond on_demand
# rides on variants of both auth modes: its tests are fast (`make test` runs them), and the
# zip meets the Lambda runtime's own SnapStart or provisioned INIT (test_user_path.py).
VARIANTS = [
    # The defaults, exactly as `cookiecutter <template>` renders them, on the pip path.
    Variant(
        combination("iam", "private_endpoint", "terraform", "replica_set"),
        installer="pip",
        full_suite=True,
    ),
    Variant(
        combination(
            "iam", "nat", "sam", "sharded",
            python_version="3.12", architecture="x86_64", package_name="orders_api",
            cold_start="provisioned",
        ),
    ),
    Variant(
        combination(
            "password", "private_endpoint", "terraform", "sharded",
            architecture="x86_64", package_name="stock_svc", cold_start="snapstart",
        )
    ),
    # Hostile free text: quotes, braces, shell metacharacters, unicode (raw blocks keep
    # cookiecutter from rendering the command-line value as Jinja).
    Variant(
        combination(
            "password", "peering", "sam", "replica_set",
            python_version="3.12", project_name=HOSTILE_NAME,
            database_name="données-ü&'x", aws_region="eu-west-1",
        ),
        full_suite=True,
    ),
    Variant(
        combination("iam", "private_endpoint", "cdk", "sharded", cold_start="snapstart"),
        full_suite=True,
    ),
    Variant(
        combination(
            "iam", "nat", "cdk", "replica_set",
            python_version="3.12", architecture="x86_64", package_name="orders_api",
        )
    ),
    Variant(
        combination("password", "nat", "cdk", "replica_set", atlas_tier="FLEX"), full_suite=True
    ),
    Variant(
        combination(
            "password", "private_endpoint", "cdk", "sharded",
            python_version="3.12", package_name="zeta_api",
        )
    ),
    Variant(
        combination(
            "iam", "peering", "cdk", "replica_set", architecture="x86_64", package_name="orders_api"
        )
    ),
    Variant(
        combination(
            "iam", "peering", "cdk", "sharded", python_version="3.12", package_name="billing_api"
        )
    ),
    Variant(combination("password", "peering", "cdk", "sharded"), full_suite=True),
    Variant(
        combination(
            "password", "peering", "cdk", "replica_set",
            python_version="3.12", architecture="x86_64", package_name="stock_svc",
            cold_start="provisioned",
        )
    ),
]  # fmt: skip
