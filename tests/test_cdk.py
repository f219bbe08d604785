"""The CDK app of every cdk combination: synthesis with cdk-nag, wiring, schemas, the CLI.

Every supported cdk combination (plus one with hostile free text) is rendered and synthesized
offline in the CDK toolchain venv (tests/cdk_toolchain.py), two processes for all of them
(tests/cdk_synth.py). The synthesized CloudFormation is then checked here as parsed JSON
(the MongoDB::Atlas resources against their published schemas), cfn-lint runs once over
every template, each distinct version of the generated CDK code passes ruff, ``mypy
--strict`` and its own ``aws_cdk.assertions`` suite (tests/test_infra_cdk.py in the
generated project), and one project per network mode synthesizes again with ``npx cdk
synth`` and the CDK CLI the project pins.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sam_support
import toolchains
import yaml
from cdk_toolchain import (
    cdk_cli,
    cdk_library_pins,
    cdk_venv,
    cli_max_schema,
    cli_version,
    locked,
)
from cfnlint.api import ManualArgs, lint
from combinations import SUPPORTED, combination, combination_id
from conftest import Render, render
from hook_loader import pre_gen
from rendered_stack import pool_sockets_per_container
from sam_support import atlas_schema_errors, top_level_read_only
from toolchains import TOOLCHAINS, mypy_cache

# Under pytest-xdist (--dist loadgroup) these tests run on one worker, the one that builds the
# session's CDK suite (minutes); the other workers go on with the rest meanwhile.
pytestmark = pytest.mark.xdist_group("cdk")

TESTS = Path(__file__).resolve().parent
CDK_COMBOS = [c for c in SUPPORTED if c["iac_tool"] == "cdk"]
HOSTILE = combination(
    "password",
    "nat",
    "cdk",
    "replica_set",
    project_name='{% raw %}Ünïcode "q" {{ not jinja }} $(id) ;`x` \\{% endraw %}',
    database_name="données-ü&'x",
    aws_region="eu-west-1",
    # Away from the defaults: the alarms' thresholds follow them (6 x N, 0.8 x the timeout).
    reserved_concurrency="7",
    lambda_timeout_s="29",
)
ALL = [*CDK_COMBOS, HOSTILE]
# A tier whose connection budget (6400 containers) is beyond API Gateway's account limits.
BIG_TIER = combination("iam", "nat", "cdk", "replica_set", atlas_tier="M50")
SNAPSTART = next(c for c in CDK_COMBOS if c.get("cold_start") == "snapstart")
PROVISIONED = next(c for c in CDK_COMBOS if c.get("cold_start") == "provisioned")
PROJECT_ID = "0123456789abcdef01234567"
# Contract 4: the SRV strings Atlas shows, one each network mode (and topology) reaches.
URIS = {
    "standard": "mongodb+srv://cluster0.ab1cd.mongodb.net",
    "-pri": "mongodb+srv://cluster0-pri.ab1cd.mongodb.net",
    "-pl-N": "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net",
    "-pl-N-lb": "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net",
}
# Every mode: the database user and the alert on the cluster's connections.
EVERY_MODE = {"MongoDB::Atlas::DatabaseUser", "MongoDB::Atlas::AlertConfiguration"}
ATLAS_TYPES = {
    "private_endpoint": EVERY_MODE
    | {"MongoDB::Atlas::PrivateEndpointService", "MongoDB::Atlas::PrivateEndpointAWS"},
    "peering": EVERY_MODE
    | {
        "MongoDB::Atlas::ProjectIpAccessList",
        "MongoDB::Atlas::NetworkContainer",
        "MongoDB::Atlas::NetworkPeering",
    },
    "nat": EVERY_MODE | {"MongoDB::Atlas::ProjectIpAccessList"},
}
EXTENSIONS_STACK = "mongodb-atlas-extensions"
# The generated code that differs between combinations: checked once per distinct version.
CDK_CODE = ("infra/cdk", "tests/test_infra_cdk.py")
# cfn-lint findings the CDK itself causes: W3005 = a DependsOn that a GetAtt already implies
# (the Function construct depends on its role explicitly).
CFN_LINT_ALLOWED = {"W3005"}
JSII_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
# The CLI offline: no version check, no notices, no telemetry, no instance metadata lookups.
CLI_ENV = {
    "CDK_DISABLE_VERSION_CHECK": "true",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def combo_id(combo: dict[str, Any]) -> str:
    return combination_id(combo) + ("-hostile" if combo is HOSTILE else "")


def uri_for(combo: dict[str, Any]) -> str:
    """A connection string the combination's network mode accepts (each kind used somewhere)."""
    network = combo["network_mode"]
    if network == "private_endpoint":
        return URIS["-pl-N-lb" if combo["cluster_topology"] == "sharded" else "-pl-N"]
    if network == "peering":
        return URIS["-pri" if combo["auth_mode"] == "password" else "standard"]
    return URIS["standard"]


# alarmEmail for some combinations only: the others show what an empty one deploys.
ALARM_EMAIL = "ops+alarms@example.com"


def email_for(combo: dict[str, Any]) -> str:
    return ALARM_EMAIL if combo is HOSTILE or combo is PROVISIONED else ""


# Peering: the container the cluster made (the common case), or a new one; each used somewhere.
CONTAINER_ID = "fedcba9876543210fedcba98"


def container_for(combo: dict[str, Any]) -> str:
    """atlasNetworkContainerId of a peering combination: the id given, or "create"."""
    return "create" if combo["auth_mode"] == "password" else CONTAINER_ID


def context_for(combo: dict[str, Any]) -> dict[str, str]:
    context = {
        "atlasProjectId": PROJECT_ID,
        "atlasClusterName": "Cluster0",
        "mongodbUri": uri_for(combo),
    }
    if combo["network_mode"] == "peering":
        context["atlasNetworkContainerId"] = container_for(combo)
    if email_for(combo):
        context["alarmEmail"] = email_for(combo)
    return context


def max_reserved(project: Path) -> int:
    """MAX_RESERVED_CONCURRENCY of a rendered project: its tier's connection budget."""
    settings = project / "infra" / "cdk" / "service_infra" / "settings.py"
    found = re.search(r"^MAX_RESERVED_CONCURRENCY = (\d+)$", settings.read_text(), re.MULTILINE)
    assert found, settings
    return int(found[1])


def provisioned_refused(project: Path) -> dict[str, dict[str, str]]:
    """Provisioned concurrency the function cannot have, by job name: synthesis must refuse it."""
    budget = max_reserved(project)
    return {
        "provisioned-over-reserved": {"reservedConcurrency": "3", "provisionedConcurrency": "4"},
        "provisioned-over-budget": {
            "reservedConcurrency": "0",
            "provisionedConcurrency": str(budget + 1),
        },
    }


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """toolchains.run with the jsii environment the CDK libraries need."""
    return toolchains.run(args, cwd, timeout=900, **{**JSII_ENV, **env})


# Answers that change only a constant's value (the tier's connection budget): combinations that
# differ in nothing else share one run of mypy and of the stack tests. The constants themselves
# are checked per combination (test_reserved_concurrency_budget_is_the_tiers).
ANSWER_CONSTANTS = re.compile(
    rb"^(MAX_RESERVED_CONCURRENCY = )\d+$|\b(M[1-8]0|FLEX)\b", re.MULTILINE
)


def fingerprint(project: Path) -> str:
    digest = hashlib.sha256()
    for entry in CDK_CODE:
        root = project / entry
        for path in sorted([root] if root.is_file() else root.rglob("*.py")):
            digest.update(path.relative_to(project).as_posix().encode())
            digest.update(ANSWER_CONSTANTS.sub(rb"\1<answer>", path.read_bytes()))
    return digest.hexdigest()[:16]


# --- the expensive part, done once per test session -----------------------------------------------
def render_packaged(output_dir: Path, combo: dict[str, Any]) -> Path:
    """One combination rendered, with a stand-in dist/lambda.zip (make package's output)."""
    project = render(output_dir, **combo)
    package = project / "dist" / "lambda.zip"
    package.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("placeholder.py", "")
    return project


def render_all(root: Path) -> dict[str, Path]:
    """Every combination rendered and packaged."""
    return {
        combo_id(combo): render_packaged(root / f"render{index}", combo)
        for index, combo in enumerate(ALL)
    }


def make_mutant(source: Path, root: Path) -> Path:
    """A copy of one project whose API loses its cdk-nag acknowledgment."""
    project = root / "mutant" / source.name
    shutil.copytree(source, project)
    api = project / "infra" / "cdk" / "service_infra" / "api.py"
    text = api.read_text()
    assert text.count('"AwsSolutions-APIG4"') == 1
    api.write_text(text.replace('"AwsSolutions-APIG4"', '"AwsSolutions-NOTHING"'))
    return project


def synthesize_all(
    projects: dict[str, Path], mutant: Path, cdk_bin: Path, root: Path
) -> dict[str, dict[str, Any]]:
    """Synthesize every project (and the mutant) in two processes; name -> result."""
    jobs = [
        {"name": combo_id(c), "project": str(projects[combo_id(c)]), "context": context_for(c)}
        for c in ALL
    ]
    jobs.append({"name": "mutant", "project": str(mutant), "context": context_for(CDK_COMBOS[0])})
    provisioned = projects[combo_id(PROVISIONED)]
    jobs += [
        {
            "name": name,
            "project": str(provisioned),
            "context": {**context_for(PROVISIONED), **overrides},
            "outdir": str(root / name),
        }
        for name, overrides in provisioned_refused(provisioned).items()
    ]
    big = render_packaged(root / "big-tier", BIG_TIER)
    jobs.append(
        {
            "name": "big-tier-unreserved",
            "project": str(big),
            "context": {**context_for(BIG_TIER), "reservedConcurrency": "0"},
            "outdir": str(root / "big-tier-unreserved"),
        }
    )
    processes = []
    for index in range(2):
        jobs_file = root / f"jobs{index}.json"
        jobs_file.write_text(json.dumps(jobs[index::2]))
        results_file = root / f"results{index}.json"
        command = [str(cdk_bin / "python"), str(TESTS / "cdk_synth.py"), str(jobs_file)]
        process = subprocess.Popen(
            [*command, str(results_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **JSII_ENV},
        )
        processes.append((process, results_file))
    results: dict[str, dict[str, Any]] = {}
    for process, results_file in processes:
        output, _ = process.communicate(timeout=900)
        assert process.returncode == 0, output[-4000:]
        results.update(json.loads(results_file.read_text()))
    return results


def check_code(projects: dict[str, Path], cdk_bin: Path) -> dict[str, dict[str, Any]]:
    """mypy --strict and the project's own stack tests, once per distinct CDK code."""
    representatives: dict[str, Path] = {}
    for project in projects.values():
        representatives.setdefault(fingerprint(project), project)

    def check(project: Path) -> dict[str, Any]:
        outcome = {}
        with mypy_cache(TOOLCHAINS / "mypy-cache-cdk") as cache:
            done = run([str(cdk_bin / "mypy"), "--cache-dir", str(cache), *CDK_CODE], project)
        outcome["mypy"] = {"returncode": done.returncode, "output": done.stdout + done.stderr}
        tests = [str(cdk_bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        done = run([*tests, "tests/test_infra_cdk.py"], project)
        outcome["pytest"] = {"returncode": done.returncode, "output": done.stdout + done.stderr}
        return outcome

    # The first run fills mypy's cache for the CDK libraries (a minute when cold); the others
    # reuse it, one mypy at a time, each overlapping another's stack tests.
    first, *others = representatives
    outcomes = {first: check(representatives[first])}
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = pool.map(check, (representatives[key] for key in others))
        outcomes.update(zip(others, checked, strict=True))
    return outcomes


@pytest.fixture(scope="session")
def cdk_bin() -> Path:
    """bin/ of the CDK toolchain venv (created once per machine)."""
    versions = {combo.get("python_version", "3.13") for combo in ALL}
    assert versions == {"3.13"}, versions
    return cdk_venv("3.13")


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory, cdk_bin: Path) -> dict[str, Any]:
    """Render, synthesize and check every combination once per session.

    Under pytest-xdist every worker asks for this; the first does the work in a directory
    the workers share, under a lock, and the others read its results.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's directory, shared by its workers
    root = base / "cdk-suite"
    with locked(base / "cdk-suite.lock"):
        summary = root / "suite.json"
        if not summary.exists():
            root.mkdir(parents=True, exist_ok=True)
            projects = render_all(root)
            mutant = make_mutant(projects[combo_id(CDK_COMBOS[0])], root)
            synthesized = synthesize_all(projects, mutant, cdk_bin, root)
            checks = check_code(projects, cdk_bin)
            result = {
                "projects": {name: str(path) for name, path in projects.items()},
                "synthesized": synthesized,
                "checks": checks,
            }
            summary.write_text(json.dumps(result))
        loaded: dict[str, Any] = json.loads(summary.read_text())
    return loaded


@pytest.fixture(scope="session")
def projects(suite: dict[str, Any]) -> dict[str, Path]:
    return {name: Path(path) for name, path in suite["projects"].items()}


@pytest.fixture(scope="session")
def synthesized(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = suite["synthesized"]
    return found


@pytest.fixture(scope="session")
def code_checks(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = suite["checks"]
    return found


def load(result: dict[str, Any], stack: str) -> dict[str, Any]:
    path = Path(result["outdir"]) / f"{stack}.template.json"
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def the_one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, resource_type)
    assert len(found) == 1, f"{resource_type}: {sorted(found)}"
    return next(iter(found.items()))


def main_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    functions = {
        k: v
        for k, v in resources_of(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"].endswith(".handler.handler")
    }
    assert len(functions) == 1, sorted(functions)
    return next(iter(functions.items()))


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


@pytest.fixture(params=ALL, ids=combo_id)
def combo(request: pytest.FixtureRequest) -> dict[str, Any]:
    answers: dict[str, Any] = request.param
    return answers


@pytest.fixture
def service(
    combo: dict[str, Any], synthesized: dict[str, dict[str, Any]], projects: dict[str, Path]
) -> dict[str, Any]:
    result = synthesized[combo_id(combo)]
    assert result["ok"], result["error"]
    return load(result, projects[combo_id(combo)].name)


# --- synthesis and cdk-nag -----------------------------------------------------------------------
def test_every_combination_synthesizes_with_cdk_nag_clean(
    combo: dict[str, Any], synthesized: dict[str, dict[str, Any]], projects: dict[str, Path]
) -> None:
    result = synthesized[combo_id(combo)]
    assert result["ok"], result["error"]
    outdir = Path(result["outdir"])
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == [] or all(
        plugin["conclusion"] == "success" for plugin in report["pluginReports"]
    ), report
    manifest = json.loads((outdir / "manifest.json").read_text())
    artifacts = manifest["artifacts"].items()
    stacks = {k for k, v in artifacts if v["type"] == "aws:cloudformation:stack"}
    assert stacks == {projects[combo_id(combo)].name, EXTENSIONS_STACK}


def test_an_unacknowledged_nag_finding_fails_synthesis(
    synthesized: dict[str, dict[str, Any]],
) -> None:
    result = synthesized["mutant"]
    assert not result["ok"]
    assert "AwsSolutions-APIG4" in result["error"]


def test_every_acknowledgment_has_a_reason(combo: dict[str, Any], service: dict[str, Any]) -> None:
    acknowledged = [
        rule
        for body in service["Resources"].values()
        for rule in body.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if rule["id"].startswith("AwsSolutions-")
    ]
    assert {rule["id"].split("[")[0] for rule in acknowledged} >= {
        "AwsSolutions-APIG4",
        "AwsSolutions-IAM5",
        "AwsSolutions-L1",
    }
    assert ("AwsSolutions-SMG4" in {rule["id"] for rule in acknowledged}) == (
        combo["auth_mode"] == "password"
    )
    for rule in acknowledged:
        assert len(rule["reason"]) >= 40, rule


# --- the function and its API --------------------------------------------------------------------
def test_function_matches_the_answers(
    combo: dict[str, Any], service: dict[str, Any], projects: dict[str, Path]
) -> None:
    _, function = main_function(service)
    props = function["Properties"]
    assert props["Runtime"] == f"python{combo.get('python_version', '3.13')}"
    assert props["Architectures"] == [combo.get("architecture", "arm64")]
    assert props["MemorySize"] == int(combo.get("lambda_memory_mb", 1024))
    assert props["Timeout"] == int(combo.get("lambda_timeout_s", 15))
    assert props["ReservedConcurrentExecutions"] == int(combo.get("reserved_concurrency", 50))
    assert props["Code"]["S3Key"].endswith(".zip")
    slug = projects[combo_id(combo)].name
    assert props["FunctionName"] == slug  # what the alarms' FunctionName dimension shows
    variables = props["Environment"]["Variables"]
    expected = {
        "MONGODB_URI",
        "MONGODB_DATABASE",
        "FUNCTION_TIMEOUT_S",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
    if combo["auth_mode"] == "password":
        secret, _ = the_one(service, "AWS::SecretsManager::Secret")
        assert variables["MONGODB_SECRET_ARN"] == {"Ref": secret}
        expected.add("MONGODB_SECRET_ARN")
    assert set(variables) == expected
    assert variables["MONGODB_URI"] == uri_for(combo)
    assert variables["MONGODB_DATABASE"] == combo.get("database_name", "app")
    # Contract 1: the function reads the timeout it really has.
    assert variables["FUNCTION_TIMEOUT_S"] == str(props["Timeout"])
    assert variables["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    # Contract D: the metrics' namespace and `service` dimension, which the alarm reads.
    assert variables["POWERTOOLS_SERVICE_NAME"] == slug
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == slug
    subnets = {s["Ref"] for s in props["VpcConfig"]["SubnetIds"]}
    assert len(subnets) == 2
    assert all("PrivateSubnet" in s for s in subnets)
    (group,) = props["VpcConfig"]["SecurityGroupIds"]
    assert "FunctionSecurityGroup" in group["Fn::GetAtt"][0]


def invoked(combo: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    """What the API invokes: the function on demand, else its alias `live` (contract A)."""
    if combo.get("cold_start", "on_demand") == "on_demand":
        return {"Fn::GetAtt": [main_function(service)[0], "Arn"]}
    return {"Ref": the_one(service, "AWS::Lambda::Alias")[0]}


def test_one_default_route_sends_everything_to_the_function(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    """Contract 3: the handler answers 404/405 itself; a new route is a handler change only."""
    _, route = the_one(service, "AWS::ApiGatewayV2::Route")
    assert route["Properties"]["RouteKey"] == "$default"
    integration_id, integration = the_one(service, "AWS::ApiGatewayV2::Integration")
    assert route["Properties"]["Target"]["Fn::Join"][1][1] == {"Ref": integration_id}
    assert integration["Properties"]["IntegrationUri"] == invoked(combo, service)
    (permission,) = [
        p["Properties"]
        for p in resources_of(service, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permission["FunctionName"] == invoked(combo, service)
    _, stage = the_one(service, "AWS::ApiGatewayV2::Stage")
    assert "DestinationArn" in stage["Properties"]["AccessLogSettings"]
    reserved = int(combo.get("reserved_concurrency", 50))
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": min(reserved, 5000),
        "ThrottlingRateLimit": min(reserved * 10, 10000),
    }


def test_stage_throttling_stays_within_the_account_limits(
    synthesized: dict[str, dict[str, Any]],
) -> None:
    """With none reserved on a tier whose budget is above API Gateway's account-level limits
    (burst 5000, 10000 requests a second), the stage asks for no more: a stage limit above the
    account's does nothing."""
    result = synthesized["big-tier-unreserved"]
    assert result["ok"], result["error"]
    project = Path(result["outdir"]).parent / "big-tier"
    assert max_reserved(next(project.iterdir())) > 5000
    template = load(result, next(project.iterdir()).name)
    _, stage = the_one(template, "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 5000,
        "ThrottlingRateLimit": 10000,
    }


def test_cold_start_mode_deploys_its_resources_and_no_others(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    """on_demand: the function alone. snapstart and provisioned: a published version and the
    alias `live` on it (contracts A-C), with SnapStart on published versions or provisioned
    concurrency (the prompt's answer, cdk.json's default) on the alias."""
    mode = combo.get("cold_start", "on_demand")
    name, function = main_function(service)
    versions = resources_of(service, "AWS::Lambda::Version")
    aliases = resources_of(service, "AWS::Lambda::Alias")
    snap_start = function["Properties"].get("SnapStart")
    if mode == "on_demand":
        assert (versions, aliases, snap_start) == ({}, {}, None)
        assert "FunctionAliasArn" not in service["Outputs"]
        return
    ((version_id, version),) = versions.items()
    assert version["Properties"]["FunctionName"] == {"Ref": name}
    ((alias_id, alias),) = aliases.items()
    props = alias["Properties"]
    assert props["Name"] == "live"
    assert props["FunctionName"] == {"Ref": name}
    assert props["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert service["Outputs"]["FunctionAliasArn"]["Value"] == {"Ref": alias_id}
    # Lambda refuses SnapStart and provisioned concurrency together.
    if mode == "snapstart":
        assert snap_start == {"ApplyOn": "PublishedVersions"}
        assert "ProvisionedConcurrencyConfig" not in props
    else:
        assert snap_start is None
        answer = int(combo.get("provisioned_concurrency", 2))
        assert props.get("ProvisionedConcurrencyConfig") == {
            "ProvisionedConcurrentExecutions": answer
        }


@pytest.mark.parametrize("job", ["provisioned-over-reserved", "provisioned-over-budget"])
def test_impossible_provisioned_concurrency_stops_synthesis(
    job: str, synthesized: dict[str, dict[str, Any]], projects: dict[str, Path]
) -> None:
    """Contract C: more than reserved (when reserved > 0), or beyond the tier's budget."""
    result = synthesized[job]
    assert not result["ok"]
    assert "SettingsError: provisionedConcurrency=" in result["error"]
    budget = max_reserved(projects[combo_id(PROVISIONED)])
    expected = {
        "provisioned-over-reserved": "provisionedConcurrency=4 exceeds reservedConcurrency=3",
        "provisioned-over-budget": f"provisionedConcurrency={budget + 1}: choose 1-{budget}",
    }
    assert expected[job] in result["error"], result["error"]
    assert not (Path(result["outdir"]) / "manifest.json").exists()


# What the provisioned environments' INIT needs before it connects and logs in.
CONNECTS_THROUGH = {
    "AWS::EC2::Route",
    "AWS::EC2::NatGateway",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "Custom::AtlasPeeringAccepter",
    "MongoDB::Atlas::NetworkPeering",
    "MongoDB::Atlas::PrivateEndpointAWS",
    "MongoDB::Atlas::ProjectIpAccessList",
    "MongoDB::Atlas::DatabaseUser",
}


def test_provisioned_environments_initialise_after_the_way_to_atlas(
    synthesized: dict[str, dict[str, Any]], projects: dict[str, Path]
) -> None:
    """Creating the alias provisions environments whose INIT connects to Atlas: the alias
    depends on the routes, the peering and its accepter, the access list, the endpoints, the
    database user and the policy that reads the secret."""
    service = load(synthesized[combo_id(PROVISIONED)], projects[combo_id(PROVISIONED)].name)
    _, function = main_function(service)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    _, alias = the_one(service, "AWS::Lambda::Alias")
    needed = {
        name
        for name, body in service["Resources"].items()
        if body["Type"] in CONNECTS_THROUGH
        or (body["Type"] == "AWS::IAM::Policy" and {"Ref": role} in body["Properties"]["Roles"])
    }
    assert needed - set(alias["DependsOn"]) == set()
    kinds = {service["Resources"][name]["Type"] for name in needed}
    assert {
        "AWS::EC2::Route",
        "Custom::AtlasPeeringAccepter",
        "MongoDB::Atlas::ProjectIpAccessList",
        "MongoDB::Atlas::DatabaseUser",
        "AWS::EC2::VPCEndpoint",  # Secrets Manager's
        "AWS::IAM::Policy",  # reading the secret
    } <= kinds, kinds


def test_the_function_code_may_not_manage_network_interfaces(service: dict[str, Any]) -> None:
    """Lambda manages the function's ENIs with its role; the code holds the role's credentials
    too, and Lambda marks only the code's requests with lambda:SourceFunctionArn."""
    _, function = main_function(service)
    role = service["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    statements = [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    allowed = {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
        if action.startswith("ec2:")
    }
    (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert "ec2:CreateNetworkInterface" in allowed
    assert set(deny["Action"]) == allowed
    assert deny["Resource"] == "*"
    (arns,) = deny["Condition"]["ArnLike"].values()
    assert list(deny["Condition"]["ArnLike"]) == ["lambda:SourceFunctionArn"]
    name = function["Properties"]["FunctionName"]
    assert [arn["Fn::Join"][1][-1] for arn in arns] == [f":function:{name}", f":function:{name}:*"]
    # Built from the fixed name: the role does not depend on the function that uses it.
    assert not any(
        target == main_function(service)[0] for _, target in walk(deny) if isinstance(target, str)
    )


# --- the network mode ----------------------------------------------------------------------------
REQUIRED = {
    "private_endpoint": {
        "MongoDB::Atlas::PrivateEndpointService",
        "MongoDB::Atlas::PrivateEndpointAWS",
        "AWS::EC2::VPCEndpoint",
    },
    "peering": {
        "MongoDB::Atlas::NetworkPeering",
        "Custom::AtlasPeeringAccepter",
        "MongoDB::Atlas::ProjectIpAccessList",
    },
    "nat": {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "MongoDB::Atlas::ProjectIpAccessList",
    },
}
FORBIDDEN = {
    "private_endpoint": REQUIRED["nat"] | REQUIRED["peering"],
    "peering": REQUIRED["nat"] - {"MongoDB::Atlas::ProjectIpAccessList"}
    | {"MongoDB::Atlas::PrivateEndpointService", "MongoDB::Atlas::PrivateEndpointAWS"},
    "nat": REQUIRED["peering"] - {"MongoDB::Atlas::ProjectIpAccessList"}
    | {"MongoDB::Atlas::PrivateEndpointService", "MongoDB::Atlas::PrivateEndpointAWS"}
    | {"MongoDB::Atlas::NetworkContainer"},
}


def test_network_mode_has_its_resources_and_no_others(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    types = {body["Type"] for body in service["Resources"].values()}
    network = combo["network_mode"]
    assert REQUIRED[network] <= types, REQUIRED[network] - types
    assert not FORBIDDEN[network] & types, FORBIDDEN[network] & types
    atlas = {t for t in types if t.startswith("MongoDB::Atlas::")}
    expected = ATLAS_TYPES[network]
    if network == "peering" and container_for(combo) != "create":
        # The region's container exists (the cluster made it): the stack creates none.
        expected = expected - {"MongoDB::Atlas::NetworkContainer"}
    assert atlas == expected
    _, vpc = the_one(service, "AWS::EC2::VPC")
    assert vpc["Properties"]["EnableDnsHostnames"] is True


def test_network_wiring(combo: dict[str, Any], service: dict[str, Any]) -> None:
    network = combo["network_mode"]
    if network == "private_endpoint":
        service_id, _ = the_one(service, "MongoDB::Atlas::PrivateEndpointService")
        endpoint = next(
            k
            for k, v in resources_of(service, "AWS::EC2::VPCEndpoint").items()
            if v["Properties"]["ServiceName"] == {"Fn::GetAtt": [service_id, "EndpointServiceName"]}
        )
        _, registration = the_one(service, "MongoDB::Atlas::PrivateEndpointAWS")
        assert registration["Properties"]["Id"] == {"Ref": endpoint}
        assert registration["Properties"]["EndpointServiceId"] == {"Fn::GetAtt": [service_id, "Id"]}
    elif network == "peering":
        containers = resources_of(service, "MongoDB::Atlas::NetworkContainer")
        peering, body = the_one(service, "MongoDB::Atlas::NetworkPeering")
        vpc, _ = the_one(service, "AWS::EC2::VPC")
        if container_for(combo) == "create":
            container, created = the_one(service, "MongoDB::Atlas::NetworkContainer")
            assert created["DeletionPolicy"] == "Retain"  # clusters will use it
            assert body["Properties"]["ContainerId"] == {"Fn::GetAtt": [container, "Id"]}
        else:
            # MongoDB::Atlas::NetworkContainer cannot adopt the container the cluster made.
            assert containers == {}
            assert body["Properties"]["ContainerId"] == CONTAINER_ID
        assert body["Properties"]["VpcId"] == {"Ref": vpc}
        accepter, custom = the_one(service, "Custom::AtlasPeeringAccepter")
        assert custom["Properties"]["AtlasPeeringId"] == {"Fn::GetAtt": [peering, "Id"]}
        # The Atlas CIDR comes from the accepted peering, never from a hand-typed value.
        atlas_cidr = {"Fn::GetAtt": [accepter, "AtlasCidrBlock"]}
        routes = [
            r
            for r in resources_of(service, "AWS::EC2::Route").values()
            if "VpcPeeringConnectionId" in r["Properties"]
        ]
        assert len(routes) == 2
        for route in routes:
            assert route["Properties"]["DestinationCidrBlock"] == atlas_cidr
            assert route["Properties"]["VpcPeeringConnectionId"] == {
                "Fn::GetAtt": [accepter, "VpcPeeringConnectionId"]
            }
        (group,) = main_function(service)[1]["Properties"]["VpcConfig"]["SecurityGroupIds"]
        egress = service["Resources"][group["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"]
        assert [rule["CidrIp"] for rule in egress] == [atlas_cidr]
        _, access = the_one(service, "MongoDB::Atlas::ProjectIpAccessList")
        assert [e["CIDRBlock"] for e in access["Properties"]["AccessList"]] == ["10.0.0.0/16"]
    else:
        eip, _ = the_one(service, "AWS::EC2::EIP")
        nat, gateway = the_one(service, "AWS::EC2::NatGateway")
        assert gateway["Properties"]["AllocationId"] == {"Fn::GetAtt": [eip, "AllocationId"]}
        through_nat = [
            r
            for r in resources_of(service, "AWS::EC2::Route").values()
            if r["Properties"].get("NatGatewayId") == {"Ref": nat}
        ]
        assert len(through_nat) == 2
        _, access = the_one(service, "MongoDB::Atlas::ProjectIpAccessList")
        assert access["Properties"]["AccessList"] == [
            {
                "CIDRBlock": {"Fn::Join": ["", [{"Fn::GetAtt": [eip, "PublicIp"]}, "/32"]]},
                "Comment": access["Properties"]["AccessList"][0]["Comment"],
            }
        ]


def test_no_open_cidr_beyond_what_a_nat_gateway_needs(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    """0.0.0.0/0 appears only in NAT-mode default routes and the function's MongoDB egress."""
    for path, value in walk(service):
        if value not in ("0.0.0.0/0", "::/0"):
            continue
        resource = service["Resources"][path[1]]
        assert combo["network_mode"] == "nat", path
        if resource["Type"] == "AWS::EC2::Route":
            assert path[2:] == ("Properties", "DestinationCidrBlock"), path
        else:
            assert resource["Type"] == "AWS::EC2::SecurityGroup", path
            assert path[1].startswith("NetworkFunctionSecurityGroup"), path
            rule = resource["Properties"]["SecurityGroupEgress"][path[4]]
            assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 27015, 27017)
    for group in resources_of(service, "AWS::EC2::SecurityGroup").values():
        assert all(
            rule.get("CidrIp") != "0.0.0.0/0"
            for rule in group["Properties"].get("SecurityGroupIngress", [])
        )


def test_every_security_group_drops_the_default_allow_all_egress(service: dict[str, Any]) -> None:
    separate = {
        rule["Properties"]["GroupId"]["Fn::GetAtt"][0]
        for rule in resources_of(service, "AWS::EC2::SecurityGroupEgress").values()
    }
    for name, group in resources_of(service, "AWS::EC2::SecurityGroup").items():
        inline = group["Properties"].get("SecurityGroupEgress", [])
        assert inline or name in separate, name
        assert all(rule["IpProtocol"] != "-1" for rule in inline), name


def test_atlas_resources_and_extensions_agree(
    combo: dict[str, Any],
    service: dict[str, Any],
    synthesized: dict[str, dict[str, Any]],
) -> None:
    extensions = load(synthesized[combo_id(combo)], EXTENSIONS_STACK)
    activated = {
        a["Properties"]["TypeName"]
        for a in resources_of(extensions, "AWS::CloudFormation::TypeActivation").values()
    }
    # One shared stack activates what every mode uses: deploying it again narrows nothing.
    assert activated == set().union(*ATLAS_TYPES.values())
    for name, body in service["Resources"].items():
        is_atlas = body["Type"].startswith("MongoDB::Atlas::")
        if is_atlas:
            assert body["Properties"]["ProjectId"] == PROJECT_ID, name
            assert body["Properties"]["Profile"] == "default", name
        # cfn-lint's unknown-type check is switched off for Atlas types and nothing else.
        assert ("cfn-lint" in body.get("Metadata", {})) == is_atlas, name
        if is_atlas:
            assert body["Metadata"]["cfn-lint"] == {"config": {"ignore_checks": ["E3006"]}}


def test_atlas_resources_match_the_published_schemas(service: dict[str, Any]) -> None:
    """Property names, required properties, enums; Fn::GetAtt only of read-only attributes."""
    for name, body in service["Resources"].items():
        if body["Type"].startswith("MongoDB::Atlas::"):
            assert atlas_schema_errors(body["Type"], body["Properties"]) == [], name
    for path, value in walk(service["Resources"]):
        if path and path[-1] == "Fn::GetAtt":
            target, attribute = value
            resource_type = service["Resources"][target]["Type"]
            if resource_type.startswith("MongoDB::Atlas::"):
                assert attribute in top_level_read_only(resource_type), (path, value)


# --- what CloudWatch and Atlas watch --------------------------------------------------------------
ANSWERS = json.loads((TESTS.parent / "cookiecutter.json").read_text())


def alarm_topic(service: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return the_one(service, "AWS::SNS::Topic")


def test_four_alarms_watch_the_function_and_its_connections(
    combo: dict[str, Any], service: dict[str, Any], projects: dict[str, Path]
) -> None:
    """Contract F: metric, statistic, window and threshold of each; ALARM and OK to the topic."""
    slug = projects[combo_id(combo)].name
    function, _ = main_function(service)
    topic, _ = alarm_topic(service)
    # N: the reserved containers (the answer; the budget's with none reserved).
    containers = int(combo.get("reserved_concurrency", 50)) or max_reserved(
        projects[combo_id(combo)]
    )
    # A container's pool sockets in 5 minutes: 6 per pool, one pool per mongos on a sharded cluster.
    sockets = pool_sockets_per_container(combo)
    timeout_ms = int(combo.get("lambda_timeout_s", 15)) * 1000
    on_function = [{"Name": "FunctionName", "Value": {"Ref": function}}]
    every_5_min = {"Period": 300, "EvaluationPeriods": 1, "DatapointsToAlarm": 1}
    at_least_one = {"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1}
    expected = {
        f"{slug}-errors": {
            **{"Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum"},
            **{"Dimensions": on_function, **every_5_min, **at_least_one},
        },
        f"{slug}-throttles": {
            **{"Namespace": "AWS/Lambda", "MetricName": "Throttles", "Statistic": "Sum"},
            **{"Dimensions": on_function, **every_5_min, **at_least_one},
        },
        f"{slug}-duration": {
            **{"Namespace": "AWS/Lambda", "MetricName": "Duration", "ExtendedStatistic": "p99"},
            **{"Dimensions": on_function, "Period": 300},
            **{"EvaluationPeriods": 3, "DatapointsToAlarm": 2},
            **{"ComparisonOperator": "GreaterThanThreshold", "Threshold": timeout_ms * 0.8},
        },
        f"{slug}-connections-created": {
            **{"Namespace": slug, "MetricName": "ConnectionsCreated", "Statistic": "Sum"},
            **{"Dimensions": [{"Name": "service", "Value": slug}], **every_5_min},
            **{"ComparisonOperator": "GreaterThanThreshold", "Threshold": sockets * containers},
        },
    }
    alarms = {
        body["Properties"]["AlarmName"]: body["Properties"]
        for body in resources_of(service, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == set(expected)
    for name, props in alarms.items():
        watched = {k: v for k, v in props.items() if k in expected[name]}
        assert watched == expected[name], name
        assert len(props["AlarmDescription"]) >= 40, name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": topic}], name
        assert not {"Statistic", "ExtendedStatistic"} <= set(props), name


def test_the_alarm_topic_is_encrypted_with_its_own_key(
    combo: dict[str, Any], service: dict[str, Any], projects: dict[str, Path]
) -> None:
    """Contract E: a customer-managed key CloudWatch may use for this project's alarms only."""
    slug = projects[combo_id(combo)].name
    region = combo.get("aws_region", "us-east-1")
    topic, body = alarm_topic(service)
    assert body["Properties"]["TopicName"] == f"{slug}-alarms"
    key, key_body = the_one(service, "AWS::KMS::Key")
    assert body["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert key_body["Properties"]["EnableKeyRotation"] is True
    alarms = (
        f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{slug}-*"
    )
    from_the_alarms = {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": alarms},
    }
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}

    def granted(statements: list[dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
        return [
            (
                sorted(as_list(s["Action"])),
                {
                    "StringEquals": s["Condition"]["StringEquals"],
                    "ArnLike": {
                        "aws:SourceArn": arn_text(
                            s["Condition"]["ArnLike"]["aws:SourceArn"], region
                        )
                    },
                },
            )
            for s in statements
            if s["Effect"] == "Allow" and s["Principal"] == cloudwatch
        ]

    key_policy = key_body["Properties"]["KeyPolicy"]["Statement"]
    assert granted(key_policy) == [(["kms:Decrypt", "kms:GenerateDataKey*"], from_the_alarms)]
    _, topic_policy = the_one(service, "AWS::SNS::TopicPolicy")
    assert topic_policy["Properties"]["Topics"] == [{"Ref": topic}]
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert granted(statements) == [(["sns:Publish"], from_the_alarms)]
    assert service["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": topic}


def test_an_email_subscription_only_with_alarm_email(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    """Contract E: alarmEmail subscribes one address; empty (cdk.json's default), nobody."""
    topic, _ = alarm_topic(service)
    subscriptions = [
        s["Properties"] for s in resources_of(service, "AWS::SNS::Subscription").values()
    ]
    if email_for(combo):
        assert subscriptions == [
            {"Protocol": "email", "Endpoint": email_for(combo), "TopicArn": {"Ref": topic}}
        ]
    else:
        assert subscriptions == []


def test_the_atlas_alert_watches_connections_against_the_tiers_limit(
    combo: dict[str, Any], service: dict[str, Any]
) -> None:
    """Contract G: CONNECTIONS_PERCENT above the budget's headroom, mailed to alarmEmail or
    else the project's owners. The published schema check covers the property names."""
    alert_id, alert = the_one(service, "MongoDB::Atlas::AlertConfiguration")
    props = alert["Properties"]
    assert props["EventTypeName"] == "OUTSIDE_METRIC_THRESHOLD"
    assert props["MetricThreshold"] == {
        "MetricName": "CONNECTIONS_PERCENT",
        "Operator": "GREATER_THAN",
        "Threshold": int(ANSWERS["_connection_headroom"] * 100),
        "Units": "RAW",
        "Mode": "AVERAGE",
    }
    every_hour = {"DelayMin": 0, "IntervalMin": 60}
    if email_for(combo):
        notification = {"TypeName": "EMAIL", "EmailAddress": email_for(combo), **every_hour}
    else:
        notification = {
            **{"TypeName": "GROUP", "Roles": ["GROUP_OWNER"]},
            **{"EmailEnabled": True, "SmsEnabled": False, **every_hour},
        }
    assert props["Notifications"] == [notification]
    # The CDK cannot derive the cluster's host names (README.md): no matcher, the whole project.
    assert "Matchers" not in props
    assert service["Outputs"]["AtlasAlertConfigurationId"]["Value"] == {
        "Fn::GetAtt": [alert_id, "Id"]
    }


SAM_EXTENSIONS = (
    TESTS.parent / "{{cookiecutter.project_slug}}" / "infra" / "sam" / "atlas-extensions.yaml"
)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arn_text(value: Any, region: str) -> str:
    """An ARN written as Fn::Sub (SAM) or Fn::Join of Refs (CDK), as one Fn::Sub string."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        text: str = value["Fn::Sub"]
        return text
    separator, parts = value["Fn::Join"]
    joined = separator.join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in parts)
    # The CDK writes the partition and region it knows (aws, the generated region) literally.
    joined = joined.replace(f":{region}:", ":${AWS::Region}:")
    return re.sub(r"^arn:aws:", "arn:${AWS::Partition}:", joined)


def extensions_summary(template: dict[str, Any], region: str) -> dict[str, Any]:
    """What the extensions stack does, whichever tool wrote it."""
    mappings = template.get("Mappings", {})
    summary: dict[str, Any] = {"Description": template["Description"]}
    for name, body in template["Resources"].items():
        props = body["Properties"]
        if body["Type"] == "AWS::IAM::Role":
            (policy,) = props["Policies"]
            statements = [
                (
                    s["Sid"],
                    sorted(as_list(s["Action"])),
                    [arn_text(r, region) for r in as_list(s["Resource"])],
                )
                for s in policy["PolicyDocument"]["Statement"]
            ]
            trust = [
                {k: v for k, v in s.items() if k != "Action"} | {"Action": as_list(s["Action"])}
                for s in props["AssumeRolePolicyDocument"]["Statement"]
            ]
            role = (props["Description"], props["MaxSessionDuration"], policy["PolicyName"])
            summary[name] = (body["Type"], role, statements, trust)
        else:
            publisher = props["PublisherId"]
            if isinstance(publisher, dict):  # SAM: !FindInMap [MongoDB, Publisher, Id]
                first, second, third = publisher["Fn::FindInMap"]
                publisher = mappings[first][second][third]
            summary[name] = (
                body["Type"],
                props["Type"],
                props["TypeName"],
                publisher,
                props["ExecutionRoleArn"],
            )
    return summary


def test_the_extensions_stack_is_the_sam_one(
    combo: dict[str, Any], synthesized: dict[str, dict[str, Any]]
) -> None:
    """SAM and CDK projects share the stack mongodb-atlas-extensions in an account: same
    resources under the same logical ids, so either tool updates it in place and neither
    narrows what the other's stacks rely on."""
    region = combo.get("aws_region", "us-east-1")
    cdk = load(synthesized[combo_id(combo)], EXTENSIONS_STACK)
    sam = sam_support.load(SAM_EXTENSIONS)
    assert extensions_summary(cdk, region) == extensions_summary(sam, region)


def test_cfn_lint_passes(
    combo: dict[str, Any], synthesized: dict[str, dict[str, Any]], projects: dict[str, Path]
) -> None:
    result = synthesized[combo_id(combo)]
    assert result["ok"], result["error"]
    config = ManualArgs(regions=[combo.get("aws_region", "us-east-1")])
    for stack in (projects[combo_id(combo)].name, EXTENSIONS_STACK):
        text = (Path(result["outdir"]) / f"{stack}.template.json").read_text()
        findings = [str(m) for m in lint(text, config=config) if m.rule.id not in CFN_LINT_ALLOWED]
        assert findings == [], (stack, findings)


def test_reserved_concurrency_budget_is_the_tiers(
    combo: dict[str, Any], projects: dict[str, Path]
) -> None:
    """reservedConcurrency may never exceed the connection budget the template checked."""
    answers = json.loads((TESTS.parent / "cookiecutter.json").read_text())
    limit = answers["_tier_connection_limits"][combo["atlas_tier"]]
    per_container = answers["_connections_per_container_per_node"]
    budget = int(limit * answers["_connection_headroom"] // per_container)
    assert max_reserved(projects[combo_id(combo)]) == budget


# --- the generated code --------------------------------------------------------------------------
def test_generated_cdk_code_is_ruff_clean(
    combo: dict[str, Any], projects: dict[str, Path], cdk_bin: Path
) -> None:
    project = projects[combo_id(combo)]
    ruff = str(cdk_bin / "ruff")
    check = run([ruff, "check", "--no-cache", *CDK_CODE], project)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run([ruff, "format", "--check", "--no-cache", *CDK_CODE], project)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_generated_cdk_code_passes_mypy_strict(
    combo: dict[str, Any],
    projects: dict[str, Path],
    code_checks: dict[str, dict[str, Any]],
) -> None:
    result = code_checks[fingerprint(projects[combo_id(combo)])]["mypy"]
    assert result["returncode"] == 0, result["output"]
    assert "Success: no issues found" in result["output"]


def test_generated_stack_tests_pass(
    combo: dict[str, Any],
    projects: dict[str, Path],
    code_checks: dict[str, dict[str, Any]],
) -> None:
    result = code_checks[fingerprint(projects[combo_id(combo)])]["pytest"]
    assert result["returncode"] == 0, result["output"][-6000:]
    summary = result["output"].strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary


# --- the project files around the app -----------------------------------------------------------
# The commands of the README's deploy steps that run app.py, which needs settings and package.
RUNS_THE_APP = re.compile(r"^\s*npx cdk (bootstrap|deploy|diff|synth)\b", re.MULTILINE)


def test_the_readme_sets_up_what_the_app_needs_before_any_cdk_command(
    combo: dict[str, Any], projects: dict[str, Path]
) -> None:
    """`cdk bootstrap` and `cdk deploy mongodb-atlas-extensions` synthesize the whole app, and
    app.py stops without dist/lambda.zip or the required settings (cdk.json ships them empty):
    the README's steps fill the settings and build the package before the first cdk command."""
    project = projects[combo_id(combo)]
    infra = project / "infra" / "cdk"
    steps = (infra / "README.md").read_text().split("## Deploy, step by step")[1]
    first_cdk = RUNS_THE_APP.search(steps)
    assert first_cdk is not None
    before = steps[: first_cdk.start()]
    assert "make package)" in before
    context = json.loads((infra / "cdk.json").read_text())["context"]
    required = ["atlasProjectId", "atlasClusterName", "mongodbUri"]
    required += ["atlasNetworkContainerId"] if combo["network_mode"] == "peering" else []
    for key in required:
        assert context[key] == "", key  # cdk.json leaves it to the user
        assert f"`{key}`" in before, key
    app = (infra / "app.py").read_text()
    assert "PACKAGE_ZIP.is_file()" in app  # what makes the order matter


def test_cli_pin_and_app_command(combo: dict[str, Any], projects: dict[str, Path]) -> None:
    infra = projects[combo_id(combo)] / "infra" / "cdk"
    cdk_json = json.loads((infra / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    for key in ("atlasProjectId", "atlasClusterName", "mongodbUri"):
        assert cdk_json["context"][key] == "", key  # the user fills these in
    if combo["network_mode"] == "peering":
        # Required, with no default that could take the path that fails where a container exists.
        assert cdk_json["context"]["atlasNetworkContainerId"] == ""
    assert cdk_json["context"]["reservedConcurrency"] == int(combo.get("reserved_concurrency", 50))
    package = json.loads((infra / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.\d+\.\d+", version), version  # exact, and 3.x reads no 2.x output
    assert package["engines"] == {"node": ">=22"}
    lock = json.loads((infra / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version
    assert lock["packages"]["node_modules/aws-cdk"]["integrity"].startswith("sha512-")
    # The libraries that write the cloud assembly are pinned exactly, like the CLI that reads it.
    pyproject = (projects[combo_id(combo)] / "pyproject.toml").read_text()
    for name, pinned in cdk_library_pins().items():
        assert f'"{name}=={pinned}"' in pyproject, name


def test_workflow_synthesizes_with_pinned_actions(
    combo: dict[str, Any], projects: dict[str, Path]
) -> None:
    project = projects[combo_id(combo)]
    text = (project / ".github" / "workflows" / "infra-cdk.yml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "npm ci" in runs and "npx cdk synth" in runs and "make package" in runs
    uri = re.search(r"-c mongodbUri=(\S+)", runs)
    assert uri, runs
    assert uri[1] in URIS.values()
    node = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-node@"))
    assert int(node["with"]["node-version"]) >= 22


def test_workflow_synth_context_passes_the_apps_settings_checks(
    projects: dict[str, Path], cdk_bin: Path
) -> None:
    """The generated workflow's `npx cdk synth -c ...`, over cdk.json's context, is what
    app.py reads: every required setting is there and valid, or the project's CI fails."""
    cases = []
    for name, project in projects.items():
        workflow = yaml.safe_load((project / ".github" / "workflows" / "infra-cdk.yml").read_text())
        (job,) = workflow["jobs"].values()
        synth = next(s["run"] for s in job["steps"] if "npx cdk synth" in s.get("run", ""))
        passed = dict(re.findall(r"-c (\w+)=(\S+)", synth))
        context = json.loads((project / "infra" / "cdk" / "cdk.json").read_text())["context"]
        cases.append([name, str(project / "infra" / "cdk"), {**context, **passed}])
    script = """
import importlib, json, sys
failed = {}
for name, folder, context in json.loads(sys.argv[1]):
    sys.path.insert(0, folder)
    try:
        importlib.import_module("service_infra.settings").Settings.from_context(context.get)
    except ValueError as error:
        failed[name] = str(error)
    finally:
        sys.path.pop(0)
        for module in [m for m in sys.modules if m.split(".")[0] == "service_infra"]:
            del sys.modules[module]
print(json.dumps(failed))
"""
    done = run(
        [str(cdk_bin / "python"), "-c", script, json.dumps(cases)], projects[next(iter(projects))]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}


# --- one construct per concern, chosen by file ------------------------------------------------
COMMON_MODULES = {
    "__init__.py",
    "alarms.py",
    "api.py",
    "atlas_alert.py",
    "database_user.py",
    "extensions_stack.py",
    "function.py",
    "network.py",
    "service_stack.py",
    "settings.py",
    "support.py",
}


def test_jinja_chooses_the_files_of_the_mode(
    combo: dict[str, Any], projects: dict[str, Path]
) -> None:
    package = projects[combo_id(combo)] / "infra" / "cdk" / "service_infra"
    expected = COMMON_MODULES | {f"network_{combo['network_mode']}.py"}
    if combo["auth_mode"] == "password":
        expected.add("database_secret.py")
    cold_start = combo.get("cold_start", "on_demand")
    if cold_start != "on_demand":
        expected.add(f"cold_start_{cold_start}.py")
    assert {p.name for p in package.glob("*.py")} == expected
    code = "\n".join(p.read_text() for p in package.glob("*.py"))
    for other in {"nat", "peering", "private_endpoint"} - {combo["network_mode"]}:
        assert f"network_{other}" not in code, other
    for other in {"snapstart", "provisioned"} - {cold_start}:
        assert f"cold_start_{other}" not in code, other
    assert ("SnapStartConf" in code) == (cold_start == "snapstart")
    assert ("provisioned_concurrent_executions" in code) == (cold_start == "provisioned")
    assert ("aws_secretsmanager" in code) == (combo["auth_mode"] == "password")


def test_the_service_stack_only_composes(combo: dict[str, Any], projects: dict[str, Path]) -> None:
    stack = projects[combo_id(combo)] / "infra" / "cdk" / "service_infra" / "service_stack.py"
    text = stack.read_text()
    imports = re.findall(r"^from (\S+) import", text, re.MULTILINE)
    assert set(imports) - {"__future__", "pathlib", "typing", "aws_cdk", "constructs"} == {
        i for i in imports if i.startswith(".")
    }
    assert re.findall(r"^from aws_cdk import (.+)$", text, re.MULTILINE) == ["Stack"]
    assert len(text.splitlines()) <= 80


def test_cdk_module_names_are_refused_as_package_names(
    combo: dict[str, Any], projects: dict[str, Path]
) -> None:
    """What infra/cdk and the accepter put on the import path must not shadow the package."""
    infra = projects[combo_id(combo)] / "infra"
    top_level = {
        p.stem
        for folder in (infra / "cdk", infra / "peering_accepter")
        if folder.is_dir()
        for p in folder.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file())
    }
    assert top_level <= pre_gen.DEPENDENCY_IMPORT_NAMES, top_level - pre_gen.DEPENDENCY_IMPORT_NAMES


# --- the pinned CDK CLI ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def cli_modules() -> Path:
    """node_modules holding the CDK CLI the template pins (npm ci once per machine)."""
    return cdk_cli()


def test_the_pinned_cli_reads_what_the_pinned_library_writes(
    cli_modules: Path, synthesized: dict[str, dict[str, Any]]
) -> None:
    """aws-cdk-lib writes a cloud-assembly schema version; the CLI refuses a newer one."""
    result = synthesized[combo_id(CDK_COMBOS[0])]
    manifest = json.loads((Path(result["outdir"]) / "manifest.json").read_text())
    written = int(manifest["version"].split(".")[0])
    assert written <= cli_max_schema(cli_modules), (manifest["version"], cli_version(cli_modules))

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    minimum = manifest.get("minimumCliVersion", "0")
    assert parts(minimum) <= parts(cli_version(cli_modules)), minimum


# One render per network mode, with the other answers varied among them.
CLI_COMBOS = [
    next(c for c in CDK_COMBOS if (c["network_mode"], c["auth_mode"], c["cluster_topology"]) == key)
    for key in (
        ("private_endpoint", "iam", "sharded"),
        ("peering", "password", "replica_set"),
        ("nat", "iam", "replica_set"),
    )
]


@pytest.mark.parametrize("combo", CLI_COMBOS, ids=combo_id)
def test_npx_cdk_synth_with_the_pinned_cli(
    combo: dict[str, Any],
    projects: dict[str, Path],
    synthesized: dict[str, dict[str, Any]],
    cli_modules: Path,
    cdk_bin: Path,
    tmp_path: Path,
) -> None:
    """What a user runs: `npx cdk synth` in infra/cdk, the CLI running `python3 app.py`."""
    infra = projects[combo_id(combo)] / "infra" / "cdk"
    link = infra / "node_modules"
    if not link.exists():
        link.symlink_to(cli_modules, target_is_directory=True)
    context = [arg for key, value in context_for(combo).items() for arg in ("-c", f"{key}={value}")]
    out = tmp_path / "cdk.out"
    npx = shutil.which("npx")
    assert npx, "npx (Node.js) is needed"
    command = [npx, "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-o", str(out)]
    done = run(
        [*command, *context],
        infra,
        PATH=f"{cdk_bin}{os.pathsep}{os.environ['PATH']}",  # python3 with the CDK libraries
        CDK_HOME=str(tmp_path / "cdk-home"),
        **CLI_ENV,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    in_process = Path(synthesized[combo_id(combo)]["outdir"])
    for stack in (projects[combo_id(combo)].name, EXTENSIONS_STACK):
        by_cli = json.loads((out / f"{stack}.template.json").read_text())["Resources"]
        expected = json.loads((in_process / f"{stack}.template.json").read_text())["Resources"]
        assert without_cli_metadata(by_cli) == expected, stack


def without_cli_metadata(resources: dict[str, Any]) -> dict[str, Any]:
    """What the CLI adds by default: construct paths, asset metadata and version reporting."""
    kept = {}
    for name, body in resources.items():
        if body["Type"] == "AWS::CDK::Metadata":
            continue
        metadata = {k: v for k, v in body.get("Metadata", {}).items() if not k.startswith("aws:")}
        kept[name] = {k: v for k, v in body.items() if k != "Metadata"}
        if metadata:
            kept[name]["Metadata"] = metadata
    return kept


def test_other_tools_ship_no_cdk(render_once: Render) -> None:
    for tool in ("terraform", "sam"):
        project = render_once(iac_tool=tool)
        assert not (project / "infra" / "cdk").exists()
        assert not (project / ".github" / "workflows" / "infra-cdk.yml").exists()
        leftover = project / "tests" / "test_infra_cdk.py"
        # The post-generation hook removes it; until then it renders empty.
        assert not leftover.exists() or leftover.read_text() == ""
        assert "aws-cdk-lib" not in (project / "pyproject.toml").read_text()
