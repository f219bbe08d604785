"""The answers the template supports and the ones it refuses, as data.

``SUPPORTED`` covers every ``auth_mode x network_mode x iac_tool x
cluster_topology`` combination (sharded on M30, the smallest tier that allows
it), the FLEX tier where it is allowed, and each IaC tool with each cold-start
mode beyond on_demand (both auth modes and every network mode among them).
``UNSUPPORTED`` mirrors the pre-generation hook's rules: each entry is the
answers, the option the error must name, and a fragment of the message.
"""

from __future__ import annotations

import itertools
from typing import Any

AUTH_MODES = ("iam", "password")
NETWORK_MODES = ("private_endpoint", "peering", "nat")
IAC_TOOLS = ("terraform", "sam", "cdk")
TOPOLOGIES = ("replica_set", "sharded")

Answers = dict[str, Any]


def combination(auth: str, network: str, iac: str, topology: str, **extra: Any) -> Answers:
    answers: Answers = {
        "auth_mode": auth,
        "network_mode": network,
        "iac_tool": iac,
        "cluster_topology": topology,
        "atlas_tier": "M30" if topology == "sharded" else "M10",
    }
    answers.update(extra)
    return answers


def combination_id(answers: Answers) -> str:
    parts = [
        answers["auth_mode"],
        answers["network_mode"],
        answers["iac_tool"],
        answers["cluster_topology"],
    ]
    if answers.get("atlas_tier") == "FLEX":
        parts.append("flex")
    if answers.get("cold_start", "on_demand") != "on_demand":
        parts.append(answers["cold_start"])
    parts += [f"py{answers['python_version']}"] if "python_version" in answers else []
    parts += [answers["architecture"]] if "architecture" in answers else []
    return "-".join(parts)


SUPPORTED: list[Answers] = (
    [
        combination(auth, network, iac, topology)
        for auth, network, iac, topology in itertools.product(
            AUTH_MODES, NETWORK_MODES, IAC_TOOLS, TOPOLOGIES
        )
    ]
    + [
        combination(auth, "nat", iac, "replica_set", atlas_tier="FLEX")
        for auth, iac in itertools.product(AUTH_MODES, IAC_TOOLS)
    ]
    + [
        combination(auth, network, iac, topology, cold_start=cold)
        for cold, auth, network, iac, topology in (
            ("snapstart", "iam", "nat", "terraform", "replica_set"),
            ("snapstart", "password", "peering", "sam", "replica_set"),
            ("snapstart", "iam", "private_endpoint", "cdk", "sharded"),
            ("provisioned", "password", "private_endpoint", "terraform", "sharded"),
            ("provisioned", "iam", "nat", "sam", "replica_set"),
            ("provisioned", "password", "peering", "cdk", "replica_set"),
        )
    ]
)

# (answers, option named in the error, fragment of the message)
UNSUPPORTED: list[tuple[Answers, str, str]] = [
    ({"atlas_tier": "FLEX", "network_mode": "private_endpoint"}, "network_mode", "FLEX"),
    ({"atlas_tier": "FLEX", "network_mode": "peering"}, "network_mode", "FLEX"),
    ({"cluster_topology": "sharded", "atlas_tier": "M10"}, "atlas_tier", "M30"),
    ({"cluster_topology": "sharded", "atlas_tier": "M20"}, "atlas_tier", "M30"),
    (
        {"cluster_topology": "sharded", "atlas_tier": "FLEX", "network_mode": "nat"},
        "atlas_tier",
        "M30",
    ),
    ({"reserved_concurrency": "601"}, "reserved_concurrency", "601 containers x 2"),
    (
        {"reserved_concurrency": "300", "atlas_tier": "FLEX", "network_mode": "nat"},
        "reserved_concurrency",
        "FLEX",
    ),
    ({"reserved_concurrency": "0"}, "reserved_concurrency", "limits"),
    ({"reserved_concurrency": "10001", "atlas_tier": "M80"}, "reserved_concurrency", "1-10000"),
    (
        {"cold_start": "provisioned", "provisioned_concurrency": "51"},
        "provisioned_concurrency",
        "1-50",
    ),
    (
        {"cold_start": "provisioned", "provisioned_concurrency": "0"},
        "provisioned_concurrency",
        "to reserved_concurrency",
    ),
    (
        {"cold_start": "provisioned", "provisioned_concurrency": "two"},
        "provisioned_concurrency",
        "whole number",
    ),
    ({"reserved_concurrency": "-5"}, "reserved_concurrency", "whole number"),
    ({"reserved_concurrency": "ten"}, "reserved_concurrency", "whole number"),
    ({"lambda_memory_mb": "127"}, "lambda_memory_mb", "128-10240"),
    ({"lambda_memory_mb": "10241"}, "lambda_memory_mb", "128-10240"),
    ({"lambda_memory_mb": "1.5"}, "lambda_memory_mb", "whole number"),
    ({"lambda_timeout_s": "0"}, "lambda_timeout_s", "3-900"),
    ({"lambda_timeout_s": "2"}, "lambda_timeout_s", "3-900"),
    ({"lambda_timeout_s": "901"}, "lambda_timeout_s", "3-900"),
    ({"aws_region": "us-east-7"}, "aws_region", "Atlas supports"),
    ({"aws_region": "cn-north-1"}, "aws_region", "Atlas supports"),
    ({"aws_region": "US-EAST-1"}, "aws_region", "us-east-1"),
    ({"project_slug": "1service"}, "project_slug", "lowercase letter"),
    ({"project_slug": "My-Service"}, "project_slug", "lowercase letter"),
    ({"project_slug": "my_service"}, "project_slug", "lowercase letter"),
    ({"project_slug": "svc-"}, "project_slug", "hyphen"),
    ({"project_slug": "a" * 41}, "project_slug", "at most 40"),
    ({"project_name": "123"}, "project_slug", "lowercase letter"),
    ({"project_name": "   "}, "project_name", "empty"),
    ({"project_name": "123"}, "package_name", "identifier"),
    ({"author_name": " "}, "author_name", "one line"),
    ({"package_name": "import"}, "package_name", "keyword"),
    ({"package_name": "json"}, "package_name", "shadow"),
    ({"package_name": "pymongo"}, "package_name", "shadow"),
    ({"package_name": "my-pkg"}, "package_name", "identifier"),
    ({"package_name": "Service"}, "package_name", "lowercase"),
    ({"database_name": "my.db"}, "database_name", "cannot contain"),
    ({"database_name": "a/b"}, "database_name", "cannot contain"),
    ({"database_name": "has space"}, "database_name", "cannot contain"),
    ({"database_name": 'quo"te'}, "database_name", "cannot contain"),
    ({"database_name": "$cmd"}, "database_name", "cannot contain"),
    ({"database_name": "x" * 64}, "database_name", "63"),
    ({"database_name": ""}, "database_name", "empty"),
    ({"database_name": "admin"}, "database_name", "system database"),
    ({"auth_mode": "x509"}, "auth_mode", "choices"),
    ({"network_mode": "public"}, "network_mode", "choices"),
    ({"iac_tool": "pulumi"}, "iac_tool", "choices"),
    ({"python_version": "3.11"}, "python_version", "choices"),
    ({"architecture": "arm"}, "architecture", "choices"),
    ({"atlas_tier": "M0"}, "atlas_tier", "choices"),
    ({"license": "GPL"}, "license", "choices"),
]


def unsupported_id(case: tuple[Answers, str, str]) -> str:
    answers, option, _ = case
    return f"{option}:" + ",".join(f"{k}={str(v)[:12]}" for k, v in answers.items())
