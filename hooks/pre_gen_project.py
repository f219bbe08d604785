"""Validate the answers before anything is written.

Each rule is a small function that takes the answers (a plain dict) and either
returns ``None`` or raises :class:`InvalidAnswer`.  The template's tests import
this file and call the rules directly; cookiecutter runs it as a script, with
the answers injected as JSON data at the bottom (never as code).

A failure prints exactly one line to stderr::

    error: <option>=<value>: <why>. <what to choose instead>

and exits 1, so cookiecutter removes the half-made directory.
"""

from __future__ import annotations

import difflib
import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

Answers = Mapping[str, Any]


class InvalidAnswer(Exception):
    """One answer is unusable; the message says which, why and what to do."""

    def __init__(self, option: str, value: object, why: str, fix: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"{option}={_show(value)}: {why}. {fix}")


def _show(value: object) -> str:
    """Render a value on one line, quoting it when it has spaces or controls."""
    text = str(value)
    if text == "" or re.search(r"[\s\"'\\]", text) or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


# --- facts the rules need -----------------------------------------------------

# AWS regions where MongoDB Atlas runs dedicated and Flex clusters.
ATLAS_AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
    "eu-north-1", "eu-south-1", "eu-south-2",
    "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
    "me-south-1", "me-central-1", "il-central-1", "af-south-1",
)  # fmt: skip

# Maximum concurrent incoming connections per node, per Atlas tier.
TIER_CONNECTION_LIMITS = {
    "FLEX": 500,
    "M10": 1500,
    "M20": 3000,
    "M30": 3000,
    "M40": 6000,
    "M50": 16000,
    "M60": 32000,
    "M80": 96000,
}
TIERS_IN_ORDER = ("M10", "M20", "M30", "M40", "M50", "M60", "M80")
SHARDED_MIN_TIER = "M30"

# Share of a node's connection limit the function may use; the rest stays free
# for Atlas's own agents, the Data Explorer, migrations and other clients.
CONNECTION_HEADROOM = 0.8

# What one Lambda container opens to each node: the generated client uses
# maxPoolSize=1 (a container serves one request at a time) and polling server
# monitoring, which holds one monitor socket per node.
APP_CONNECTIONS_PER_CONTAINER = 1
MONITOR_CONNECTIONS_PER_CONTAINER = 1
CONNECTIONS_PER_CONTAINER_PER_NODE = (
    APP_CONNECTIONS_PER_CONTAINER + MONITOR_CONNECTIONS_PER_CONTAINER
)

LAMBDA_MEMORY_MB = (128, 10240)
# Lambda allows 1-900 s; below 3 s a cold start has no time for TLS, authentication
# and a deadline reserve of 0.75 s.
LAMBDA_TIMEOUT_S = (3, 900)
LAMBDA_CONCURRENCY = (1, 10000)

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
# The slug names AWS resources (Lambda functions: 64 characters, IAM roles: 64,
# with suffixes added); 40 leaves room for them.
SLUG_MAX_LENGTH = 40
DATABASE_NAME_FORBIDDEN = set('/\\. "$*<>:|?')
DATABASE_NAME_MAX_BYTES = 63

# Import names a package must not shadow: what the project and its tools import.
DEPENDENCY_IMPORT_NAMES = {
    "pymongo", "bson", "gridfs", "pymongo_auth_aws", "dns", "boto3", "botocore",
    "mockupdb", "mongomock", "moto", "pytest", "hypothesis", "mypy", "ruff",
    "local", "tests", "aws_cdk", "constructs", "cdk_nag", "awscdk_resources_mongodbatlas",
    "app", "service_infra", "peering_accepter",  # infra/cdk and the accepter, on mypy's path
}  # fmt: skip


# --- rules ----------------------------------------------------------------------


def check_project_slug(answers: Answers) -> None:
    slug = answers["project_slug"]
    if not SLUG_PATTERN.match(slug):
        raise InvalidAnswer(
            "project_slug",
            slug,
            "must start with a lowercase letter and hold only lowercase letters, digits "
            "and hyphens",
            "Choose a slug such as atlas-lambda-service, or a project_name that starts "
            "with a letter",
        )
    if len(slug) > SLUG_MAX_LENGTH:
        raise InvalidAnswer(
            "project_slug",
            slug,
            f"is {len(slug)} characters; AWS resource names built from it allow at most "
            f"{SLUG_MAX_LENGTH}",
            "Choose a shorter project_slug or project_name",
        )
    if slug.endswith("-") or "--" in slug:
        raise InvalidAnswer(
            "project_slug",
            slug,
            "must not end with a hyphen or hold two in a row",
            f"Choose {re.sub('-+', '-', slug).strip('-')}",
        )


def check_package_name(answers: Answers) -> None:
    name = answers["package_name"]
    if not name.isidentifier() or not name.isascii():
        raise InvalidAnswer(
            "package_name",
            name,
            "is not a valid Python identifier",
            "Choose lowercase letters, digits and underscores, starting with a letter, "
            "e.g. atlas_lambda_service",
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise InvalidAnswer(
            "package_name", name, "is a Python keyword", f"Choose another name, e.g. {name}_service"
        )
    if name in sys.stdlib_module_names or name in DEPENDENCY_IMPORT_NAMES:
        raise InvalidAnswer(
            "package_name",
            name,
            "would shadow a standard-library or dependency module of the same name",
            f"Choose another name, e.g. {name}_service",
        )
    if name != name.lower():
        raise InvalidAnswer(
            "package_name", name, "must be lowercase (PEP 8)", f"Choose {name.lower()}"
        )


def check_database_name(answers: Answers) -> None:
    name = answers["database_name"]
    bad = sorted(set(name) & DATABASE_NAME_FORBIDDEN)
    if not name:
        raise InvalidAnswer("database_name", name, "must not be empty", "Choose a name such as app")
    if bad:
        raise InvalidAnswer(
            "database_name",
            name,
            f"MongoDB database names cannot contain {' '.join(repr(c) for c in bad)}",
            "Choose letters, digits, '_' or '-', e.g. app",
        )
    if any(not c.isprintable() for c in name) or "\x00" in name:
        raise InvalidAnswer(
            "database_name",
            name,
            "holds a control character",
            "Choose printable characters, e.g. app",
        )
    if len(name.encode()) > DATABASE_NAME_MAX_BYTES:
        raise InvalidAnswer(
            "database_name",
            name,
            f"is {len(name.encode())} bytes; MongoDB allows at most {DATABASE_NAME_MAX_BYTES}",
            "Choose a shorter name",
        )
    if name in {"admin", "local", "config"}:
        raise InvalidAnswer(
            "database_name",
            name,
            "is a MongoDB system database, which an application user must not be scoped to",
            "Choose an application database such as app",
        )


def check_aws_region(answers: Answers) -> None:
    region = answers["aws_region"]
    if region in ATLAS_AWS_REGIONS:
        return
    close = difflib.get_close_matches(str(region).lower(), ATLAS_AWS_REGIONS, n=1)
    hint = f"Did you mean {close[0]}? " if close else ""
    raise InvalidAnswer(
        "aws_region",
        region,
        "is not an AWS region MongoDB Atlas supports",
        f"{hint}Choose one of: {', '.join(ATLAS_AWS_REGIONS)}",
    )


def check_flex_network(answers: Answers) -> None:
    if answers["atlas_tier"] == "FLEX" and answers["network_mode"] != "nat":
        raise InvalidAnswer(
            "network_mode",
            answers["network_mode"],
            "Atlas FLEX clusters support neither VPC peering nor private endpoints",
            "Choose network_mode=nat, or a dedicated atlas_tier (M10 or above)",
        )


def check_sharded_tier(answers: Answers) -> None:
    if answers["cluster_topology"] != "sharded":
        return
    tier = answers["atlas_tier"]
    if tier not in TIERS_IN_ORDER or TIERS_IN_ORDER.index(tier) < TIERS_IN_ORDER.index(
        SHARDED_MIN_TIER
    ):
        raise InvalidAnswer(
            "atlas_tier",
            tier,
            f"sharded clusters need a dedicated tier of {SHARDED_MIN_TIER} or above",
            f"Choose atlas_tier={SHARDED_MIN_TIER} or larger, or cluster_topology=replica_set",
        )


def _parse_int(
    answers: Answers,
    option: str,
    bounds: tuple[int, int],
    unit: str,
    limits: str = "Lambda's limits",
) -> int:
    raw = answers[option]
    low, high = bounds
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise InvalidAnswer(
            option,
            raw,
            "is not a whole number",
            f"Choose a whole number of {unit} from {low} to {high}",
        )
    value = int(text)
    if not low <= value <= high:
        raise InvalidAnswer(
            option,
            raw,
            f"is outside {limits} of {low}-{high} {unit}",
            f"Choose a value from {low} to {high}",
        )
    return value


def check_lambda_memory(answers: Answers) -> None:
    _parse_int(answers, "lambda_memory_mb", LAMBDA_MEMORY_MB, "MB")


def check_lambda_timeout(answers: Answers) -> None:
    _parse_int(
        answers,
        "lambda_timeout_s",
        LAMBDA_TIMEOUT_S,
        "seconds",
        "what a database function needs (cold start, TLS, auth)",
    )


def check_reserved_concurrency(answers: Answers) -> None:
    _parse_int(answers, "reserved_concurrency", LAMBDA_CONCURRENCY, "containers")


def connection_budget(tier: str) -> int:
    """Connections per node the function may use on this tier."""
    return int(TIER_CONNECTION_LIMITS[tier] * CONNECTION_HEADROOM)


def check_connection_budget(answers: Answers) -> None:
    concurrency = _parse_int(answers, "reserved_concurrency", LAMBDA_CONCURRENCY, "containers")
    tier = answers["atlas_tier"]
    if tier not in TIER_CONNECTION_LIMITS:
        return  # check_choice reports an unknown tier
    per_node = concurrency * CONNECTIONS_PER_CONTAINER_PER_NODE
    budget = connection_budget(tier)
    if per_node <= budget:
        return
    max_concurrency = budget // CONNECTIONS_PER_CONTAINER_PER_NODE
    bigger = [t for t in TIERS_IN_ORDER if connection_budget(t) >= per_node]
    alternative = (
        f", or atlas_tier={bigger[0]} (budget {connection_budget(bigger[0])})" if bigger else ""
    )
    raise InvalidAnswer(
        "reserved_concurrency",
        concurrency,
        f"{concurrency} containers x {CONNECTIONS_PER_CONTAINER_PER_NODE} connections per "
        f"container per node = {per_node} > {budget} "
        f"({int(CONNECTION_HEADROOM * 100)}% of {tier}'s {TIER_CONNECTION_LIMITS[tier]} "
        "connections per node)",
        f"Choose reserved_concurrency={max_concurrency} or less{alternative}",
    )


CHOICES = {
    "auth_mode": ("iam", "password"),
    "network_mode": ("private_endpoint", "peering", "nat"),
    "iac_tool": ("terraform", "sam", "cdk"),
    "cluster_topology": ("replica_set", "sharded"),
    "atlas_tier": (*TIERS_IN_ORDER, "FLEX"),
    "python_version": ("3.13", "3.12"),
    "architecture": ("arm64", "x86_64"),
}


def check_choices(answers: Answers) -> None:
    """Choice answers given on the command line bypass the menu; check them too."""
    for option, allowed in CHOICES.items():
        if answers[option] not in allowed:
            raise InvalidAnswer(
                option,
                answers[option],
                "is not one of the choices",
                f"Choose one of: {', '.join(allowed)}",
            )


def check_project_name(answers: Answers) -> None:
    name = answers["project_name"]
    if not str(name).strip():
        raise InvalidAnswer(
            "project_name", name, "must not be empty", "Choose a name such as Atlas Lambda Service"
        )
    if not str(name).isprintable():
        raise InvalidAnswer(
            "project_name",
            name,
            "holds a control character or line break",
            "Choose a name on one line",
        )


# Order matters: syntax first, then combinations, then arithmetic.
RULES: tuple[Callable[[Answers], None], ...] = (
    check_choices,
    check_project_name,
    check_project_slug,
    check_package_name,
    check_database_name,
    check_aws_region,
    check_lambda_memory,
    check_lambda_timeout,
    check_reserved_concurrency,
    check_flex_network,
    check_sharded_tier,
    check_connection_budget,
)


def validate(answers: Answers) -> None:
    """Raise the first :class:`InvalidAnswer` among the rules, if any."""
    for rule in RULES:
        rule(answers)


def main(answers: Answers) -> int:
    try:
        validate(answers)
    except InvalidAnswer as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # The answers arrive as JSON text inside a raw string: ``tojson`` escapes
    # quotes, so no answer can end the string or run as code.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
