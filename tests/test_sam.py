"""The AWS SAM stack (infra/sam) of every SAM combination: lint, schemas, wiring, SAM CLI, checkov.

Each combination is rendered once. Its template is linted as written (what the generated
project's `sam validate --lint` sees) and after the SAM transform (so the function's runtime,
role, policies and `Fn::GetAtt` targets are linted as plain CloudFormation). The
MongoDB::Atlas resources, which cfn-lint cannot check, are validated against the published
schemas; the per-mode resources are checked for how they reference each other, and the
deploy-time parameters (reserved concurrency, an existing endpoint service, the connection
string) for what CloudFormation would deploy with them. The SAM CLI itself (`sam validate
--lint`, `sam build`, the extensions' `sam deploy` settings) runs offline on one render per
network mode. checkov runs once over every render.

Cold starts (snapstart, provisioned) and the alarms and Atlas alert are read from the same
renders and their SAM transform: no extra render or SAM CLI run.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import shutil
import tomllib
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sam_support as sam
import yaml
from combinations import SUPPORTED, Answers, combination, combination_id
from conftest import Render
from rendered_stack import DEFAULTS, RenderedStack, pool_sockets_per_container
from sam_toolchain import SAM_CLI_VERSION, run_sam
from stack_facts import VPC_ACCESS_ACTIONS, reserved_budget
from toolchains import CheckovReport, run_checkov

SAM_COMBINATIONS = [answers for answers in SUPPORTED if answers["iac_tool"] == "sam"]
IDS = [combination_id(answers) for answers in SAM_COMBINATIONS]

# Free text that must survive into YAML, JSON and Markdown unchanged.
AWKWARD = {
    "project_name": 'Ünïcode "Quoted": Service #1 & $HOME',
    "database_name": "d'b-ü{x}",
}

# Every type any rendering uses: what atlas-extensions.yaml activates, in every rendering.
ALL_ATLAS_TYPES = {
    "MongoDB::Atlas::DatabaseUser",
    "MongoDB::Atlas::ProjectIpAccessList",
    "MongoDB::Atlas::NetworkContainer",
    "MongoDB::Atlas::NetworkPeering",
    "MongoDB::Atlas::PrivateEndpointService",
    "MongoDB::Atlas::PrivateEndpointAWS",
    "MongoDB::Atlas::AlertConfiguration",
}
# Every rendering: the database user and the connections alert.
ATLAS_TYPES_ALWAYS = {"MongoDB::Atlas::DatabaseUser", "MongoDB::Atlas::AlertConfiguration"}
ATLAS_TYPES_BY_MODE = {
    "private_endpoint": ATLAS_TYPES_ALWAYS
    | {"MongoDB::Atlas::PrivateEndpointService", "MongoDB::Atlas::PrivateEndpointAWS"},
    "peering": ATLAS_TYPES_ALWAYS
    | {
        "MongoDB::Atlas::NetworkContainer",
        "MongoDB::Atlas::NetworkPeering",
        "MongoDB::Atlas::ProjectIpAccessList",
    },
    "nat": ATLAS_TYPES_ALWAYS | {"MongoDB::Atlas::ProjectIpAccessList"},
}
OPEN = ("0.0.0.0/0", "::/0")


class Stack(RenderedStack):
    """One rendered project's SAM files, parsed once."""

    @property
    def folder(self) -> Path:
        return self.project / "infra" / "sam"

    @property
    def topology(self) -> str:
        return self.answer("cluster_topology")

    @property
    def cold_start(self) -> str:
        return self.answer("cold_start")

    @property
    def provisioned_default(self) -> int:
        """The prompt's provisioned_concurrency (cookiecutter.json: 2 with provisioned)."""
        return int(self.answers.get("provisioned_concurrency", 2))

    @property
    def max_reserved(self) -> int:
        """The connection budget's maximum reserved concurrency, from cookiecutter.json's data."""
        limit = DEFAULTS["_tier_connection_limits"][self.answer("atlas_tier")]
        per_container = DEFAULTS["_connections_per_container_per_node"]
        return int(limit * DEFAULTS["_connection_headroom"] // per_container)

    @cached_property
    def text(self) -> str:
        return (self.folder / "template.yaml").read_text(encoding="utf-8")

    @cached_property
    def template(self) -> sam.Template:
        return sam.parse(self.text)

    @cached_property
    def transformed(self) -> sam.Template:
        return sam.transform(self.template, self.region)

    @cached_property
    def extensions(self) -> sam.Template:
        return sam.load(self.folder / "atlas-extensions.yaml")

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def props(self, name: str) -> dict[str, Any]:
        return self.resources[name]["Properties"]

    def deployed(self, **values: Any) -> sam.Evaluation:
        """The transformed template as CloudFormation deploys it with these parameter values."""
        return sam.Evaluation(self.transformed, {"AWS::Region": self.region, **values})


@pytest.fixture(scope="session")
def stacks(render_once: Render) -> dict[str, Stack]:
    return {
        combination_id(answers): Stack(answers, render_once(**answers))
        for answers in SAM_COMBINATIONS
    }


@pytest.fixture(params=SAM_COMBINATIONS, ids=IDS)
def stack(request: pytest.FixtureRequest, stacks: dict[str, Stack]) -> Stack:
    return stacks[combination_id(request.param)]


@pytest.fixture(scope="session")
def awkward(render_once: Render) -> Stack:
    answers: Answers = {**SAM_COMBINATIONS[0], **AWKWARD, "auth_mode": "password"}
    return Stack(answers, render_once(**answers))


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


# ---------------------------------------------------------------- files and rendering


def test_only_sam_files_are_generated(stack: Stack) -> None:
    assert sorted(p.name for p in stack.folder.iterdir()) == [
        "README.md",
        "atlas-extensions.yaml",
        "samconfig.toml",
        "template.yaml",
    ]
    # The peering accepter's source is shared with the CDK app (a folder of its own).
    accepter = ["peering_accepter"] if stack.answers["network_mode"] == "peering" else []
    assert sorted(p.name for p in (stack.project / "infra").iterdir()) == [*accepter, "sam"]
    workflows = stack.project / ".github" / "workflows"
    assert sorted(p.name for p in workflows.glob("infra-*.yml")) == ["infra-sam.yml"]
    for path in [*stack.folder.iterdir(), workflows / "infra-sam.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "cookiecutter." not in text, path
        assert "{%" not in text and "{#" not in text, path
        # The one `{{` the stack needs is the dynamic reference to the generated password
        # (which the password README quotes).
        for line in text.splitlines():
            if "{{" in line:
                assert "{{resolve:secretsmanager:" in line, (path, line)


def test_awkward_answers_stay_data(awkward: Stack) -> None:
    template = awkward.template
    assert AWKWARD["project_name"] in template["Description"]
    function = template["Resources"]["ApiFunction"]["Properties"]
    assert function["Environment"]["Variables"]["MONGODB_DATABASE"] == AWKWARD["database_name"]
    roles = awkward.props("AtlasDatabaseUser")["Roles"]
    assert roles == [{"RoleName": "readWrite", "DatabaseName": AWKWARD["database_name"]}]
    assert sam.cfn_lint(awkward.text, awkward.region) == []
    assert (
        sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", awkward.props("AtlasDatabaseUser"))
        == []
    )


# ---------------------------------------------------------------- cfn-lint


def test_cfn_lint_as_written(stack: Stack) -> None:
    """What the generated project's `sam validate --lint` runs: no error, no warning."""
    assert sam.cfn_lint(stack.text, stack.region) == []


def test_cfn_lint_after_sam_transform(stack: Stack) -> None:
    transformed = stack.transformed
    functions = sam.resources_of_type(transformed, "AWS::Lambda::Function")
    assert set(functions) >= {"ApiFunction"}
    assert "ApiFunctionRole" in transformed["Resources"]
    assert sam.cfn_lint(json.dumps(transformed), stack.region) == []


def test_cfn_lint_atlas_extensions(stack: Stack) -> None:
    text = (stack.folder / "atlas-extensions.yaml").read_text(encoding="utf-8")
    assert sam.cfn_lint(text, stack.region) == []


def test_e3006_is_ignored_only_for_atlas_resources(stack: Stack) -> None:
    assert "cfn-lint" not in stack.template.get("Metadata", {})
    ignoring = {}
    for name, resource in stack.resources.items():
        config = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
        if config:
            ignoring[name] = config
    atlas = sam.resources_of_type(stack.template, sam.ATLAS_PREFIX)
    assert set(ignoring) == set(atlas)
    assert all(config == {"ignore_checks": ["E3006"]} for config in ignoring.values())

    # Without those ignores, E3006 is all cfn-lint reports, once per Atlas resource.
    stripped = json.loads(json.dumps(stack.template))
    for name in atlas:
        del stripped["Resources"][name]["Metadata"]["cfn-lint"]
    findings = sam.cfn_lint(json.dumps(stripped), stack.region)
    assert findings and all(f.startswith("[E3006") for f in findings), findings
    assert {
        name for name in atlas if any(f"'{atlas[name]['Type']}'" in f for f in findings)
    } == set(atlas)


# ---------------------------------------------------------------- MongoDB::Atlas resources


def test_atlas_types_per_network_mode(stack: Stack) -> None:
    atlas = sam.resources_of_type(stack.template, sam.ATLAS_PREFIX)
    assert {r["Type"] for r in atlas.values()} == ATLAS_TYPES_BY_MODE[stack.network]


def test_atlas_resources_match_published_schemas(stack: Stack) -> None:
    for name, resource in sam.resources_of_type(stack.transformed, sam.ATLAS_PREFIX).items():
        errors = sam.atlas_schema_errors(resource["Type"], resource["Properties"])
        assert errors == [], f"{name} ({resource['Type']}): {errors}"
        assert resource["Properties"]["Profile"] == ref("AtlasProfile"), name
        assert resource["Properties"]["ProjectId"] == ref("AtlasProjectId"), name


def test_schema_check_can_fail() -> None:
    """The schema check rejects what CloudFormation would: unknown, missing, off-enum, read-only."""
    user = {
        "ProjectId": ref("AtlasProjectId"),
        "Username": getatt("ApiFunctionRole", "Arn"),
        "DatabaseName": "$external",
        "AWSIAMType": "ROLE",
        "Roles": [{"RoleName": "readWrite", "DatabaseName": "app"}],
    }
    assert sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", user) == []
    bad = [
        {**user, "AwsIamType": "ROLE"},
        {k: v for k, v in user.items() if k != "Roles"},
        {**user, "AWSIAMType": "ROLES"},
        {**user, "Roles": ref("SomeList")},
        {**user, "Roles": [{"RoleName": "readWrite", "Database": "app"}]},
        {**user, "UserCFNIdentifier": "x"},
        {**user, "AWSIAMType": {"Fn::If": ["C", "ROLE", ["not", "a", "string"]]}},
    ]
    for properties in bad:
        assert sam.atlas_schema_errors("MongoDB::Atlas::DatabaseUser", properties), properties


def test_references_resolve(stack: Stack) -> None:
    """Every Ref, GetAtt, Sub variable and condition points at something declared.

    cfn-lint does not look inside MongoDB::Atlas resources; GetAtt on them must name a
    read-only property of the published schema.
    """
    assert sam.unresolved_references(stack.transformed) == []
    assert sam.unresolved_references(stack.extensions) == []


def test_reference_check_can_fail(stack: Stack) -> None:
    broken = json.loads(json.dumps(stack.transformed))
    user = broken["Resources"]["AtlasDatabaseUser"]["Properties"]
    user["ProjectId"] = ref("AtlasProjectID")
    assert sam.unresolved_references(broken) == [
        "Resources: Ref AtlasProjectID: no such parameter or resource"
    ]


# ---------------------------------------------------------------- the function


def test_function_reads_the_timeout_it_has(stack: Stack) -> None:
    """Contract 1: FUNCTION_TIMEOUT_S and the timeout come from one value, whatever it is."""
    parameter = stack.template["Parameters"]["FunctionTimeout"]
    assert parameter == {
        "Type": "Number",
        "Description": parameter["Description"],
        "Default": int(stack.answer("lambda_timeout_s")),
        "MinValue": 3,
        "MaxValue": 900,
    }
    for timeout in (parameter["Default"], 3, 900, 42):
        function = stack.deployed(FunctionTimeout=timeout).resources["ApiFunction"]["Properties"]
        assert function["Timeout"] == str(timeout)
        assert function["Environment"]["Variables"]["FUNCTION_TIMEOUT_S"] == str(timeout)


def test_reserved_concurrency_parameter(stack: Stack) -> None:
    """Contract 2: default = the answer, 0 = reserve nothing, at most the budget's maximum."""
    parameter = stack.template["Parameters"]["ReservedConcurrency"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == int(stack.answer("reserved_concurrency"))
    assert parameter["MinValue"] == 0
    assert parameter["MaxValue"] == stack.max_reserved
    assert str(stack.max_reserved) in parameter["Description"]

    def deployed(reserved: int) -> tuple[dict[str, Any], dict[str, Any]]:
        resources = stack.deployed(ReservedConcurrency=reserved).resources
        stage = resources["HttpApiApiGatewayDefaultStage"]["Properties"]
        return resources["ApiFunction"]["Properties"], stage["DefaultRouteSettings"]

    for reserved in (1, parameter["Default"], parameter["MaxValue"]):
        function, throttling = deployed(reserved)
        assert function["ReservedConcurrentExecutions"] == str(reserved)
        # A burst of one request per container, ten requests a second per container.
        assert throttling == {
            "ThrottlingBurstLimit": str(reserved),
            "ThrottlingRateLimit": str(reserved * 10),
        }
        assert float(throttling["ThrottlingRateLimit"]) == reserved * 10
    # 0 reserves nothing (Lambda would read 0 as "never run"), and the API keeps API
    # Gateway's account-level throttling instead of a limit of zero.
    function, throttling = deployed(0)
    assert "ReservedConcurrentExecutions" not in function
    assert throttling == {}


def test_http_api_sends_every_request_to_the_function(stack: Stack) -> None:
    """Contract 3: one `$default` route; the handler answers 404/405 itself."""
    events = stack.props("ApiFunction")["Events"]
    assert events == {"Api": {"Type": "HttpApi", "Properties": {"ApiId": ref("HttpApi")}}}
    api = stack.transformed["Resources"]["HttpApi"]["Properties"]
    paths = api["Body"]["paths"]
    assert list(paths) == ["$default"]
    route = paths["$default"]["x-amazon-apigateway-any-method"]
    assert route["isDefaultRoute"] is True
    integration = route["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["payloadFormatVersion"] == "2.0"
    # The function itself, or with a published version its alias (test_cold_start_resources).
    target = "${ApiFunction.Arn}" if stack.cold_start == "on_demand" else "${ApiFunctionAliaslive}"
    assert f"/functions/{target}/invocations" in integration["uri"]["Fn::Sub"]
    assert stack.props("HttpApi")["AccessLogSettings"]["DestinationArn"] == getatt(
        "HttpApiAccessLogGroup", "Arn"
    )
    outputs = stack.template["Outputs"]
    assert "${HttpApi}" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert outputs["FunctionName"]["Value"] == ref("ApiFunction")


def _role_statements(transformed: sam.Template, role: str) -> list[dict[str, Any]]:
    properties = transformed["Resources"][role]["Properties"]
    return [
        s
        for policy in properties.get("Policies", [])
        for s in policy["PolicyDocument"]["Statement"]
    ]


# ---------------------------------------------------------------- cold starts

COLD_START_TEXT = {
    "alias": ("AutoPublishAlias", "FunctionAliasArn"),
    "snapstart": ("SnapStart", "PublishedVersions"),
    "provisioned": ("ProvisionedConcurrency",),
}


def _of_type(template: sam.Template, resource_type: str) -> dict[str, Any]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == resource_type}


def test_cold_start_resources(stack: Stack) -> None:
    """Contracts A-C in what CloudFormation receives (the SAM transform's output).

    snapstart and provisioned publish a version and point the alias `live` at it; the HTTP
    API's integration and its invoke permission target the alias. SnapStart applies to
    published versions; provisioned concurrency sits on the alias. on_demand has none of it,
    and no mode's render carries another mode's words.
    """
    transformed = stack.transformed
    function = transformed["Resources"]["ApiFunction"]["Properties"]
    versions = _of_type(transformed, "AWS::Lambda::Version")
    aliases = _of_type(transformed, "AWS::Lambda::Alias")
    (permission,) = _of_type(transformed, "AWS::Lambda::Permission").values()
    route = transformed["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]["$default"]
    uri = route["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"]
    text = stack.text
    for mode, words in COLD_START_TEXT.items():
        present = mode == stack.cold_start or (mode == "alias" and stack.cold_start != "on_demand")
        for word in words:
            assert (word in text) is present, (mode, word)
    if stack.cold_start == "on_demand":
        assert versions == aliases == {}
        assert "SnapStart" not in function
        assert uri == {
            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
            "/functions/${ApiFunction.Arn}/invocations"
        }
        assert permission["Properties"]["FunctionName"] == ref("ApiFunction")
        assert "FunctionAliasArn" not in transformed["Outputs"]
        return

    (version_name,) = versions
    assert versions[version_name]["Properties"]["FunctionName"] == ref("ApiFunction")
    assert list(aliases) == ["ApiFunctionAliaslive"]
    alias = aliases["ApiFunctionAliaslive"]["Properties"]
    assert alias["Name"] == "live"
    assert alias["FunctionName"] == ref("ApiFunction")
    assert alias["FunctionVersion"] == getatt(version_name, "Version")
    # The API invokes the alias (its Ref is the alias ARN), and may invoke nothing else.
    assert uri == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
        "/functions/${ApiFunctionAliaslive}/invocations"
    }
    assert permission["Properties"]["FunctionName"] == ref("ApiFunctionAliaslive")
    assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    assert transformed["Outputs"]["FunctionAliasArn"]["Value"] == ref("ApiFunctionAliaslive")
    if stack.cold_start == "snapstart":
        assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert "ProvisionedConcurrencyConfig" not in alias
    else:
        assert "SnapStart" not in function
        assert alias["ProvisionedConcurrencyConfig"] == {
            "ProvisionedConcurrentExecutions": ref("ProvisionedConcurrency")
        }
        deployed = stack.deployed(ProvisionedConcurrency=7).resources
        config = deployed["ApiFunctionAliaslive"]["Properties"]["ProvisionedConcurrencyConfig"]
        assert config == {"ProvisionedConcurrentExecutions": "7"}


def _version_names(template: sam.Template) -> set[str]:
    return set(_of_type(template, "AWS::Lambda::Version"))


def test_language_extensions_publish_a_version_per_parameter_change(stack: Stack) -> None:
    """AWS::LanguageExtensions runs before the SAM transform (every render, for uniformity).

    With AutoPublishAlias, SAM names the version after a hash of the function's properties as
    it sees them. Without the extensions it sees `!Ref FunctionTimeout` whatever the value, so
    a parameter-only change publishes no version and the alias keeps the old one; with them,
    CloudFormation puts the values in first and the version changes with them.
    """
    template = stack.template
    assert sam.transforms(template) == [sam.LANGUAGE_EXTENSIONS, sam.SAM_TRANSFORM]
    assert "CAPABILITY_AUTO_EXPAND" in stack.text  # the comment says why deploys need it
    assert sam.language_extensions_functions(template) == set()
    if stack.cold_start == "on_demand":
        assert _version_names(stack.transformed) == set()
        return
    changes: list[dict[str, Any]] = [
        {"FunctionTimeout": 42},
        {"MongoDbUri": "mongodb+srv://other.ab1cd.mongodb.net"},
    ]
    required = {"AtlasNetworkContainerId": "create"} if stack.network == "peering" else {}
    plain = {"AtlasProjectId": "5f1a2b3c4d5e6f7a8b9c0d1e", "AtlasClusterName": "Cluster0"}
    base = {**plain, **required, "MongoDbUri": "mongodb+srv://cluster0.ab1cd.mongodb.net"}

    def version(values: dict[str, Any], extensions: bool = True) -> str:
        resolved = sam.language_extensions(template, values) if extensions else template
        (name,) = _version_names(sam.transform(resolved, stack.region))
        return name

    first = version(base)
    assert version(base) == first  # the same values: the same version, nothing published
    for change in changes:
        assert version({**base, **change}) != first, change
    # Reserved concurrency belongs to the function, not to a version: no version for it.
    assert version({**base, "ReservedConcurrency": 7}) == first
    # Without the extensions SAM never sees the values: one version name whatever they are.
    assert version(base, extensions=False) == version({**base, **changes[0]}, extensions=False)


def _depends_on(template: sam.Template, name: str) -> set[str]:
    """Every resource CloudFormation creates before ``name``: references and DependsOn."""
    resources = template["Resources"]
    seen: set[str] = set()
    todo = [name]
    while todo:
        resource = resources[todo.pop()]
        direct = {t for kind, t, _ in sam.references(resource) if kind != "Condition"}
        direct |= set(sam._as_list(resource.get("DependsOn", [])))
        for target in direct & set(resources) - seen:
            seen.add(target)
            todo.append(target)
    return seen


# What the provisioned containers' INIT needs to reach Atlas, per network and auth mode.
PATH_TO_ATLAS = {
    "nat": {"PrivateDefaultRoute", "NatGateway", "AtlasAccessList"},
    "peering": {"AtlasPeeringRoute", "AtlasPeeringAccepter", "AtlasAccessList"},
    "private_endpoint": {"FunctionToAtlasEndpointEgress", "AtlasPrivateEndpoint"},
}
PATH_TO_SECRET = {"FunctionToSecretsManagerEgress", "SecretsManagerEndpoint"}


def test_provisioned_containers_wait_for_the_path_to_atlas(stack: Stack) -> None:
    """Provisioned containers connect during INIT, once the alias exists: the alias (through
    its version and the function) comes after every resource on the way to Atlas, and after
    the database user. Other modes connect on a request, and wait for none of it."""
    transformed = stack.transformed
    path = PATH_TO_ATLAS[stack.network] | {
        "PrivateSubnetARouteTableAssociation",
        "PrivateSubnetBRouteTableAssociation",
        "AtlasDatabaseUser",
    }
    if stack.auth == "password":
        path |= PATH_TO_SECRET
    before_function = _depends_on(transformed, "ApiFunction")
    assert "ApiFunctionCodeManagesNoNetworkInterfaces" in before_function
    if stack.cold_start != "provisioned":
        assert stack.resources["ApiFunction"]["DependsOn"] == [
            "ApiFunctionCodeManagesNoNetworkInterfaces"
        ]
        assert not path - {"AtlasDatabaseUser"} <= before_function
        return
    missing = path - _depends_on(transformed, "ApiFunctionAliaslive")
    assert missing == set(), missing
    assert path <= before_function


# The EC2 actions of AWSLambdaVPCAccessExecutionRole, which SAM attaches for VpcConfig.
VPC_ACCESS_EC2_ACTIONS = {a for a in VPC_ACCESS_ACTIONS if a.startswith("ec2:")}


def _denied(statement: dict[str, Any], action: str, context: dict[str, str]) -> bool:
    """Whether a Deny statement with only Null conditions applies to a request."""
    if action not in sam._as_list(statement["Action"]) or statement["Resource"] != "*":
        return False
    for operator, keys in statement.get("Condition", {}).items():
        assert operator == "Null", operator
        for key, absent in keys.items():
            if (key not in context) != (absent == "true"):
                return False
    return True


def test_function_code_manages_no_network_interfaces(stack: Stack) -> None:
    """The role may manage ENIs (Lambda does it with the role, outside the execution
    environment); the function's own calls carry lambda:SourceFunctionArn and are denied."""
    transformed = stack.transformed
    role = transformed["Resources"]["ApiFunctionRole"]["Properties"]
    assert sam.MANAGED_POLICIES["AWSLambdaVPCAccessExecutionRole"] in role["ManagedPolicyArns"]
    policy = transformed["Resources"]["ApiFunctionCodeManagesNoNetworkInterfaces"]
    assert policy["Type"] == "AWS::IAM::RolePolicy"
    assert policy["Properties"]["RoleName"] == ref("ApiFunctionRole")
    # No reference to the function: the function waits for the Deny, never the reverse.
    assert "ApiFunction" not in {t for _, t, _ in sam.references(policy)}
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert set(statement["Action"]) == VPC_ACCESS_EC2_ACTIONS
    assert statement["Condition"] == {"Null": {"lambda:SourceFunctionArn": "false"}}
    from_code = {"lambda:SourceFunctionArn": "arn:aws:lambda:us-east-1:1:function:f"}
    for action in VPC_ACCESS_EC2_ACTIONS:
        assert _denied(statement, action, from_code), action
        assert not _denied(statement, action, {}), action  # Lambda's own ENI calls
    assert not _denied(statement, "secretsmanager:GetSecretValue", from_code)
    # The comment cites the Lambda documentation that promises the key.
    assert "lambda/latest/dg/permissions-source-function-arn.html" in stack.text


# (ProvisionedConcurrency, ReservedConcurrency) pairs and whether the rule lets them deploy.
PROVISIONED_PAIRS = {
    (2, 50): True,  # the defaults
    (2, 2): True,
    (10, 10): True,
    (11, 11): True,
    (600, 600): True,
    (600, 0): True,  # nothing reserved: the account's unreserved pool provisions them
    (1, 0): True,
    (2, 1): False,
    (7, 3): False,
    (10, 9): False,
    (11, 10): False,
    (600, 1): False,
}


def test_provisioned_concurrency_parameter_and_rule(stack: Stack) -> None:
    """Contract C: 1 to the budget's maximum, default the prompt's answer, and at most the
    reserved concurrency when that is not 0: refused before anything is created.

    Rules compare strings only, so the rule spells out every pair with a provisioned value up
    to 10 and reserved values up to 10 under larger ones; Lambda refuses the rest itself.
    """
    parameters = stack.template["Parameters"]
    rules = stack.template.get("Rules", {})
    if stack.cold_start != "provisioned":
        assert "ProvisionedConcurrency" not in parameters
        assert "ProvisionedConcurrencyWithinReserved" not in rules
        return
    parameter = parameters["ProvisionedConcurrency"]
    assert parameter == {
        "Type": "Number",
        "Description": parameter["Description"],
        "Default": stack.provisioned_default,
        "MinValue": 1,
        "MaxValue": stack.max_reserved,
    }
    rule = rules["ProvisionedConcurrencyWithinReserved"]
    (assertion,) = rule["Assertions"]
    description = " ".join(assertion["AssertDescription"].split())
    assert description.startswith("ProvisionedConcurrency must be at most ReservedConcurrency")
    for (provisioned, reserved), allowed in PROVISIONED_PAIRS.items():
        values = {"ProvisionedConcurrency": provisioned, "ReservedConcurrency": reserved}
        broken = stack.deployed(**values).broken_rules()
        assert broken == ([] if allowed else [assertion["AssertDescription"]]), values
    # Exactly the pairs the comment promises: every one up to 10, ...
    for provisioned in range(1, 11):
        for reserved in range(0, 12):
            values = {"ProvisionedConcurrency": provisioned, "ReservedConcurrency": reserved}
            broken = bool(stack.deployed(**values).broken_rules())
            assert broken == (0 < reserved < provisioned), values
    # ... and a larger pair is Lambda's to refuse (README.md, "What can go wrong").
    assert stack.deployed(ProvisionedConcurrency=30, ReservedConcurrency=20).broken_rules() == []


# ---------------------------------------------------------------- alarms and the Atlas alert

ALARMS = {
    "ErrorsAlarm": "errors",
    "ThrottlesAlarm": "throttles",
    "DurationAlarm": "duration",
    "ConnectionsCreatedAlarm": "connections-created",
}
FUNCTION_DIMENSION = [{"Name": "FunctionName", "Value": ref("ApiFunction")}]


def _metric(stat: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]], str, int]:
    metric = stat["Metric"]
    return (
        metric["Namespace"],
        metric["MetricName"],
        metric["Dimensions"],
        stat["Stat"],
        stat["Period"],
    )


def test_alarms(stack: Stack) -> None:
    """Contract F: the four alarms, each notifying the topic on ALARM and OK.

    CloudFormation has no arithmetic, so the thresholds that depend on parameters are metric
    math ratios: p99 duration in % of FunctionTimeout above 80 (> timeout x 1000 x 0.8 ms),
    ConnectionsCreated per container above 6, 18 on a sharded cluster (> 6 x N, N =
    ReservedConcurrency or, with 0, the budget's maximum). Checked as CloudFormation deploys them
    for several values.
    """
    alarms = _of_type(stack.template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == set(ALARMS)
    for name, concern in ALARMS.items():
        alarm = alarms[name]["Properties"]
        assert alarm["AlarmName"] == {"Fn::Sub": f"${{AWS::StackName}}-{concern}"}
        assert alarm["AlarmActions"] == alarm["OKActions"] == [ref("AlarmTopic")]
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "Condition" not in alarms[name]

    def plain(name: str) -> tuple[Any, ...]:
        a = alarms[name]["Properties"]
        return (
            a["Namespace"],
            a["MetricName"],
            a["Dimensions"],
            a["Statistic"],
            a["Period"],
            a["EvaluationPeriods"],
            a["DatapointsToAlarm"],
            a["ComparisonOperator"],
            a["Threshold"],
        )

    once = (300, 1, 1, "GreaterThanOrEqualToThreshold", 1)
    assert plain("ErrorsAlarm") == ("AWS/Lambda", "Errors", FUNCTION_DIMENSION, "Sum", *once)
    assert plain("ThrottlesAlarm") == ("AWS/Lambda", "Throttles", FUNCTION_DIMENSION, "Sum", *once)

    duration = alarms["DurationAlarm"]["Properties"]
    stat, ratio = duration["Metrics"]
    assert stat["ReturnData"] is False and ratio["ReturnData"] is True
    assert _metric(stat["MetricStat"]) == ("AWS/Lambda", "Duration", FUNCTION_DIMENSION, "p99", 300)
    assert (duration["EvaluationPeriods"], duration["DatapointsToAlarm"]) == (3, 2)
    assert (duration["ComparisonOperator"], duration["Threshold"]) == ("GreaterThanThreshold", 80)

    connections = alarms["ConnectionsCreatedAlarm"]["Properties"]
    stat, ratio = connections["Metrics"]
    assert stat["ReturnData"] is False and ratio["ReturnData"] is True
    service = [{"Name": "service", "Value": ref("AWS::StackName")}]
    assert _metric(stat["MetricStat"]) == (
        ref("AWS::StackName"),  # POWERTOOLS_METRICS_NAMESPACE
        "ConnectionsCreated",
        service,  # POWERTOOLS_SERVICE_NAME
        "Sum",
        300,
    )
    assert (connections["EvaluationPeriods"], connections["DatapointsToAlarm"]) == (1, 1)
    assert (connections["ComparisonOperator"], connections["Threshold"]) == (
        "GreaterThanThreshold",
        pool_sockets_per_container(stack.answers),
    )

    # What each alarm really compares, as deployed: the metric's own value against a bound.
    for timeout in (int(stack.answer("lambda_timeout_s")), 3, 900):
        deployed = stack.deployed(FunctionTimeout=timeout).resources["DurationAlarm"]
        expression = deployed["Properties"]["Metrics"][1]["Expression"]
        # 100 x p99 / (timeout x 1000) > 80  <=>  p99 > timeout x 1000 x 0.8 ms
        assert expression == f"100 * duration / ({timeout} * 1000)"
    for reserved in (int(stack.answer("reserved_concurrency")), 1, stack.max_reserved, 0):
        deployed = stack.deployed(ReservedConcurrency=reserved).resources
        expression = deployed["ConnectionsCreatedAlarm"]["Properties"]["Metrics"][1]["Expression"]
        # Sum / N > S  <=>  Sum > S x N, N = the reserved containers or the budget's maximum,
        # S = the pool sockets a container may open in 5 minutes
        assert expression == f"connections / {reserved or stack.max_reserved}"


EMAIL = "ops@example.com"


def test_alarm_topic(stack: Stack) -> None:
    """Contract E: `<stack>-alarms`, encrypted with a rotated key CloudWatch may use for this
    stack's alarms only; the email subscription exists only with AlarmEmail."""
    key = stack.resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    assert statements["AccountAdministersTheKey"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
                ":alarm:${AWS::StackName}-*"
            }
        },
    }
    # Every alarm name falls under that ARN pattern.
    for alarm in _of_type(stack.template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")
    topic = stack.props("AlarmTopic")
    assert topic == {
        "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"},
        "KmsMasterKeyId": getatt("AlarmTopicKey", "Arn"),
    }
    assert stack.template["Outputs"]["AlarmTopicArn"]["Value"] == ref("AlarmTopic")

    parameter = stack.template["Parameters"]["AlarmEmail"]
    assert parameter["Type"] == "String" and parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch(EMAIL)
    for bad in ("ops", "ops@example", "a@example.com,b@example.com", "ops @example.com"):
        assert not pattern.fullmatch(bad), bad

    assert "AlarmEmailSubscription" not in stack.deployed().resources
    subscription = stack.deployed(AlarmEmail=EMAIL).resources["AlarmEmailSubscription"]
    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": EMAIL,
    }


def test_atlas_alert(stack: Stack) -> None:
    """Contract G: CONNECTIONS_PERCENT above the budget's headroom, mailed to AlarmEmail or,
    without one, to the project's owners. (The published schema: test_atlas_resources_...)"""
    (name,) = sam.resources_of_type(stack.template, "MongoDB::Atlas::AlertConfiguration")
    assert name == "AtlasConnectionsAlert"
    headroom = int(DEFAULTS["_connection_headroom"] * 100)
    assert headroom == 80

    def alert(**values: Any) -> dict[str, Any]:
        properties: dict[str, Any] = stack.deployed(**values).resources[name]["Properties"]
        return properties

    common = {
        "Profile": "default",  # the AtlasProfile parameter's default
        "ProjectId": ref("AtlasProjectId"),
        "EventTypeName": "OUTSIDE_METRIC_THRESHOLD",
        "MetricThreshold": {
            "MetricName": "CONNECTIONS_PERCENT",
            "Operator": "GREATER_THAN",
            "Threshold": headroom,
            "Units": "RAW",
            "Mode": "AVERAGE",
        },
    }
    every_hour = {"DelayMin": 0, "IntervalMin": 60}
    assert alert(AlarmEmail=EMAIL) == {
        **common,
        "Notifications": [{"TypeName": "EMAIL", "EmailAddress": EMAIL, **every_hour}],
    }
    assert alert() == {
        **common,
        "Notifications": [
            {
                "TypeName": "GROUP",
                "Roles": ["GROUP_OWNER"],
                "EmailEnabled": True,
                "SmsEnabled": False,
                **every_hour,
            }
        ],
    }
    assert stack.template["Outputs"]["AtlasAlertConfigurationId"]["Value"] == getatt(name, "Id")


# ---------------------------------------------------------------- database user


def test_secret_and_user_never_disagree(stack: Stack) -> None:
    """Password mode: one source of truth, and nothing a deploy changes regenerates it.

    The user's name and the secret's username are one expression of pseudo parameters that
    never change for a stack; the secret's generation settings reference no parameter, so no
    update or rollback makes CloudFormation generate a new password the user does not get.
    Raising DatabasePasswordRevision changes the user alone: CloudFormation then updates it
    with the password the secret holds at that moment.
    """
    if stack.auth == "iam":
        assert "DatabasePasswordRevision" not in stack.template["Parameters"]
        return
    user = stack.props("AtlasDatabaseUser")
    secret = stack.props("DatabaseUserSecret")
    template = secret["GenerateSecretString"]["SecretStringTemplate"]["Fn::Sub"]
    assert json.loads(template) == {"username": user["Username"]["Fn::Sub"]}
    assert user["Username"] == {"Fn::Sub": "${AWS::StackName}-${AWS::AccountId}-${AWS::Region}"}
    generated = list(sam.references(secret))
    assert generated and all(target in sam.PSEUDO_PARAMETERS for _, target, _ in generated)

    parameter = stack.template["Parameters"]["DatabasePasswordRevision"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 1, 1)
    first = stack.deployed()
    second = stack.deployed(DatabasePasswordRevision=2)
    changed = {
        name for name, resource in second.resources.items() if resource != first.resources[name]
    }
    assert changed == {"AtlasDatabaseUser"}
    assert second.resources["AtlasDatabaseUser"]["Properties"]["Labels"] == [
        {"Key": "password-revision", "Value": "2"}
    ]


def test_secrets_manager_reached_privately(stack: Stack) -> None:
    endpoints = {
        name: r["Properties"]
        for name, r in stack.resources.items()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and "secretsmanager" in json.dumps(r["Properties"])
    }
    if stack.auth == "iam":
        assert endpoints == {}
        return
    assert endpoints == {
        "SecretsManagerEndpoint": {
            "VpcEndpointType": "Interface",
            "VpcId": ref("Vpc"),
            "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.secretsmanager"},
            "SubnetIds": [ref("PrivateSubnetA"), ref("PrivateSubnetB")],
            "SecurityGroupIds": [ref("SecretsManagerEndpointSecurityGroup")],
            "PrivateDnsEnabled": True,
        }
    }
    ingress = stack.props("SecretsManagerEndpointSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress] == [
        (443, 443, ref("FunctionSecurityGroup"))
    ]
    egress = stack.props("FunctionToSecretsManagerEgress")
    assert egress["GroupId"] == ref("FunctionSecurityGroup")
    assert egress["DestinationSecurityGroupId"] == ref("SecretsManagerEndpointSecurityGroup")
    assert (egress["FromPort"], egress["ToPort"]) == (443, 443)


# ---------------------------------------------------------------- network modes


def _function_egress(stack: Stack) -> list[dict[str, Any]]:
    inline = stack.props("FunctionSecurityGroup").get("SecurityGroupEgress", [])
    separate = [
        r["Properties"]
        for r in stack.resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupEgress"
        and r["Properties"]["GroupId"] == ref("FunctionSecurityGroup")
    ]
    return [*inline, *separate]


def _types(stack: Stack) -> set[str]:
    return {r["Type"] for r in stack.resources.values()}


def test_private_endpoint_wiring(stack: Stack) -> None:
    if stack.network != "private_endpoint":
        assert "AtlasVpcEndpoint" not in stack.resources
        assert "AtlasPrivateEndpointServiceId" not in stack.template["Parameters"]
        return
    service = stack.resources["AtlasPrivateEndpointService"]
    assert service["Properties"] == {
        "Profile": ref("AtlasProfile"),
        "ProjectId": ref("AtlasProjectId"),
        "CloudProvider": "AWS",
        "Region": ref("AWS::Region"),
    }
    # Other stacks of the project may register endpoints with the service this one made.
    assert service["DeletionPolicy"] == service["UpdateReplacePolicy"] == "Retain"
    endpoint = stack.props("AtlasVpcEndpoint")
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["VpcId"] == ref("Vpc")
    assert endpoint["SubnetIds"] == [ref("PrivateSubnetA"), ref("PrivateSubnetB")]
    assert endpoint["SecurityGroupIds"] == [ref("AtlasEndpointSecurityGroup")]
    assert endpoint["PrivateDnsEnabled"] is False
    registration = stack.props("AtlasPrivateEndpoint")
    assert registration["Id"] == ref("AtlasVpcEndpoint")
    assert registration["EnforceConnectionSuccess"] is True

    ingress = stack.props("AtlasEndpointSecurityGroup")["SecurityGroupIngress"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress
    ] == [("tcp", 1024, 65535, ref("FunctionSecurityGroup"))]
    to_atlas = [
        e
        for e in _function_egress(stack)
        if e.get("DestinationSecurityGroupId") == ref("AtlasEndpointSecurityGroup")
    ]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in to_atlas] == [
        ("tcp", 1024, 65535)
    ]
    assert not _types(stack) & {
        "AWS::EC2::NatGateway",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EIP",
    }
    assert "AWS::EC2::Route" not in _types(stack)
    assert stack.template["Outputs"]["AtlasVpcEndpointId"]["Value"] == ref("AtlasVpcEndpoint")


SERVICE_ID = "0123456789abcdef01234567"
SERVICE_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def test_existing_private_endpoint_service(stack: Stack) -> None:
    """Contract 5: AtlasPrivateEndpointServiceId empty creates the service, set reuses one.

    Atlas allows one endpoint service per project and region, so a second stack (staging next
    to prod) must register its endpoint with the first one's service.
    """
    if stack.network != "private_endpoint":
        return
    parameters = stack.template["Parameters"]
    assert parameters["AtlasPrivateEndpointServiceId"]["Default"] == ""
    assert parameters["AtlasPrivateEndpointServiceName"]["Default"] == ""
    service_id = re.compile(parameters["AtlasPrivateEndpointServiceId"]["AllowedPattern"])
    service_name = re.compile(parameters["AtlasPrivateEndpointServiceName"]["AllowedPattern"])
    assert service_id.fullmatch(SERVICE_ID) and service_name.fullmatch(SERVICE_NAME)
    assert not service_id.fullmatch("vpce-svc-0123456789abcdef0")
    assert not service_name.fullmatch(SERVICE_ID)

    new = stack.deployed()
    assert new.broken_rules() == []
    assert "AtlasPrivateEndpointService" in new.resources
    assert new.resources["AtlasVpcEndpoint"]["Properties"]["ServiceName"] == getatt(
        "AtlasPrivateEndpointService", "EndpointServiceName"
    )
    assert new.resources["AtlasPrivateEndpoint"]["Properties"]["EndpointServiceId"] == getatt(
        "AtlasPrivateEndpointService", "Id"
    )
    assert new.outputs["AtlasPrivateEndpointServiceId"] == getatt(
        "AtlasPrivateEndpointService", "Id"
    )

    existing = stack.deployed(
        AtlasPrivateEndpointServiceId=SERVICE_ID, AtlasPrivateEndpointServiceName=SERVICE_NAME
    )
    assert existing.broken_rules() == []
    assert "AtlasPrivateEndpointService" not in existing.resources
    assert existing.resources["AtlasVpcEndpoint"]["Properties"]["ServiceName"] == SERVICE_NAME
    assert existing.resources["AtlasPrivateEndpoint"]["Properties"]["EndpointServiceId"] == (
        SERVICE_ID
    )
    assert existing.outputs["AtlasPrivateEndpointServiceId"] == SERVICE_ID
    assert existing.outputs["AtlasPrivateEndpointServiceName"] == SERVICE_NAME
    # One without the other is refused before anything is created.
    for half in (
        {"AtlasPrivateEndpointServiceId": SERVICE_ID},
        {"AtlasPrivateEndpointServiceName": SERVICE_NAME},
    ):
        (broken,) = stack.deployed(**half).broken_rules()
        assert "AtlasPrivateEndpointServiceId" in broken


def test_peering_wiring(stack: Stack) -> None:
    if stack.network != "peering":
        assert "AtlasNetworkPeering" not in stack.resources
        return
    parameters = stack.template["Parameters"]
    vpc = ipaddress.ip_network(parameters["VpcCidr"]["Default"])
    atlas = ipaddress.ip_network(parameters["AtlasCidrBlock"]["Default"])
    assert not vpc.overlaps(atlas)

    # MongoDB::Atlas::NetworkContainer cannot adopt the region's existing container (its
    # create handler compares pointers on Atlas's 409 and fails), so the stack takes that
    # container's id, with no default: only an explicit `create` creates one, and the stack
    # never deletes a container (clusters use it).
    container_id = parameters["AtlasNetworkContainerId"]
    assert "Default" not in container_id
    accepted = re.compile(container_id["AllowedPattern"])
    for value, ok in {
        "5f1a2b3c4d5e6f7a8b9c0d1e": True,
        "create": True,
        "": False,
        "5F1A2B3C4D5E6F7A8B9C0D1E": False,
        "5f1a2b3c4d5e6f7a8b9c0d1": False,
        "Create": False,
    }.items():
        assert bool(accepted.fullmatch(value)) is ok, value
    assert stack.template["Conditions"]["CreateAtlasNetworkContainer"] == {
        "Fn::Equals": [ref("AtlasNetworkContainerId"), "create"]
    }
    container = stack.resources["AtlasNetworkContainer"]
    assert container["Condition"] == "CreateAtlasNetworkContainer"
    assert container["Properties"] == {
        "Profile": ref("AtlasProfile"),
        "ProjectId": ref("AtlasProjectId"),
        "RegionName": stack.region.upper().replace("-", "_"),
        "AtlasCidrBlock": ref("AtlasCidrBlock"),
    }
    assert container["DeletionPolicy"] == container["UpdateReplacePolicy"] == "Retain"

    peering = stack.props("AtlasNetworkPeering")
    assert peering["ContainerId"] == {
        "Fn::If": [
            "CreateAtlasNetworkContainer",
            getatt("AtlasNetworkContainer", "Id"),
            ref("AtlasNetworkContainerId"),
        ]
    }
    # As deployed: the existing container's id, and no container resource; `create` makes one.
    existing = stack.deployed(AtlasNetworkContainerId="5f1a2b3c4d5e6f7a8b9c0d1e").resources
    assert "AtlasNetworkContainer" not in existing
    assert existing["AtlasNetworkPeering"]["Properties"]["ContainerId"] == (
        "5f1a2b3c4d5e6f7a8b9c0d1e"
    )
    created = stack.deployed(AtlasNetworkContainerId="create").resources
    assert "AtlasNetworkContainer" in created
    assert created["AtlasNetworkPeering"]["Properties"]["ContainerId"] == getatt(
        "AtlasNetworkContainer", "Id"
    )
    assert peering["VpcId"] == ref("Vpc")
    assert peering["AwsAccountId"] == ref("AWS::AccountId")
    assert peering["AccepterRegionName"] == ref("AWS::Region")
    assert peering["RouteTableCIDRBlock"] == ref("VpcCidr")

    accepter = stack.resources["AtlasPeeringAccepter"]
    assert accepter["Type"].startswith("Custom::")
    assert accepter["Properties"] == {
        "ServiceToken": getatt("PeeringAccepterFunction", "Arn"),
        "AtlasPeeringId": getatt("AtlasNetworkPeering", "Id"),
        "VpcId": ref("Vpc"),
    }
    function = stack.props("PeeringAccepterFunction")
    assert function["CodeUri"] == "../peering_accepter/"
    assert function["Handler"] == "peering_accepter.handler"
    assert (stack.folder / function["CodeUri"] / "peering_accepter.py").is_file()
    assert function["Runtime"] == f"python{stack.answer('python_version')}"
    # A reservation, even of 1, needs unreserved concurrency that small accounts lack.
    assert "ReservedConcurrentExecutions" not in function

    atlas_cidr = getatt("AtlasPeeringAccepter", "AtlasCidrBlock")
    routes = {
        n: r["Properties"] for n, r in stack.resources.items() if r["Type"] == "AWS::EC2::Route"
    }
    assert routes == {
        "AtlasPeeringRoute": {
            "RouteTableId": ref("PrivateRouteTable"),
            "DestinationCidrBlock": atlas_cidr,
            "VpcPeeringConnectionId": getatt("AtlasPeeringAccepter", "VpcPeeringConnectionId"),
        }
    }
    assert stack.template["Outputs"]["AtlasCidrBlock"]["Value"] == atlas_cidr
    access = stack.props("AtlasAccessList")["AccessList"]
    assert [entry["CIDRBlock"] for entry in access] == [ref("VpcCidr")]
    assert all(set(entry) <= {"CIDRBlock", "Comment"} for entry in access)
    assert not _types(stack) & {
        "AWS::EC2::NatGateway",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EIP",
    }


def test_no_hand_typed_atlas_cidr(stack: Stack) -> None:
    """Routes and rules use the CIDR of the container Atlas really peers from.

    AtlasCidrBlock reaches only the container the stack creates (AtlasNetworkContainerId
    `create`); an existing container keeps its own CIDR.
    """
    if stack.network != "peering":
        assert "AtlasCidrBlock" not in stack.template["Parameters"]
        return
    users = {
        name
        for name, resource in stack.resources.items()
        if ("Ref", "AtlasCidrBlock", None) in set(sam.references(resource))
    }
    assert users == {"AtlasNetworkContainer"}
    reads = {
        name
        for name, resource in stack.resources.items()
        if ("GetAtt", "AtlasPeeringAccepter", "AtlasCidrBlock") in set(sam.references(resource))
    }
    assert reads == {"AtlasPeeringRoute", "FunctionSecurityGroup"}


def _load_accepter(stack: Stack) -> ModuleType:
    path = stack.project / "infra" / "peering_accepter" / "peering_accepter.py"
    spec = importlib.util.spec_from_file_location(f"accepter_{id(stack)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeEc2:
    """The two EC2 calls the accepter makes, over a list of peering connections."""

    def __init__(self, *requester_cidrs: str) -> None:
        self.connections = [
            {
                "VpcPeeringConnectionId": f"pcx-{index}",
                "Status": {"Code": "pending-acceptance"},
                "AccepterVpcInfo": {"VpcId": "vpc-stack"},
                "RequesterVpcInfo": {"VpcId": f"vpc-atlas-{index}", "CidrBlock": cidr},
            }
            for index, cidr in enumerate(requester_cidrs)
        ]

    def describe_vpc_peering_connections(self, **request: Any) -> dict[str, Any]:
        if "VpcPeeringConnectionIds" in request:
            ids = request["VpcPeeringConnectionIds"]
            found = [c for c in self.connections if c["VpcPeeringConnectionId"] in ids]
        else:
            filters = {f["Name"]: f["Values"] for f in request["Filters"]}
            found = [
                c
                for c in self.connections
                if c["AccepterVpcInfo"]["VpcId"] in filters["accepter-vpc-info.vpc-id"]
                and c["Status"]["Code"] in filters["status-code"]
            ]
        return {"VpcPeeringConnections": json.loads(json.dumps(found))}

    def accept_vpc_peering_connection(self, VpcPeeringConnectionId: str) -> None:
        for connection in self.connections:
            if connection["VpcPeeringConnectionId"] == VpcPeeringConnectionId:
                connection["Status"]["Code"] = "active"


class FakeContext:
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def _run_accepter(stack: Stack, ec2: FakeEc2, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The custom resource's answer to CloudFormation for the properties this stack passes."""
    accepter = _load_accepter(stack)
    answers: list[dict[str, Any]] = []
    monkeypatch.setattr(accepter.boto3, "client", lambda service: ec2)
    monkeypatch.setattr(accepter, "POLL_SECONDS", 0)  # the wait for "active" after accepting
    monkeypatch.setattr(
        accepter,
        "respond",
        lambda event, status, physical_id, **more: answers.append(
            {"Status": status, "PhysicalResourceId": physical_id, **more}
        ),
    )
    properties = {
        key: "vpc-stack" if value == ref("Vpc") else "atlas-peering-id"
        for key, value in stack.props("AtlasPeeringAccepter").items()
        if key != "ServiceToken"
    }
    event = {
        "RequestType": "Create",
        "ResourceProperties": properties,
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "AtlasPeeringAccepter",
        "ResponseURL": "https://example.invalid/response",
    }
    accepter.handler(event, FakeContext())
    (answer,) = answers
    return answer


def test_peering_accepter_reports_the_atlas_cidr(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accepter finds Atlas's request by the stack's VPC alone and reports its CIDR.

    That is what the route and the security group read (GetAtt ... AtlasCidrBlock): the CIDR
    of the container the peering really comes from, whatever AtlasCidrBlock says.
    """
    if stack.network != "peering":
        return
    ec2 = FakeEc2("192.168.240.0/21")
    answer = _run_accepter(stack, ec2, monkeypatch)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == "pcx-0"
    assert answer["data"] == {
        "VpcPeeringConnectionId": "pcx-0",
        "AtlasCidrBlock": "192.168.240.0/21",
    }
    assert ec2.connections[0]["Status"]["Code"] == "active"
    # Every GetAtt of the accepter names data it returns.
    wanted = {
        attribute
        for _, target, attribute in sam.references(stack.template)
        if target == "AtlasPeeringAccepter"
    }
    assert wanted <= set(answer["data"])

    # Two requests into one new VPC: the accepter accepts neither and says why.
    ec2 = FakeEc2("192.168.240.0/21", "10.8.0.0/21")
    answer = _run_accepter(stack, ec2, monkeypatch)
    assert answer["Status"] == "FAILED"
    assert "pcx-0" in answer["reason"] and "pcx-1" in answer["reason"]
    assert all(c["Status"]["Code"] == "pending-acceptance" for c in ec2.connections)


def test_peering_accepter_may_only_accept_into_its_vpc(stack: Stack) -> None:
    if stack.network != "peering":
        assert "PeeringAccepterFunction" not in stack.resources
        return
    statements = _role_statements(stack.transformed, "PeeringAccepterFunctionRole")
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            by_action.setdefault(action, []).append(statement)
    assert set(by_action) == {"ec2:DescribeVpcPeeringConnections", "ec2:AcceptVpcPeeringConnection"}
    for statement in by_action["ec2:AcceptVpcPeeringConnection"]:
        assert statement["Resource"] != "*"
        assert "${Vpc}" in json.dumps(statement)


def test_nat_wiring(stack: Stack) -> None:
    if stack.network != "nat":
        assert "NatGateway" not in stack.resources
        return
    assert stack.props("NatElasticIp")["Domain"] == "vpc"
    nat = stack.props("NatGateway")
    assert nat["AllocationId"] == getatt("NatElasticIp", "AllocationId")
    assert nat["SubnetId"] == ref("PublicSubnet")
    assert stack.props("PublicSubnet")["VpcId"] == ref("Vpc")
    assert stack.props("InternetGatewayAttachment") == {
        "VpcId": ref("Vpc"),
        "InternetGatewayId": ref("InternetGateway"),
    }
    routes = {
        n: r["Properties"] for n, r in stack.resources.items() if r["Type"] == "AWS::EC2::Route"
    }
    assert routes == {
        "PublicDefaultRoute": {
            "RouteTableId": ref("PublicRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": ref("InternetGateway"),
        },
        "PrivateDefaultRoute": {
            "RouteTableId": ref("PrivateRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": ref("NatGateway"),
        },
    }
    assert stack.props("PublicSubnetRouteTableAssociation") == {
        "SubnetId": ref("PublicSubnet"),
        "RouteTableId": ref("PublicRouteTable"),
    }
    access = stack.props("AtlasAccessList")["AccessList"]
    assert len(access) == 1
    assert access[0]["CIDRBlock"] == {"Fn::Sub": "${NatElasticIp.PublicIp}/32"}
    assert set(access[0]) <= {"CIDRBlock", "Comment"}
    assert stack.template["Outputs"]["NatElasticIp"]["Value"] == ref("NatElasticIp")
    to_atlas = [e for e in _function_egress(stack) if "CidrIp" in e]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in to_atlas] == [
        ("tcp", 27015, 27017)
    ]


def test_function_egress_is_only_what_it_needs(stack: Stack) -> None:
    egress = _function_egress(stack)
    allowed_groups = {"private_endpoint": ["AtlasEndpointSecurityGroup"], "peering": [], "nat": []}[
        stack.network
    ]
    if stack.auth == "password":
        allowed_groups = [*allowed_groups, "SecretsManagerEndpointSecurityGroup"]
    groups = sorted(
        e["DestinationSecurityGroupId"]["Ref"] for e in egress if "DestinationSecurityGroupId" in e
    )
    assert groups == sorted(allowed_groups)
    cidr_rules = [e for e in egress if "CidrIp" in e]
    if stack.network == "private_endpoint":
        # Only the placeholder that replaces the default allow-all rule: matches no packet.
        assert [(e["IpProtocol"], e["CidrIp"]) for e in cidr_rules] == [
            ("icmp", "255.255.255.255/32")
        ]
    else:
        expected = (
            getatt("AtlasPeeringAccepter", "AtlasCidrBlock")
            if stack.network == "peering"
            else "0.0.0.0/0"
        )
        assert [(e["IpProtocol"], e["FromPort"], e["ToPort"], e["CidrIp"]) for e in cidr_rules] == [
            ("tcp", 27015, 27017, expected)
        ]


def test_no_open_cidr(stack: Stack) -> None:
    """No 0.0.0.0/0 (or ::/0) anywhere, except what a NAT gateway cannot work without.

    In nat mode the public and private default routes and the function's egress to Atlas's
    public endpoints (TCP 27015-27017 only) span every address: Atlas node addresses are
    not fixed. Atlas's access list still holds only the Elastic IP.
    """
    found: list[str] = []
    for needle in OPEN:
        found += sam.strings_containing(stack.transformed, needle)
        found += sam.strings_containing(stack.extensions, needle)
    if stack.network == "nat":
        assert sorted(found) == [
            "/Resources/FunctionSecurityGroup/Properties/SecurityGroupEgress/0/CidrIp",
            "/Resources/PrivateDefaultRoute/Properties/DestinationCidrBlock",
            "/Resources/PublicDefaultRoute/Properties/DestinationCidrBlock",
        ]
    else:
        assert found == []
    for resource in sam.resources_of_type(stack.transformed, sam.ATLAS_PREFIX).values():
        assert not any(needle in json.dumps(resource) for needle in OPEN)
    for name, resource in stack.transformed["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            ingress = properties.get("SecurityGroupIngress", [])
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            ingress = [properties]
        else:
            continue
        for rule in ingress:
            assert "CidrIp" not in rule and "CidrIpv6" not in rule, name


# ---------------------------------------------------------------- parameters


# Contract 4: the strings Atlas shows for cluster "cluster0" in the project with host id ab1cd.
URIS = {
    "standard": "mongodb+srv://cluster0.ab1cd.mongodb.net",
    "private endpoint": "mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net",
    "second private endpoint": "mongodb+srv://cluster0-pl-1.ab1cd.mongodb.net",
    "private endpoint, sharded, optimized": "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net",
    "private IP for peering": "mongodb+srv://cluster0-pri.ab1cd.mongodb.net",
    "standard, hyphenated cluster": "mongodb+srv://my-cluster-2.ab1cd.mongodb.net",
    "private endpoint, hyphenated cluster": "mongodb+srv://my-cluster-2-pl-0.ab1cd.mongodb.net",
    "standard, Atlas for Government": "mongodb+srv://cluster0.ab1cd.mongodbgov.net",
}
ACCEPTED = {
    ("nat", "replica_set"): {
        "standard",
        "standard, hyphenated cluster",
        "standard, Atlas for Government",
    },
    ("peering", "replica_set"): {
        "standard",
        "standard, hyphenated cluster",
        "standard, Atlas for Government",
        "private IP for peering",
    },
    ("private_endpoint", "replica_set"): {
        "private endpoint",
        "second private endpoint",
        "private endpoint, hyphenated cluster",
    },
    ("private_endpoint", "sharded"): {
        "private endpoint",
        "second private endpoint",
        "private endpoint, hyphenated cluster",
        "private endpoint, sharded, optimized",
    },
}
ACCEPTED[("nat", "sharded")] = ACCEPTED[("nat", "replica_set")]
ACCEPTED[("peering", "sharded")] = ACCEPTED[("peering", "replica_set")]


def uri_pattern(stack: Stack) -> re.Pattern[str]:
    """MongoDbUri's AllowedPattern; CloudFormation matches it against the whole value."""
    parameter = stack.template["Parameters"]["MongoDbUri"]
    assert "Default" not in parameter
    return re.compile(parameter["AllowedPattern"])


def test_mongodb_uri_parameter_per_network_mode(stack: Stack) -> None:
    """Each mode takes the strings that reach the cluster from its VPC and refuses the rest."""
    pattern = uri_pattern(stack)
    accepted = ACCEPTED[(stack.network, stack.topology)]
    verdicts = {kind: bool(pattern.fullmatch(uri)) for kind, uri in URIS.items()}
    assert {kind for kind, ok in verdicts.items() if ok} == accepted, verdicts
    for kind in accepted:
        assert pattern.fullmatch(URIS[kind] + "/"), kind  # Atlas sometimes shows a trailing /
    (example,) = re.findall(
        r"mongodb\+srv://[\w.-]+", stack.template["Parameters"]["MongoDbUri"]["Description"]
    )
    assert pattern.fullmatch(example.rstrip(".")), example


def test_mongodb_uri_parameter_refuses_more_than_the_plain_string(stack: Stack) -> None:
    """No credentials, database, options or ports: the client module adds what it needs."""
    pattern = uri_pattern(stack)
    (good, *_) = sorted(URIS[kind] for kind in ACCEPTED[(stack.network, stack.topology)])
    assert pattern.fullmatch(good)
    for uri in (
        good.replace("://", "://user:secret@"),
        good.replace("://", "://user@"),
        good + "/?retryWrites=true&w=majority",
        good + "/app",
        good + "/?authMechanism=MONGODB-AWS&authSource=%24external",
        good.replace("mongodb+srv://", "mongodb://") + ":27017",
        good + ":27017",
        good.replace("cluster0", "Cluster0"),
        good.replace(".mongodb.net", ".example.com"),
        " " + good,
        "",
    ):
        assert not pattern.fullmatch(uri), uri


def test_parameters_constrained(stack: Stack) -> None:
    parameters = stack.template["Parameters"]
    assert re.fullmatch(parameters["AtlasProjectId"]["AllowedPattern"], "0123456789abcdef01234567")
    assert not re.fullmatch(
        parameters["AtlasProjectId"]["AllowedPattern"], "0123456789abcdef0123456"
    )
    vpc = re.compile(parameters["VpcCidr"]["AllowedPattern"])
    assert vpc.fullmatch(parameters["VpcCidr"]["Default"])
    assert not vpc.fullmatch("0.0.0.0/0") and not vpc.fullmatch("10.0.0.0/8")
    if stack.network == "peering":
        atlas = re.compile(parameters["AtlasCidrBlock"]["AllowedPattern"])
        assert atlas.fullmatch(parameters["AtlasCidrBlock"]["Default"])
        assert not atlas.fullmatch("0.0.0.0/0")
    for name, parameter in parameters.items():
        if "Default" in parameter and "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], str(parameter["Default"])), name


# ---------------------------------------------------------------- supporting files


def test_atlas_extensions_are_the_same_in_every_rendering(stacks: dict[str, Stack]) -> None:
    """A second project in the account can neither deactivate types nor narrow the profiles.

    Every rendering ships the same extensions template, which activates every type any
    rendering uses, so deploying it from another project changes nothing.
    """
    files = {(s.folder / "atlas-extensions.yaml").read_bytes() for s in stacks.values()}
    assert len(files) == 1
    used = {
        resource["Type"]
        for s in stacks.values()
        for resource in sam.resources_of_type(s.template, sam.ATLAS_PREFIX).values()
    }
    assert used == ALL_ATLAS_TYPES
    assert (
        set(ATLAS_TYPES_BY_MODE["private_endpoint"])
        | set(ATLAS_TYPES_BY_MODE["peering"])
        | set(ATLAS_TYPES_BY_MODE["nat"])
        == ALL_ATLAS_TYPES
    )


def test_atlas_extensions_activate_every_type_for_every_profile(stack: Stack) -> None:
    extensions = stack.extensions
    assert "Parameters" not in extensions  # nothing a deploy could narrow
    activations = sam.resources_of_type(extensions, "AWS::CloudFormation::TypeActivation")
    activated = [r["Properties"]["TypeName"] for r in activations.values()]
    assert sorted(activated) == sorted(ALL_ATLAS_TYPES)
    used = {r["Type"] for r in sam.resources_of_type(stack.template, sam.ATLAS_PREFIX).values()}
    assert used <= set(activated)
    publisher = extensions["Mappings"]["MongoDB"]["Publisher"]["Id"]
    assert publisher == "bb989456c78c398a858fef18f2ca1bfc1fbba082"
    for activation in activations.values():
        assert activation["Properties"]["ExecutionRoleArn"] == getatt(
            "ExtensionExecutionRole", "Arn"
        )
        assert activation["Properties"]["PublisherId"] == {
            "Fn::FindInMap": ["MongoDB", "Publisher", "Id"]
        }
    role = extensions["Resources"]["ExtensionExecutionRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "resources.cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    secret_read = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert len(secret_read) == 1
    # Every profile's secret (any stack's AtlasProfile), and no other secret.
    assert secret_read[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:cfn/atlas/profile/*"
    }
    assert all(
        "secretsmanager:" not in json.dumps(s["Action"]) for s in statements if s not in secret_read
    )


def test_samconfig_one_region_story(stack: Stack) -> None:
    config = tomllib.loads((stack.folder / "samconfig.toml").read_text(encoding="utf-8"))
    default = config["default"]
    assert default["global"]["parameters"] == {
        "stack_name": stack.project.name,
        "region": stack.region,
    }
    assert default["validate"]["parameters"]["lint"] is True
    deploy = default["deploy"]["parameters"]
    # CAPABILITY_AUTO_EXPAND: the AWS::LanguageExtensions transform (test_language_extensions).
    assert deploy["capabilities"].split() == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert deploy["resolve_s3"] is True
    assert "parameter_overrides" not in deploy
    assert "use_container" not in default["build"]["parameters"]
    # `sam deploy --config-env atlas-extensions`: the same region, the shared stack.
    extensions = config["atlas-extensions"]
    assert extensions["global"]["parameters"] == {"region": stack.region}
    assert extensions["deploy"]["parameters"] == {
        "stack_name": "mongodb-atlas-extensions",
        "template_file": "atlas-extensions.yaml",
        "capabilities": "CAPABILITY_IAM",
        "confirm_changeset": True,
        "fail_on_empty_changeset": False,
    }
    regions = set(re.findall(r"--region (\S+)", (stack.folder / "README.md").read_text()))
    assert regions == {stack.region}


README_STEPS = [
    "Create an Atlas API key for CloudFormation",
    "cfn/atlas/profile/default",
    "sam deploy --config-env atlas-extensions",
    "make package",
    "connection string for `MongoDbUri`",
    "sam validate --lint",
    "sam build",
    "sam deploy --guided",
    "ApiFunction has no authentication. Is this okay?",
    'curl -s "${API_URL}health"',
    "sam delete",
]
WHAT_CAN_GO_WRONG = {
    "quota": "UnreservedConcurrentExecution below its minimum value of [100]",
    "extensions not active": "Unrecognized resource types: [MongoDB::Atlas::",
    "type already active": "already activated",
    "API key access list": "IP_ADDRESS_NOT_ON_ACCESS_LIST",
    "connection string not yet shown": "connection string not shown yet",
}
WHAT_CAN_GO_WRONG_BY_MODE = {
    "private_endpoint": {"existing endpoint service": "already has an endpoint service"},
    "peering": {"existing container": "`AtlasNetworkContainerId` is `create`, but the project"},
    "nat": {},
}


def test_readme_walks_through_the_first_deploy(stack: Stack) -> None:
    readme = (stack.folder / "README.md").read_text(encoding="utf-8")
    assert "## What must exist before the first deploy" in readme
    assert f"CI uses {SAM_CLI_VERSION}" in readme  # the version the workflow installs
    assert "aws lambda get-account-settings" in readme and "--query AccountLimit" in readme
    assert f"at least {100 + int(stack.answer('reserved_concurrency'))}" in readme

    walk = readme.split("## Deploy, step by step", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d+)\. ", walk, re.MULTILINE)
    assert steps == [str(n) for n in range(1, len(steps) + 1)] and len(steps) >= 8
    positions = [walk.find(text) for text in README_STEPS]
    assert -1 not in positions, [
        t for t, at in zip(README_STEPS, positions, strict=True) if at == -1
    ]
    assert positions == sorted(positions), README_STEPS

    table = readme.split("## What can go wrong", 1)[1].split("\n## ", 1)[0]
    for row, text in {**WHAT_CAN_GO_WRONG, **WHAT_CAN_GO_WRONG_BY_MODE[stack.network]}.items():
        assert any(text in line for line in table.splitlines() if line.startswith("|")), row

    example = {
        "private_endpoint": "mongodb+srv://<cluster>-pl-0.<id>.mongodb.net",
        "peering": "mongodb+srv://<cluster>.<id>.mongodb.net",
        "nat": "mongodb+srv://<cluster>.<id>.mongodb.net",
    }[stack.network]
    assert example in readme
    for atlas_type in ALL_ATLAS_TYPES:
        assert f"`{atlas_type}`" in readme, atlas_type
    for name in stack.template["Parameters"]:
        assert f"`{name}`" in walk, name  # every parameter has an answer in the guided deploy
    for other in {"private_endpoint", "peering", "nat"} - {stack.network}:
        assert {
            "private_endpoint": "AtlasPrivateEndpointService",
            "peering": "peering_accepter",
            "nat": "NatElasticIp",
        }[other] not in readme


def test_readme_shows_cold_starts_alarms_and_the_alert(stack: Stack) -> None:
    """What the chosen cold-start mode deploys, and what CloudWatch and Atlas show."""
    readme = (stack.folder / "README.md").read_text(encoding="utf-8")
    mode = readme.split("## How new containers start: ", 1)[1].split("\n## ", 1)[0]
    assert mode.startswith(stack.cold_start.replace("_", " ") + "\n")
    deploys = {
        "on_demand": ["publishes no version"],
        "snapstart": ["AutoPublishAlias: live", "SnapStart: ApplyOn: PublishedVersions"],
        "provisioned": ["AutoPublishAlias: live", "ProvisionedConcurrencyConfig"],
    }[stack.cold_start]
    assert all(text in mode for text in deploys), deploys
    for other in {"SnapStart", "ProvisionedConcurrency"} - {
        {"snapstart": "SnapStart", "provisioned": "ProvisionedConcurrency"}.get(stack.cold_start)
    }:
        assert other not in readme, other

    shows = readme.split("## What you see in CloudWatch and Atlas", 1)[1].split("\n## ", 1)[0]
    for concern in ALARMS.values():
        assert f"`<stack>-{concern}`" in shows, concern
    reserved = int(stack.answer("reserved_concurrency"))
    timeout_ms = int(stack.answer("lambda_timeout_s")) * 800
    assert f"that is > {timeout_ms} ms" in shows
    assert f"that is Sum > {pool_sockets_per_container(stack.answers) * reserved}" in shows
    assert "`CONNECTIONS_PERCENT`" in shows and "above 80" in shows
    assert "no matcher" in shows  # the SRV string does not name the hosts
    walk = readme.split("## Deploy, step by step", 1)[1].split("\n## ", 1)[0]
    assert "atlas alerts settings enable" in walk  # Enabled is read-only in the schema


def test_workflow(stack: Stack) -> None:
    path = stack.project / ".github" / "workflows" / "infra-sam.yml"
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses, "no actions used"
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.search(rf"uses: {re.escape(action)} # v\d+(\.\d+)*\s*$", text, re.MULTILINE), (
            action
        )
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    python = next(
        step for step in steps if step.get("uses", "").startswith("actions/setup-python@")
    )
    assert python["with"]["python-version"] == stack.answer("python_version")
    runs = [
        (step.get("working-directory", "."), step["run"].strip()) for step in steps if "run" in step
    ]
    commands = [command for _, command in runs]
    assert commands.index("make package") < commands.index("sam build")
    assert ("infra/sam", "sam validate --lint") in runs
    assert ("infra/sam", "sam validate --lint --template-file atlas-extensions.yaml") in runs
    install = next(command for command in commands if "aws-sam-cli==" in command)
    assert f"aws-sam-cli=={SAM_CLI_VERSION}" in install  # the version the template's tests run
    assert ("infra/sam", "sam build") in runs
    assert "${{" not in text


# ---------------------------------------------------------------- the SAM CLI

# One render per network mode: `sam validate --lint` is the cfn-lint that runs above on every
# render, and `sam build` depends on the network mode alone (the peering accepter). The three
# still cover both auth modes, both topologies and the three cold-start modes (the last two
# are SAM_COMBINATIONS renders, so the session renders nothing more for them).
SAM_CLI_RENDERS = {
    "private_endpoint": combination(
        "password", "private_endpoint", "sam", "sharded", python_version="3.12",
        architecture="x86_64",
    ),
    "peering": combination("password", "peering", "sam", "replica_set", cold_start="snapstart"),
    "nat": combination("iam", "nat", "sam", "replica_set", cold_start="provisioned"),
}  # fmt: skip


@pytest.fixture(scope="session")
def sam_projects(
    render_once: Render, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Stack]:
    """A private copy of one render per network mode (`sam build` writes into infra/sam)."""
    copies: dict[str, Stack] = {}

    def copy(network: str) -> Stack:
        if network not in copies:
            answers = SAM_CLI_RENDERS[network]
            source = render_once(**answers)
            project = tmp_path_factory.mktemp(f"sam-{network}") / source.name
            shutil.copytree(source, project)
            copies[network] = Stack(answers, project)
        return copies[network]

    return copy


@pytest.fixture(params=list(SAM_CLI_RENDERS), ids=str)
def sam_project(request: pytest.FixtureRequest, sam_projects: Callable[[str], Stack]) -> Stack:
    return sam_projects(request.param)


def _sam(stack: Stack, *args: str) -> str:
    result = run_sam(list(args), stack.folder)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def test_sam_validate_lint(sam_project: Stack) -> None:
    assert "is a valid SAM Template" in _sam(sam_project, "validate", "--lint")


def test_sam_validate_lint_extensions(sam_projects: Callable[[str], Stack]) -> None:
    """The extensions template is the same in every rendering: one run covers them all."""
    output = _sam(sam_projects("nat"), "validate", "--lint", "-t", "atlas-extensions.yaml")
    assert "atlas-extensions.yaml is a valid SAM Template" in output


def test_sam_validate_lint_can_fail(sam_projects: Callable[[str], Stack], tmp_path: Path) -> None:
    """Planted errors (a misspelled property, a dangling Ref) make `sam validate --lint` fail."""
    stack = sam_projects("peering")
    plants = {
        "E3002": ("      EnableDnsHostnames: true", "      EnableDnsHostnamez: true"),
        "E1020": ("SubnetId: !Ref PrivateSubnetA", "SubnetId: !Ref PrivateSubnetC"),
    }
    text = stack.text
    for rule, (good, bad) in plants.items():
        assert good in text, rule
        text = text.replace(good, bad, 1)
    broken = tmp_path / "template.yaml"
    broken.write_text(text)
    result = run_sam(["validate", "--lint", "--template-file", str(broken)], stack.folder)
    assert result.returncode != 0
    for rule in plants:
        assert rule in result.stdout + result.stderr, (rule, result.stdout[-2000:])


def test_sam_build(sam_project: Stack) -> None:
    """`sam build` offline, without Docker: the zip as it is, the accepter from its one source."""
    output = _sam(sam_project, "build")
    assert "Build Succeeded" in output
    build = sam_project.folder / ".aws-sam" / "build"
    built = sam.load(build / "template.yaml")
    functions = sam.resources_of_type(built, "AWS::Serverless::Function")
    api = functions["ApiFunction"]["Properties"]
    assert (build / api["CodeUri"]).resolve() == sam_project.project / "dist" / "lambda.zip"
    if sam_project.network == "peering":
        accepter = functions["PeeringAccepterFunction"]["Properties"]
        source = sam_project.project / "infra" / "peering_accepter" / "peering_accepter.py"
        copied = build / accepter["CodeUri"] / "peering_accepter.py"
        assert copied.read_bytes() == source.read_bytes()
        assert sorted(p.name for p in (build / accepter["CodeUri"]).iterdir()) == [
            "peering_accepter.py"
        ]
    assert set(functions) == (
        {"ApiFunction", "PeeringAccepterFunction"}
        if sam_project.network == "peering"
        else {"ApiFunction"}
    )
    # What the transform turns into the version, the alias and their settings (checked in
    # test_cold_start_resources) reaches the built template unchanged.
    written = {k: v for k, v in sam_project.props("ApiFunction").items() if k != "CodeUri"}
    assert {k: v for k, v in api.items() if k != "CodeUri"} == written
    assert ("AutoPublishAlias" in api) is (sam_project.cold_start != "on_demand")


def test_sam_deploy_extensions_settings(sam_project: Stack) -> None:
    """`sam deploy --config-env atlas-extensions` goes to the shared stack in the one region.

    The CloudFormation endpoint is a closed local port, so the command stops at its first AWS
    call, after SAM CLI has read samconfig.toml and the template: no S3 bucket is needed.
    """
    result = run_sam(
        ["deploy", "--config-env", "atlas-extensions", "--no-confirm-changeset"],
        sam_project.folder,
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(r"Stack name\s+: mongodb-atlas-extensions$", output, re.MULTILINE), output
    assert re.search(rf"Region\s+: {sam_project.region}$", output, re.MULTILINE), output
    assert re.search(r"Deployment s3 bucket\s+: None$", output, re.MULTILINE), output
    assert 'Could not connect to the endpoint URL: "http://127.0.0.1:9/"' in output, output[-2000:]


# ---------------------------------------------------------------- checkov


@pytest.fixture(scope="session")
def checkov(stacks: dict[str, Stack], tmp_path_factory: pytest.TempPathFactory) -> CheckovReport:
    """checkov once over every render: the SAM templates as written and as transformed."""
    root = tmp_path_factory.mktemp("checkov")
    for name, stack in stacks.items():
        folder = root / name
        folder.mkdir()
        shutil.copy(stack.folder / "template.yaml", folder / "template.yaml")
        shutil.copy(stack.folder / "atlas-extensions.yaml", folder / "atlas-extensions.yaml")
        (folder / "transformed.json").write_text(json.dumps(stack.transformed, indent=1))
    return run_checkov(root, "cloudformation")


def _in(stack_id: str, check: dict[str, Any]) -> bool:
    return check["file_path"].strip("/").split("/")[0] == stack_id


def test_checkov_passes(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    assert checkov.parsing_errors == []
    files = {c["file_path"].rsplit("/", 1)[-1] for c in checkov.passed if _in(stack_id, c)}
    assert files == {"template.yaml", "transformed.json", "atlas-extensions.yaml"}
    failures = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov.failed
        if _in(stack_id, c)
    ]
    assert failures == []


def test_checkov_skips_are_explained_and_used(stack: Stack, checkov: CheckovReport) -> None:
    stack_id = combination_id(stack.answers)
    declared = set()
    for name, resource in stack.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, (name, skip)
            assert len(skip["comment"].split()) >= 5, (name, skip)
            declared.add((name, skip["id"]))
    used = set()
    for check in checkov.skipped:
        if _in(stack_id, check):
            assert (check.get("check_result") or {}).get("suppress_comment"), check["check_id"]
            used.add((check["resource"].split(".")[-1], check["check_id"]))
    assert used == declared


@pytest.mark.parametrize("tier", ["M10", "M30"])
def test_throttling_above_the_account_defaults_is_explained(render_once: Render, tier: str) -> None:
    """CloudFormation cannot clamp the stage limits to API Gateway's default account limits
    (bursts of 5,000, 10,000 requests a second): where the budget allows more than 1,000
    containers (ten requests a second each), the README says which limit applies."""
    project = render_once(**combination("iam", "private_endpoint", "sam", "replica_set",
                                        atlas_tier=tier))  # fmt: skip
    readme = (project / "infra" / "sam" / "README.md").read_text(encoding="utf-8")
    explained = "default account limits (bursts of 5,000, 10,000 requests a second)" in readme
    budget = reserved_budget({"atlas_tier": tier})
    assert explained == (budget > 1000), (tier, budget)
