"""What Terraform, SAM and the CDK must agree on, over every tool x auth x network render.

The answers are data (``ANSWER_SETS``: both auth modes x the three network modes, the
topologies and tiers spread over them, and one set of hostile free text); each is rendered
for each IaC tool and turned into ``stack_facts.Facts`` by that tool's adapter. Two checks
run over them:

- each tool's facts equal what the answers call for, one expectation function per rule
  (``EXPECTED``), where ``DIFFERENCES`` lists each place a tool differs from the others and
  why;
- the three tools' facts agree with each other for the same answers, field by field, except
  where ``DIFFERENCES`` says a tool differs.

``test_a_planted_change_is_seen`` shows each rule's extractors see what they claim to: a
changed value in each tool's stack changes the facts, and the expectation fails. What one tool
alone has (cfn-lint and the SAM CLI, `terraform fmt`, cdk-nag, checkov, references that resolve)
stays in tests/test_sam.py, tests/test_terraform.py and tests/test_cdk.py.

The SAM and Terraform renders are the ones tests/test_sam.py and tests/test_terraform.py
render (``render_once``); the CDK templates are the ones tests/test_cdk.py synthesizes once
per session (its ``suite`` fixture, shared by pytest-xdist workers).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
import stack_facts as sf
from combinations import (
    AUTH_MODES,
    NETWORK_MODES,
    SUPPORTED,
    Answers,
    combination,
    combination_id,
)
from conftest import Render
from rendered_stack import RenderedStack
from slugify import slugify
from stack_facts import (
    ANY,
    ATLAS_CIDR,
    ATLAS_ENDPOINT,
    CLUSTER_NAME_INPUT,
    CONNECTION_STRING,
    FUNCTION_LOG_GROUP,
    NAT_IP,
    OPEN,
    PROJECT_ID_INPUT,
    ROLE_ARN,
    SECRET,
    SECRET_ARN,
    SECRET_PASSWORD,
    SECRET_USERNAME,
    SECRETS_MANAGER_ENDPOINT,
    VPC_CIDR,
    Api,
    ConnectionString,
    DatabaseUser,
    Facts,
    Function,
    Network,
    Role,
)
from test_cdk import HOSTILE, cdk_bin, combo_id, context_for, load, suite  # noqa: F401

TOOLS = ("terraform", "sam", "cdk")
# Both auth modes x the three network modes; the topology (and so the tier and its
# connection budget) alternates, so each private endpoint topology appears once.
SHARDED = {("iam", "private_endpoint"), ("password", "peering"), ("iam", "nat")}
ANSWER_SETS: dict[str, Answers] = {
    f"{auth}-{network}": combination(
        auth, network, "-", "sharded" if (auth, network) in SHARDED else "replica_set"
    )
    for auth, network in itertools.product(AUTH_MODES, NETWORK_MODES)
}
# The smallest tier, whose connection budget is the smallest.
for auth in AUTH_MODES:
    ANSWER_SETS[f"{auth}-nat-flex"] = combination(
        auth, "nat", "-", "replica_set", atlas_tier="FLEX"
    )
# Free text that must stay data in every language: test_cdk.py's hostile answers.
ANSWER_SETS["hostile"] = {k: v for k, v in HOSTILE.items() if k != "iac_tool"}
# Each tool's cold-start combinations (combinations.py): one tool each, so no agreement check.
COLD_STARTS = {
    combination_id(answers): answers
    for answers in SUPPORTED
    if answers.get("cold_start", "on_demand") != "on_demand"
}


def answers_for(name: str, tool: str) -> Answers:
    if name in COLD_STARTS:
        assert COLD_STARTS[name]["iac_tool"] == tool
        return COLD_STARTS[name]
    if name == "hostile" and tool == "cdk":
        return HOSTILE  # test_cdk.py knows it by identity
    return {**ANSWER_SETS[name], "iac_tool": tool}


RENDERS = [
    *itertools.product(ANSWER_SETS, TOOLS),
    *((name, answers["iac_tool"]) for name, answers in COLD_STARTS.items()),
]


def answer(answers: Answers, key: str) -> str:
    return RenderedStack(answers, Path()).answer(key)


def project_slug(answers: Answers) -> str:
    """cookiecutter.json's derived default: the slug of the project name."""
    name = jinja2.Template(answer(answers, "project_name")).render()  # answers are templates
    return str(answers.get("project_slug") or slugify(name) or "-")


def package_name(answers: Answers) -> str:
    """cookiecutter.json's derived default: the slug with underscores."""
    if "package_name" in answers:
        return str(answers["package_name"])
    return project_slug(answers).replace("-", "_")


# ---------------------------------------------------------------- the facts of each render


class Extracted:
    """Facts of each render, extracted once per session (and pytest-xdist worker)."""

    def __init__(self, render_once: Render, cdk_suite: Callable[[], dict[str, Any]]) -> None:
        self.render_once = render_once
        self.cdk_suite = cdk_suite  # asked for only by CDK renders: it takes minutes to build
        self.cache: dict[tuple[str, str], Facts] = {}

    def adapter(self, name: str, tool: str) -> Any:
        answers = answers_for(name, tool)
        if tool == "cdk":
            key = combo_id(answers)
            cdk = self.cdk_suite()
            result = cdk["synthesized"][key]
            assert result["ok"], result["error"]
            project = Path(cdk["projects"][key])
            template = load(result, project.name)
            stack = RenderedStack(answers, project)
            return sf.CdkAdapter(stack, template, context_for(answers))
        stack = RenderedStack(answers, self.render_once(**answers))
        return sf.SamAdapter(stack) if tool == "sam" else sf.TerraformAdapter(stack)

    def __call__(self, name: str, tool: str) -> Facts:
        if (name, tool) not in self.cache:
            self.cache[(name, tool)] = sf.facts(self.adapter(name, tool))
        return self.cache[(name, tool)]


@pytest.fixture(scope="session")
def extracted(render_once: Render, request: pytest.FixtureRequest) -> Extracted:
    return Extracted(render_once, lambda: request.getfixturevalue("suite"))


# Under pytest-xdist (--dist loadgroup) every test that needs the CDK suite runs on the worker
# that builds it, so the other workers go on with the rest meanwhile.
def on_cdk_worker(*values: Any) -> Any:
    return pytest.param(*values, marks=pytest.mark.xdist_group("cdk"))


def grouped(renders: list[tuple[str, str]]) -> list[Any]:
    return [on_cdk_worker(n, t) if t == "cdk" else (n, t) for n, t in renders]


# ---------------------------------------------------------------- what the answers call for


def budget(answers: Answers) -> int:
    return sf.reserved_budget(answers)


def expected_function(answers: Answers) -> Function:
    package = package_name(answers)
    timeout = int(answer(answers, "lambda_timeout_s"))
    environment = {
        "MONGODB_URI": CONNECTION_STRING,
        "MONGODB_DATABASE": answer(answers, "database_name"),
        # The function reads the timeout it really has.
        "FUNCTION_TIMEOUT_S": str(timeout),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        # Powertools' service and metrics namespace: the stack's name, which is the slug unless
        # deployed under another; the ConnectionsCreated alarm reads the same two.
        "POWERTOOLS_SERVICE_NAME": project_slug(answers),
        "POWERTOOLS_METRICS_NAMESPACE": project_slug(answers),
    }
    if answers["auth_mode"] == "password":
        environment["MONGODB_SECRET_ARN"] = SECRET_ARN
    return Function(
        handler=f"{package}.handler.handler",
        handler_defined=True,
        package="dist/lambda.zip",
        runtime=f"python{answer(answers, 'python_version')}",
        architecture=answer(answers, "architecture"),
        memory_mb=int(answer(answers, "lambda_memory_mb")),
        log_retention_days=30,
        timeout_s=timeout,
        reserved_concurrency=int(answer(answers, "reserved_concurrency")),
        # A deploy-time value may never exceed the connection budget the template checked.
        reserved_concurrency_max=budget(answers),
        environment=environment,
        subnets=2,
        availability_zones=2,
        security_groups=("function",),
    )


ENI_ACTIONS = sf.VPC_ACCESS_ACTIONS


def expected_role(answers: Answers) -> Role:
    """Logs, the VPC's network interfaces (AWSLambdaVPCAccessExecutionRole) and, with a
    password, reading that one secret: nothing else."""
    grants = {sf.grant(action, ANY) for action in (*sf.LOGS_ACTIONS, *ENI_ACTIONS)}
    if answers["auth_mode"] == "password":
        grants.add(sf.grant("secretsmanager:GetSecretValue", SECRET))
    return Role(trusted=frozenset({"lambda.amazonaws.com"}), grants=frozenset(grants))


def expected_database_user(answers: Answers) -> DatabaseUser:
    """One user, readWrite on the answer's database, scoped to the one cluster; IAM: the
    function's role; password: the secret's username and password, generated, never typed."""
    common: dict[str, Any] = {
        "users": 1,
        "project": PROJECT_ID_INPUT,
        "roles": frozenset({("readWrite", answer(answers, "database_name"))}),
        "scopes": frozenset({("CLUSTER", CLUSTER_NAME_INPUT)}),
        "password_inputs": frozenset(),
        "labels": frozenset(),
        "atlas_admin_anywhere": False,
    }
    if answers["auth_mode"] == "iam":
        return DatabaseUser(
            **common,
            auth="AWS IAM ROLE",
            username=ROLE_ARN,
            auth_database="$external",
            password=None,
            secret=None,
        )
    return DatabaseUser(
        **common,
        auth="SCRAM",
        username=SECRET_USERNAME,
        auth_database="admin",
        password=SECRET_PASSWORD,
        secret=("password", 40),
    )


NETWORK_BY_MODE = {
    "private_endpoint": Network(
        function_egress=frozenset({f"tcp 1024-65535 to {ATLAS_ENDPOINT}"}),
        resources=frozenset(
            {
                "Atlas private endpoint service",
                "Atlas private endpoint registration",
                "interface endpoint to Atlas endpoint service",
            }
        ),
        routes=frozenset(),
        atlas_access_list=frozenset(),
    ),
    "peering": Network(
        function_egress=frozenset({f"tcp 27015-27017 to {ATLAS_CIDR}"}),
        resources=frozenset(
            {"Atlas network container", "Atlas network peering", "peering accepted in the VPC"}
        ),
        routes=frozenset({f"private: {ATLAS_CIDR} via peering"}),
        atlas_access_list=frozenset({VPC_CIDR}),
    ),
    "nat": Network(
        function_egress=frozenset({f"tcp 27015-27017 to {OPEN}"}),
        resources=frozenset({"internet gateway", "NAT gateway", "Elastic IP"}),
        routes=frozenset(
            {f"private: {OPEN} via NAT gateway", f"public: {OPEN} via internet gateway"}
        ),
        atlas_access_list=frozenset({NAT_IP}),
    ),
}


def expected_network(answers: Answers) -> Network:
    """Per mode: the function reaches Atlas by that path only (MongoDB's ports, or the ports
    Atlas maps nodes to behind a private endpoint); with a password, Secrets Manager through
    an interface endpoint in the VPC."""
    network = NETWORK_BY_MODE[answers["network_mode"]]
    if answers["auth_mode"] == "iam":
        return network
    return dataclasses.replace(
        network,
        function_egress=network.function_egress | {f"tcp 443 to {SECRETS_MANAGER_ENDPOINT}"},
        resources=network.resources | {"interface endpoint to secretsmanager"},
    )


def expected_api(answers: Answers) -> Api:
    """One $default route to the function (the handler answers 404/405), through the alias
    live where a cold-start mode needs published versions; bursts no bigger than the
    containers the function may run, ten requests a second each."""
    reserved = int(answer(answers, "reserved_concurrency"))
    target = "function" if answer(answers, "cold_start") == "on_demand" else "function alias live"
    return Api(
        routes=frozenset({"$default"}),
        integration=f"AWS_PROXY 2.0 {target}",
        throttling=(reserved, reserved * 10),
    )


REACHES = {
    # Through a NAT gateway, Atlas's public host names: the standard string.
    "nat": {"standard", "standard, Atlas for Government"},
    # From a peered VPC resolving through the AWS resolver the standard names resolve to
    # private addresses; -pri exists only with custom DNS for AWS, and works too.
    "peering": {"standard", "standard, Atlas for Government", "-pri"},
    # Behind a private endpoint, its strings only (the optimized one for sharded clusters).
    "private_endpoint": {"-pl-N", "-pl-N, second endpoint"},
}


def expected_connection_string(answers: Answers) -> ConnectionString:
    reaches = set(REACHES[answers["network_mode"]])
    if answers["network_mode"] == "private_endpoint" and answers["cluster_topology"] == "sharded":
        reaches.add("-pl-N-lb")
    return ConnectionString(
        source="deploy-time input",
        reaches=frozenset(reaches),
        refused=frozenset(sf.REFUSED_EVERYWHERE),
    )


EXPECTED: dict[str, Callable[[Answers], Any]] = {
    "function": expected_function,
    "role": expected_role,
    "database_user": expected_database_user,
    "network": expected_network,
    "api": expected_api,
    "connection_string": expected_connection_string,
}

# Where one tool differs from the others: (tool, "fact.field") -> (its value, why).
Difference = tuple[Callable[[Answers, Any], Any], str]
DIFFERENCES: dict[tuple[str, str], Difference] = {
    ("terraform", "function.log_retention_days"): (
        lambda answers, value: 365,
        "checkov's CKV_AWS_338 (Terraform) asks for a year of logs; SAM and the CDK keep 30 days",
    ),
    ("sam", "database_user.labels"): (
        lambda answers, value: (
            {"password-revision"} if answers["auth_mode"] == "password" else set()
        ),
        "SAM updates the user (and so sets the secret's password again) when "
        "DatabasePasswordRevision changes, through a label; Terraform's password_version and "
        "the CDK's dynamic reference need none",
    ),
    ("terraform", "connection_string.source"): (
        lambda answers, value: "read from Atlas",
        "Terraform reads the string from the cluster (mongodbatlas_advanced_cluster); SAM and "
        "the CDK take it as a deploy-time input and check it",
    ),
    ("terraform", "connection_string.reaches"): (
        lambda answers, value: value - {"-pri"},
        "Terraform reads standard_srv in peering mode: Atlas fills the -pri string only with "
        "custom DNS for AWS; a pasted -pri string works too, so SAM and the CDK accept it",
    ),
    ("cdk", "role.grants"): (
        lambda answers, value: (
            {grant for grant in value if not grant.startswith("logs:")}
            | {
                sf.grant("logs:CreateLogStream", FUNCTION_LOG_GROUP),
                sf.grant("logs:PutLogEvents", FUNCTION_LOG_GROUP),
            }
            | (
                {sf.grant("secretsmanager:DescribeSecret", SECRET)}
                if answers["auth_mode"] == "password"
                else set()
            )
        ),
        "cdk-nag (AwsSolutions-IAM4) refuses AWS managed policies: the CDK role writes its own "
        "log group only, and Secret.grant_read adds secretsmanager:DescribeSecret",
    ),
}


def expected(tool: str, answers: Answers, rule: str) -> Any:
    """What ``rule``'s expectation says for ``answers``, with ``tool``'s differences."""
    value = EXPECTED[rule](answers)
    for (who, path), (differ, _) in DIFFERENCES.items():
        fact, field = path.split(".")
        if who == tool and fact == rule:
            changed = differ(answers, getattr(value, field))
            value = dataclasses.replace(value, **{field: type(getattr(value, field))(changed)})
    return value


# ---------------------------------------------------------------- the checks


def test_every_fact_has_one_expectation() -> None:
    assert list(EXPECTED) == list(sf.FACTS)
    for tool, path in DIFFERENCES:
        fact, field = path.split(".")
        assert tool in TOOLS and field in {f.name for f in dataclasses.fields(_record(fact))}
    # Every field is compared between at least two tools.
    for fact in sf.FACTS:
        for field in dataclasses.fields(_record(fact)):
            differing = {tool for tool, path in DIFFERENCES if path == f"{fact}.{field.name}"}
            assert len(set(TOOLS) - differing) >= 2, (fact, field.name)


RECORDS = {
    "function": Function,
    "role": Role,
    "database_user": DatabaseUser,
    "network": Network,
    "api": Api,
    "connection_string": ConnectionString,
}


def _record(fact: str) -> Any:
    return RECORDS[fact]


@pytest.mark.parametrize("rule", list(EXPECTED))
@pytest.mark.parametrize(
    ("name", "tool"),
    grouped(RENDERS),
    ids=[n if n in COLD_STARTS else f"{t}-{n}" for n, t in RENDERS],
)
def test_facts_are_what_the_answers_call_for(
    name: str, tool: str, rule: str, extracted: Extracted
) -> None:
    found = getattr(extracted(name, tool), rule)
    assert found == expected(tool, answers_for(name, tool), rule)


@pytest.mark.xdist_group("cdk")
@pytest.mark.parametrize("rule", list(EXPECTED))
@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_the_three_tools_agree(name: str, rule: str, extracted: Extracted) -> None:
    facts = {tool: getattr(extracted(name, tool), rule) for tool in TOOLS}
    for field in dataclasses.fields(facts[TOOLS[0]]):
        path = f"{rule}.{field.name}"
        values = {
            tool: getattr(value, field.name)
            for tool, value in facts.items()
            if (tool, path) not in DIFFERENCES
        }
        first, *others = values.items()
        for tool, value in others:
            assert value == first[1], f"{path}: {first[0]} has {first[1]!r}, {tool} {value!r}"


# ---------------------------------------------------------------- the extractors can fail

# One planted change per rule and tool: (file to change, text, replacement) for SAM and
# Terraform, a change to the synthesized template for the CDK.
Plant = tuple[str, str, str]
PLANT_ANSWERS = "password-nat"
PLANTS: dict[tuple[str, str], Plant] = {
    ("sam", "function"): ("infra/sam/template.yaml", "MemorySize: 1024", "MemorySize: 512"),
    ("sam", "role"): (
        "infra/sam/template.yaml",
        "      Policies:\n        - AWSSecretsManagerGetSecretValuePolicy:",
        "      Policies:\n        - Statement:\n            - Effect: Allow\n"
        "              Action: secretsmanager:*\n              Resource: '*'\n"
        "        - AWSSecretsManagerGetSecretValuePolicy:",
    ),
    ("sam", "database_user"): (
        "infra/sam/template.yaml",
        "        - RoleName: readWrite",
        "        - RoleName: atlasAdmin",
    ),
    ("sam", "network"): ("infra/sam/template.yaml", "ToPort: 27017", "ToPort: 27018"),
    ("sam", "api"): (
        "infra/sam/template.yaml",
        '!Join ["", [!Ref ReservedConcurrency, "0"]]',
        '!Join ["", [!Ref ReservedConcurrency, "00"]]',
    ),
    ("sam", "connection_string"): ("infra/sam/template.yaml", "(pri|pl-", "(xyz|pl-"),
    ("terraform", "function"): (
        "infra/terraform/function.tf",
        "var.reserved_concurrency == 0 ? -1 : var.reserved_concurrency",
        "var.reserved_concurrency == 0 ? -1 : 0",
    ),
    ("terraform", "role"): (
        "infra/terraform/database_secret.tf",
        'actions   = ["secretsmanager:GetSecretValue"]',
        'actions   = ["secretsmanager:*"]',
    ),
    ("terraform", "database_user"): (
        "infra/terraform/database_user.tf",
        '    type = "CLUSTER"',
        '    type = "DATA_LAKE"',
    ),
    ("terraform", "network"): (
        "infra/terraform/network_nat.tf",
        "to_port           = 27017",
        "to_port           = 65535",
    ),
    ("terraform", "api"): (
        "infra/terraform/api.tf",
        'route_key = "$default"',
        'route_key = "ANY /"',
    ),
    ("terraform", "connection_string"): (
        "infra/terraform/network_nat.tf",
        "connection_strings.standard_srv",
        "connection_strings.private_srv",
    ),
}
CDK_PLANTS: dict[str, Callable[[dict[str, Any]], None]] = {}


def _plant_cdk(rule: str) -> Callable[[Callable[[dict[str, Any]], None]], Any]:
    def register(change: Callable[[dict[str, Any]], None]) -> Any:
        CDK_PLANTS[rule] = change
        return change

    return register


def _cdk_function(template: dict[str, Any]) -> dict[str, Any]:
    found = [
        body["Properties"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::Lambda::Function"
        and body["Properties"]["Handler"].endswith(".handler.handler")
    ]
    (function,) = found
    return function


@_plant_cdk("function")
def _(template: dict[str, Any]) -> None:
    _cdk_function(template)["Environment"]["Variables"]["FUNCTION_TIMEOUT_S"] = "30"


@_plant_cdk("role")
def _(template: dict[str, Any]) -> None:
    role = _cdk_function(template)["Role"]["Fn::GetAtt"][0]
    policy = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"][0]["Resource"] = "*"


@_plant_cdk("database_user")
def _(template: dict[str, Any]) -> None:
    for body in template["Resources"].values():
        if body["Type"] == "MongoDB::Atlas::DatabaseUser":
            body["Properties"]["DatabaseName"] = "$external"


@_plant_cdk("network")
def _(template: dict[str, Any]) -> None:
    for body in template["Resources"].values():
        if body["Type"] == "MongoDB::Atlas::ProjectIpAccessList":
            body["Properties"]["AccessList"][0]["CIDRBlock"] = "0.0.0.0/0"


@_plant_cdk("api")
def _(template: dict[str, Any]) -> None:
    for body in template["Resources"].values():
        if body["Type"] == "AWS::ApiGatewayV2::Stage":
            body["Properties"]["DefaultRouteSettings"]["ThrottlingBurstLimit"] = 5000


@_plant_cdk("connection_string")
def _(template: dict[str, Any]) -> None:
    """The settings module decides; the CDK adapter's check is tested against a broken one."""


@pytest.mark.parametrize("rule", list(EXPECTED))
@pytest.mark.parametrize("tool", [t if t != "cdk" else on_cdk_worker(t) for t in TOOLS])
def test_a_planted_change_is_seen(
    tool: str,
    rule: str,
    extracted: Extracted,
    render_once: Render,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = answers_for(PLANT_ANSWERS, tool)
    good = extracted(PLANT_ANSWERS, tool)
    adapter = extracted.adapter(PLANT_ANSWERS, tool)
    if tool == "cdk":
        planted = copy.deepcopy(adapter.synthesized)
        CDK_PLANTS[rule](planted)
        broken = sf.CdkAdapter(RenderedStack(answers, adapter.project), planted, adapter.context)
        if rule == "connection_string":
            settings = broken.settings
            monkeypatch.setattr(settings, "ACCEPTED_KINDS", frozenset({"standard", "-pri"}))
    else:
        file, text, replacement = PLANTS[(tool, rule)]
        project = tmp_path / adapter.project.name
        shutil.copytree(adapter.project, project)
        source = project / file
        assert source.read_text().count(text) == 1, (file, text)
        source.write_text(source.read_text().replace(text, replacement))
        stack = RenderedStack(answers, project)
        broken = sf.SamAdapter(stack) if tool == "sam" else sf.TerraformAdapter(stack)
    found = getattr(broken, rule)()
    assert getattr(good, rule) == expected(tool, answers, rule)
    assert found != expected(tool, answers, rule), json.dumps(str(found))[:300]
