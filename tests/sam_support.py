"""Helpers for the SAM stack's tests: parsing, the SAM transform, schema checks, references.

Everything here works offline: the SAM transform gets a fixed managed-policy map instead of
calling IAM, and the MongoDB::Atlas schemas are the published ones copied under
``tests/schemas/mongodb-atlas`` (Apache-2.0, see the LICENSE there).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import jsonschema
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import decode_str
from jsonschema.exceptions import ValidationError
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "mongodb-atlas"
ATLAS_PREFIX = "MongoDB::Atlas::"

# What `sam package` does before CloudFormation runs the transform: local code becomes S3.
PACKAGED_CODE_URI = "s3://sam-artifacts-bucket/lambda.zip"

# Managed policies the transform may look up by name. SAM attaches the two Lambda execution
# policies by ARN itself; the map answers any lookup without calling IAM.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
    "AWSLambdaVPCAccessExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    ),
}

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

INTRINSICS = frozenset(
    {
        "Ref",
        "Condition",
        "Fn::Base64",
        "Fn::Cidr",
        "Fn::FindInMap",
        "Fn::GetAtt",
        "Fn::GetAZs",
        "Fn::If",
        "Fn::ImportValue",
        "Fn::Join",
        "Fn::Select",
        "Fn::Split",
        "Fn::Sub",
    }
)

Template = dict[str, Any]


def parse(text: str) -> Template:
    """A CloudFormation YAML/JSON template as plain dicts (short-form tags expanded)."""
    template, errors = decode_str(text)
    if errors:
        raise AssertionError(f"template does not parse: {errors}")
    return json.loads(json.dumps(template))


def load(path: Path) -> Template:
    return parse(path.read_text(encoding="utf-8"))


def resources_of_type(template: Template, prefix: str) -> dict[str, Any]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"].startswith(prefix)
    }


SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


def transforms(template: Template) -> list[str]:
    declared = template.get("Transform", [])
    return [declared] if isinstance(declared, str) else list(declared)


def language_extensions(template: Template, values: dict[str, Any] | None = None) -> Template:
    """What AWS::LanguageExtensions hands the SAM transform: every ``Ref`` to a parameter in
    the resources replaced by its value (``values``, else its Default), as CloudFormation does
    when it creates a change set. Only that: the template uses none of the transform's own
    functions (Fn::ForEach, Fn::Length, ...), which ``language_extensions_functions`` checks.

    ``transform`` does not call this: like `sam validate` and cfn-lint, which know no
    parameter values, it leaves the Refs for ``Evaluation`` to resolve per deploy.
    """
    values = values or {}
    resolved = copy.deepcopy(template)
    parameters = resolved.get("Parameters", {})
    known = {
        name: str(values[name]) if name in values else str(parameter["Default"])
        for name, parameter in parameters.items()
        if name in values or "Default" in parameter
    }

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in known:
            return known[node["Ref"]]
        return {key: resolve(value) for key, value in node.items()}

    resolved["Resources"] = resolve(resolved["Resources"])
    return resolved


def language_extensions_functions(node: Any) -> set[str]:
    """The AWS::LanguageExtensions functions a fragment uses."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= language_extensions_functions(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("Fn::ForEach::"):
                found.add("Fn::ForEach")
            elif key in ("Fn::Length", "Fn::ToJsonString"):
                found.add(key)
            if key == "Fn::FindInMap" and isinstance(value, list) and len(value) > 3:
                found.add("Fn::FindInMap with DefaultValue")
            found |= language_extensions_functions(value)
    return found


def transform(template: Template, region: str) -> Template:
    """The CloudFormation template the SAM transform makes of ``template``, offline.

    AWS::LanguageExtensions, listed before the SAM transform, stays unexpanded here (see
    ``language_extensions``); samtranslator itself skips it.
    """
    declared = transforms(template)
    assert declared in ([SAM_TRANSFORM], [LANGUAGE_EXTENSIONS, SAM_TRANSFORM]), declared
    sam = copy.deepcopy(template)
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = PACKAGED_CODE_URI
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    return translator.translate(
        sam, parameter_values={}, get_managed_policy_map=lambda: dict(MANAGED_POLICIES)
    )


def cfn_lint(text: str, region: str) -> list[str]:
    """cfn-lint's findings (errors and warnings) for a template, as readable lines."""
    return [str(match) for match in lint(text, config=ManualArgs(regions=[region]))]


# ---------------------------------------------------------------- MongoDB::Atlas schemas


@cache
def atlas_schemas() -> dict[str, dict[str, Any]]:
    """The copied MongoDB::Atlas resource schemas by type name."""
    schemas = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas[schema["typeName"]] = schema
    return schemas


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS


# Keywords that constrain the value itself. An intrinsic function stands for a value only
# CloudFormation knows: it passes them, except that it must stand where a scalar may.
_VALUE_KEYWORDS = (
    "type",
    "enum",
    "const",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "items",
    "additionalItems",
    "contains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
)
_SCALARS = frozenset({"string", "integer", "number", "boolean"})
_NO_VALUE = {"Ref": "AWS::NoValue"}


def _intrinsic_aware(keyword: str, original: Callable[..., Iterator[ValidationError]]):
    def validate(validator, value, instance, schema):
        if not is_intrinsic(instance):
            yield from original(validator, value, instance, schema)
            return
        function, argument = next(iter(instance.items()))
        if function == "Fn::If":  # both branches must fit where the If stands
            for branch in argument[1:]:
                if branch != _NO_VALUE:
                    yield from validate(validator, value, branch, schema)
            return
        if keyword == "type":
            wanted = set(value) if isinstance(value, list) else {value}
            if not wanted & _SCALARS:
                yield ValidationError(f"{function} stands where the schema wants {value}")

    return validate


def _atlas_validator_class():
    base = jsonschema.Draft7Validator
    overrides = {
        keyword: _intrinsic_aware(keyword, base.VALIDATORS[keyword])
        for keyword in _VALUE_KEYWORDS
        if keyword in base.VALIDATORS
    }
    return jsonschema.validators.extend(base, overrides)


AtlasValidator = _atlas_validator_class()


def atlas_schema_errors(resource_type: str, properties: dict[str, Any]) -> list[str]:
    """Where ``properties`` break the published schema of ``resource_type``."""
    schema = atlas_schemas()[resource_type]
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '<properties>'}: {error.message}"
        for error in AtlasValidator(schema).iter_errors(properties)
    ]
    read_only = top_level_read_only(resource_type)
    errors += [f"{name}: read-only property set" for name in sorted(read_only & set(properties))]
    return errors


def top_level_read_only(resource_type: str) -> set[str]:
    """Read-only top-level properties: the attributes ``Fn::GetAtt`` may read."""
    pointers = atlas_schemas()[resource_type].get("readOnlyProperties", [])
    return {p.split("/")[2] for p in pointers if p.count("/") == 2}


# ---------------------------------------------------------------- references

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def references(node: Any) -> Iterator[tuple[str, str, str | None]]:
    """Every (kind, target, attribute) a fragment refers to: Ref, GetAtt, Sub, Condition."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
        return
    if not isinstance(node, dict):
        return
    if is_intrinsic(node):
        function, argument = next(iter(node.items()))
        if function == "Ref":
            yield ("Ref", argument, None)
            return
        if function == "Fn::GetAtt":
            target, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            yield ("GetAtt", target, attribute)
            return
        if function == "Fn::Sub":
            text, local = (argument, {}) if isinstance(argument, str) else argument
            for variable in _SUB_VARIABLE.findall(text):
                name, _, attribute = variable.partition(".")
                if name in local:
                    continue
                yield ("GetAtt" if attribute else "Ref", name, attribute or None)
            yield from references(local)
            return
        if function == "Fn::If":
            yield ("Condition", argument[0], None)
            yield from references(argument[1:])
            return
        if function == "Condition":
            yield ("Condition", argument, None)
            return
    for value in node.values():
        yield from references(value)


def unresolved_references(template: Template) -> list[str]:
    """References to parameters, resources or conditions the template does not declare."""
    parameters = set(template.get("Parameters", {}))
    resources = template["Resources"]
    conditions = set(template.get("Conditions", {}))
    problems = []
    sections = {k: template.get(k, {}) for k in ("Resources", "Outputs", "Conditions")}
    for section, body in sections.items():
        for kind, target, attribute in references(body):
            where = f"{section}: {kind} {target}{'.' + attribute if attribute else ''}"
            if kind == "Condition":
                if target not in conditions:
                    problems.append(f"{where}: no such condition")
            elif kind == "Ref":
                if target not in parameters | set(resources) | PSEUDO_PARAMETERS:
                    problems.append(f"{where}: no such parameter or resource")
            elif target not in resources:
                problems.append(f"{where}: no such resource")
            else:
                resource_type = resources[target]["Type"]
                if resource_type.startswith(ATLAS_PREFIX) and attribute not in top_level_read_only(
                    resource_type
                ):
                    problems.append(f"{where}: {resource_type} has no such attribute")
    for name, resource in resources.items():
        for dependency in _as_list(resource.get("DependsOn", [])):
            if dependency not in resources:
                problems.append(f"Resources: {name} DependsOn {dependency}: no such resource")
        if "Condition" in resource and resource["Condition"] not in conditions:
            problems.append(
                f"Resources: {name} Condition {resource['Condition']}: no such condition"
            )
    return problems


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def strings_containing(node: Any, needle: str, path: str = "") -> list[str]:
    """Paths of every string in ``node`` that contains ``needle``."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += strings_containing(value, needle, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += strings_containing(value, needle, f"{path}/{index}")
    elif isinstance(node, str) and needle in node:
        found.append(path)
    return found


# ---------------------------------------------------------------- deploy-time values

NO_VALUE = object()  # what AWS::NoValue leaves behind: nothing


class Evaluation:
    """A template as CloudFormation deploys it for given parameter values.

    Conditions are decided, ``Fn::If`` takes its branch, ``AWS::NoValue`` removes what it
    stands for, resources and outputs whose condition is false disappear, ``Ref`` to a
    parameter becomes its (string) value and ``Fn::Join`` of known strings is joined. Refs to
    resources, ``Fn::GetAtt`` and ``Fn::Sub`` stay as written: they are known only in AWS.
    """

    def __init__(self, template: Template, values: dict[str, Any] | None = None) -> None:
        """``values``: parameter values (others take their Default) and pseudo parameters."""
        values = values or {}
        parameters = template.get("Parameters", {})
        unknown = set(values) - set(parameters) - PSEUDO_PARAMETERS
        if unknown:
            raise KeyError(f"no such parameters: {sorted(unknown)}")
        self.template = template
        self.values = {
            name: str(values[name]) if name in values else str(parameter["Default"])
            for name, parameter in parameters.items()
            if name in values or "Default" in parameter
        }
        self.values |= {name: str(value) for name, value in values.items() if "::" in name}
        self.conditions = {
            name: self.condition(expression)
            for name, expression in template.get("Conditions", {}).items()
        }

    def condition(self, expression: Any) -> bool:
        function, argument = next(iter(expression.items()))
        if function == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(item) for item in argument)
        if function == "Fn::Or":
            return any(self.condition(item) for item in argument)
        if function == "Condition":
            return self.condition(self.template["Conditions"][argument])
        if function == "Fn::Contains":  # Rules only: a string among a list of strings
            strings, string = argument
            return str(self.value(string)) in {str(self.value(item)) for item in strings}
        raise ValueError(f"not a condition: {expression}")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if is_intrinsic(node):
            function, argument = next(iter(node.items()))
            if function == "Fn::If":
                name, if_true, if_false = argument
                return self.value(if_true if self.conditions[name] else if_false)
            if function == "Ref" and argument == "AWS::NoValue":
                return NO_VALUE
            if function == "Ref" and argument in self.values:
                return self.values[argument]
            if function == "Fn::Join":
                separator, parts = argument[0], self.value(argument[1])
                if all(isinstance(part, str) for part in parts):
                    return separator.join(parts)
                return {function: [separator, parts]}
            return {function: self.value(argument)}
        items = {key: self.value(value) for key, value in node.items()}
        return {key: value for key, value in items.items() if value is not NO_VALUE}

    @property
    def resources(self) -> dict[str, Any]:
        return {
            name: self.value(resource)
            for name, resource in self.template["Resources"].items()
            if self.conditions.get(resource.get("Condition"), True)
        }

    @property
    def outputs(self) -> dict[str, Any]:
        return {
            name: self.value(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition"), True)
        }

    def broken_rules(self) -> list[str]:
        """The AssertDescription of every rule assertion these values break."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.condition(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.condition(assertion["Assert"]):
                    broken.append(assertion.get("AssertDescription", "(no description)"))
        return broken
