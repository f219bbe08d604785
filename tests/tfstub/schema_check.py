"""A static check of Terraform files against the stub providers' schemas.

``terraform validate`` stops at the first error of each dependency chain; this check
reads every file with python-hcl2 and names every problem at once:

- each resource, data source, ephemeral resource and provider type exists;
- each argument and nested block exists, with that nesting (an argument is not written
  as a block, nor a block as an argument; block counts within min/max items);
- required arguments and blocks are present, computed-only attributes are not set;
- literal values fit the argument's type (a list for a bool is caught; expressions are not
  evaluated);
- every ``<type>.<name>.<attribute>...`` and ``data.``/``ephemeral.`` reference names a
  declared block and an attribute path its schema has.

Problems read ``file: address: message``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

from .schema import Block, ProviderSchema, attribute_type, is_computed_only, providers

OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=True, with_comments=False
)
META_ARGUMENTS = {
    "resource": {
        "count",
        "for_each",
        "depends_on",
        "provider",
        "lifecycle",
        "provisioner",
        "connection",
    },
    "data": {"count", "for_each", "depends_on", "provider", "lifecycle"},
    "ephemeral": {"count", "for_each", "depends_on", "provider", "lifecycle"},
    "provider": {"alias", "version"},
}
KINDS = {
    "resource": "resource_schemas",
    "data": "data_source_schemas",
    "ephemeral": "ephemeral_resource_schemas",
}
PREFIX = {"resource": "", "data": "data.", "ephemeral": "ephemeral."}
# Terraform's built-in provider (terraform.io/builtin/terraform), which no mirror serves.
BUILTIN = ProviderSchema(
    name="terraform",
    source="terraform.io/builtin/terraform",
    version="",
    provider={"version": 0, "block": {}},
    resource_schemas={
        "terraform_data": {
            "version": 0,
            "block": {
                "attributes": {
                    "id": {"type": "string", "computed": True},
                    "input": {"type": "dynamic", "optional": True},
                    "output": {"type": "dynamic", "computed": True},
                    "triggers_replace": {"type": "dynamic", "optional": True},
                }
            },
        }
    },
    data_source_schemas={
        "terraform_remote_state": {
            "version": 0,
            "block": {
                "attributes": {
                    "backend": {"type": "string", "required": True},
                    "config": {"type": "dynamic", "optional": True},
                    "defaults": {"type": "dynamic", "optional": True},
                    "outputs": {"type": "dynamic", "computed": True},
                    "workspace": {"type": "string", "optional": True},
                }
            },
        }
    },
)
REFERENCE = re.compile(
    r"(?<![\w.\"-])(data\.|ephemeral\.)?((?:aws|mongodbatlas|random|terraform)_\w+)"
    r"\.([A-Za-z_][\w-]*)"
    r"((?:\[[^\[\]]*\]|\.[A-Za-z_][\w-]*)*)"
)
STEP = re.compile(r"\[[^\[\]]*\]|\.[A-Za-z_][\w-]*")


def check(folder: Path) -> list[str]:
    """Every problem of the ``*.tf`` files in ``folder``."""
    schemas = {**providers(), "terraform": BUILTIN}
    problems: list[str] = []
    declared: dict[str, tuple[str, str]] = {}  # address -> (kind, type)
    parsed = {
        path.name: hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=OPTIONS)
        for path in sorted(folder.glob("*.tf"))
    }
    for file, config in parsed.items():
        for kind in KINDS:
            for entry in config.get(kind, []):
                for type_name, named in entry.items():
                    for name, body in named.items():
                        address = f"{PREFIX[kind]}{type_name}.{name}"
                        declared[address] = (kind, type_name)
                        problems += _check_block_use(
                            file, address, kind, type_name, _body(body), schemas
                        )
        for entry in config.get("provider", []):
            for name, body in entry.items():
                schema = schemas.get(name)
                if schema is None:
                    problems.append(f"{file}: provider.{name}: no such provider in the schemas")
                    continue
                problems += _check_body(
                    file, f"provider.{name}", schema.provider["block"], _body(body), "provider"
                )
    for file in parsed:
        text = _strip_comments((folder / file).read_text(encoding="utf-8"))
        problems += _check_references(file, text, declared, schemas)
    return problems


def _body(body: Any) -> dict[str, Any]:
    return body[0] if isinstance(body, list) else body  # type: ignore[no-any-return]


def _schema_for(
    kind: str, type_name: str, schemas: dict[str, ProviderSchema]
) -> dict[str, Any] | None:
    provider = schemas.get(type_name.split("_", 1)[0])
    if provider is None:
        return None
    return provider.kind(KINDS[kind]).get(type_name)


def _check_block_use(
    file: str,
    address: str,
    kind: str,
    type_name: str,
    body: dict[str, Any],
    schemas: dict[str, ProviderSchema],
) -> list[str]:
    schema = _schema_for(kind, type_name, schemas)
    if schema is None:
        what = {
            "resource": "resource type",
            "data": "data source",
            "ephemeral": "ephemeral resource",
        }
        return [
            f"{file}: {address}: no {what[kind]} {type_name} in the provider schemas "
            "(misspelled, or missing from tests/tfstub/trim_schemas.py KEEP)"
        ]
    return _check_body(file, address, schema["block"], body, kind)


def _check_body(
    file: str, address: str, block: Block, body: dict[str, Any], kind: str | None
) -> list[str]:
    problems = []
    attributes = block.get("attributes", {})
    block_types = block.get("block_types", {})
    meta = META_ARGUMENTS.get(kind or "", set())
    given_blocks: dict[str, list[dict[str, Any]]] = {}
    dynamic: set[str] = set()
    for key, value in body.items():
        if key == "__is_block__" or key in meta:
            continue
        if key == "dynamic" and _is_dynamic_list(value):
            # python-hcl2 gives [{"<block name>": {for_each, content: [...]}}, ...].
            for entry in value:
                for name, dynamic_body in entry.items():
                    if name == "__is_block__":
                        continue
                    if name in attributes:
                        problems.append(f"{file}: {address}: {name} is an argument, not a block")
                        continue
                    if name not in block_types:
                        problems.append(f"{file}: {address}: unsupported block {name}")
                        continue
                    dynamic.add(name)
                    content = _body(dynamic_body).get("content") or [{}]
                    given_blocks.setdefault(name, []).append(_body(content))
            continue
        if _is_block_list(value):
            if key in attributes:
                problems.append(
                    f"{file}: {address}: {key} is an argument, not a block (write {key} = ...)"
                )
            elif key not in block_types:
                problems.append(f"{file}: {address}: unsupported block {key}")
            else:
                given_blocks.setdefault(key, []).extend(value)
            continue
        if key in block_types:
            problems.append(
                f"{file}: {address}: {key} is a block, not an argument (write {key} {{ }})"
            )
        elif key not in attributes:
            problems.append(f"{file}: {address}: unsupported argument {key}")
        elif is_computed_only(attributes[key]):
            problems.append(f"{file}: {address}: {key} is computed only; it cannot be set")
        else:
            mismatch = _literal_mismatch(value, attribute_type(attributes[key]))
            if mismatch:
                problems.append(f"{file}: {address}: {key}: {mismatch}")
    for name, attribute in attributes.items():
        if attribute.get("required") and name not in body:
            problems.append(f"{file}: {address}: missing required argument {name}")
    for name, nested in block_types.items():
        blocks = given_blocks.get(name, [])
        minimum, maximum = nested.get("min_items", 0), nested.get("max_items", 0)
        if nested["nesting_mode"] == "single":
            maximum = maximum or 1
        if name not in dynamic:
            if len(blocks) < minimum:
                problems.append(f"{file}: {address}: needs at least {minimum} {name} block(s)")
            if maximum and len(blocks) > maximum:
                problems.append(f"{file}: {address}: at most {maximum} {name} block(s)")
        for inner in blocks:
            problems += _check_body(file, f"{address}.{name}", nested["block"], inner, None)
    return problems


def _is_dynamic_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, dict)
            and all(
                k == "__is_block__" or _is_block_list([b] if isinstance(b, dict) else b)
                for k, b in v.items()
            )
            for v in value
        )
    )


def _is_block_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _literal_mismatch(value: Any, ty: Any) -> str | None:
    """Why a literal cannot be of type ``ty`` (None when it can, or is an expression)."""
    if isinstance(value, str) and "${" in value:
        return None  # an expression: Terraform evaluates it
    if ty in ("dynamic", "string"):
        return (
            None if not isinstance(value, (list, dict)) else f"a string is required, not {value!r}"
        )
    if ty == "bool":
        ok = isinstance(value, bool) or value in ("true", "false")
        return None if ok else f"a bool is required, not {value!r}"
    if ty == "number":
        if isinstance(value, (bool, list, dict)):
            return f"a number is required, not {value!r}"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return f"a number is required, not {value!r}"
        return None
    kind, inner = ty
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            return f"a {kind} is required, not {value!r}"
        types = inner if kind == "tuple" else [inner] * len(value)
        for item, item_type in zip(value, types, strict=False):
            problem = _literal_mismatch(item, item_type)
            if problem:
                return problem
        return None
    if not isinstance(value, dict):
        return f"a {kind} is required, not {value!r}"
    for key, item in value.items():
        item_type = inner.get(key) if kind == "object" else inner
        if item_type is None:
            return f"no attribute {key} in this object"
        problem = _literal_mismatch(item, item_type)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------- references


def _strip_comments(text: str) -> str:
    return "\n".join(
        "" if line.lstrip().startswith(("#", "//")) else line for line in text.splitlines()
    )


def _check_references(
    file: str,
    text: str,
    declared: dict[str, tuple[str, str]],
    schemas: dict[str, ProviderSchema],
) -> list[str]:
    problems = []
    for match in REFERENCE.finditer(text):
        prefix, type_name, name, chain = match.groups()
        address = f"{prefix or ''}{type_name}.{name}"
        if address not in declared:
            problems.append(f"{file}: reference to undeclared {address}")
            continue
        kind, _ = declared[address]
        schema = _schema_for(kind, type_name, schemas)
        if schema is None:
            continue  # reported where it is declared
        steps = STEP.findall(chain)
        if steps and steps[0].startswith("["):
            steps = steps[1:]  # the instance key of count / for_each
        problem = _walk(schema["block"], steps)
        if problem:
            problems.append(f"{file}: {address}{chain}: {problem}")
    return sorted(set(problems))


def _walk(block: Block, steps: list[str]) -> str | None:
    """Why ``steps`` (``.name`` and ``[key]``) do not lead anywhere in ``block``."""
    current: Any = ("block", block)
    for step in steps:
        if current[0] == "block":
            inner = current[1]
            if step.startswith("["):
                return f"{step}: a block object has no elements"
            name = step[1:]
            if name in inner.get("attributes", {}):
                current = ("type", attribute_type(inner["attributes"][name]))
            elif name in inner.get("block_types", {}):
                nested = inner["block_types"][name]
                mode = nested["nesting_mode"]
                current = (
                    ("block", nested["block"])
                    if mode in ("single", "group")
                    else (
                        "blocks",
                        nested["block"],
                    )
                )
            else:
                return f"no attribute {name}"
        elif current[0] == "blocks":
            if not step.startswith("["):
                return f"{step}: index the blocks first ([0], [*] or a key)"
            current = ("block", current[1])
        else:
            ty = current[1]
            if ty == "dynamic" or isinstance(ty, str):
                if ty == "dynamic":
                    return None
                return f"{step}: a {ty} has no attributes"
            kind, inner_type = ty
            if step.startswith("["):
                if kind == "object":
                    return None  # an object indexed by a key expression: not followed
                current = ("type", inner_type[0] if kind == "tuple" else inner_type)
            elif kind == "object":
                if step[1:] not in inner_type:
                    return f"no attribute {step[1:]}"
                current = ("type", inner_type[step[1:]])
            else:
                return f"{step}: index the {kind} first ([0] or [*])"
    return None
