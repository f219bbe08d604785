"""What the stub providers answer, as pure functions over schemas and values.

- :func:`plan` is a provider's plan for a new object: every computed attribute the
  configuration leaves null becomes unknown, every write-only attribute null.
- :func:`computed_only_set` finds computed-only attributes set in configuration, which
  Terraform core lets through and real providers refuse.
- :func:`read` answers a data source or opens an ephemeral resource: computed attributes
  the configuration leaves null get placeholders, generic ones from their type (lists
  and sets hold three elements) overlaid by realistic defaults and per-call overrides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from . import cty
from .schema import (
    Block,
    attribute_type,
    block_type,
    elements,
    is_computed_only,
    map_elements,
    nested_block,
)

# Steps into a value: attribute names, list indexes, ("key", k) for map keys. Set
# elements have no address, so a path stops at the set.
Path = list[Any]
COLLECTION_SIZE = 3


def plan(block: Block, proposed: Any) -> Any:
    if not isinstance(proposed, dict):
        return proposed  # null (destroy) or wholly unknown
    planned = {}
    for name, attribute in block.get("attributes", {}).items():
        value = proposed.get(name)
        if attribute.get("write_only"):
            value = None
        elif value is None and attribute.get("computed"):
            value = cty.UNKNOWN
        elif "nested_type" in attribute:
            mode = attribute["nested_type"]["nesting_mode"]
            inner = nested_block(attribute)
            value = map_elements(mode, value, partial(plan, inner))
        planned[name] = value
    for name, nested in block.get("block_types", {}).items():
        inner = nested["block"]
        planned[name] = map_elements(
            nested["nesting_mode"], proposed.get(name), partial(plan, inner)
        )
    return planned


def computed_only_set(block: Block, config: Any, path: Path | None = None) -> list[Path]:
    """Paths of computed-only attributes that ``config`` sets (to a value or an unknown)."""
    path = path or []
    found: list[Path] = []
    if not isinstance(config, dict):
        return found
    for name, attribute in block.get("attributes", {}).items():
        value = config.get(name)
        if value is None:
            continue
        if is_computed_only(attribute):
            found.append([*path, name])
        elif "nested_type" in attribute:
            mode = attribute["nested_type"]["nesting_mode"]
            for key, obj in elements(mode, value):
                found += computed_only_set(
                    nested_block(attribute), obj, path + _step(mode, name, key)
                )
    for name, nested in block.get("block_types", {}).items():
        mode = nested["nesting_mode"]
        for key, obj in elements(mode, config.get(name)):
            found += computed_only_set(nested["block"], obj, path + _step(mode, name, key))
    return found


def _step(mode: str, name: str, key: Any) -> Path:
    if mode == "list":
        return [name, key]
    if mode == "map":
        return [name, ("key", key)]
    return [name]


def path_text(path: Path) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif isinstance(step, tuple):
            text += f"[{step[1]!r}]"
        else:
            text += f".{step}" if text else step
    return text


# ---------------------------------------------------------------- data sources, ephemerals


class ReadError(Exception):
    """A read the test asked to fail (``{"__error__": message}``)."""


def read(
    type_name: str,
    block: Block,
    config: dict[str, Any],
    defaults: Mapping[str, Any],
    override: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The object a data source read (or an ephemeral open) returns for ``config``.

    ``defaults`` and ``override`` map attribute names to values merged over the generic
    placeholders (dicts merge deeply, lists replace); both touch only attributes the
    configuration leaves null. ``{"__error__": message}`` fails the read and
    ``{"__null__": True}`` leaves every computed attribute null.
    """
    override = dict(override or {})
    if "__error__" in override:
        raise ReadError(str(override["__error__"]))
    if override.get("__null__"):
        return dict(config)
    state: dict[str, Any] = fill(block, config)
    special = SPECIAL.get(type_name)
    if special is not None:
        defaults = {**defaults, **special(config)}
    object_type = block_type(block)[1]
    for layer in (defaults, override):
        for name, value in layer.items():
            if name not in object_type:
                raise KeyError(f"{type_name} has no attribute {name!r} (given {value!r})")
            if config.get(name) is None:
                state[name] = merge(state.get(name), value, object_type[name], name)
    return state


def fill(block: Block, config: Any) -> Any:
    """``config`` with a placeholder in every computed attribute it leaves null."""
    if not isinstance(config, dict):
        return config
    state = dict(config)
    for name, attribute in block.get("attributes", {}).items():
        value = config.get(name)
        if value is None and attribute.get("computed"):
            state[name] = placeholder(attribute_type(attribute), name)
        elif "nested_type" in attribute:
            inner = nested_block(attribute)
            mode = attribute["nested_type"]["nesting_mode"]
            state[name] = map_elements(mode, value, partial(fill, inner))
    for name, nested in block.get("block_types", {}).items():
        inner = nested["block"]
        state[name] = map_elements(nested["nesting_mode"], config.get(name), partial(fill, inner))
    return state


def placeholder(ty: cty.Type, name: str, index: int = 0) -> Any:
    """A value of type ``ty`` for attribute ``name`` (``index``: position in a collection)."""
    if ty == "string":
        return f"{name}-{index + 1}"
    if ty == "number":
        return index + 1
    if ty == "bool":
        return index % 2 == 1
    if ty == "dynamic":
        return cty.Dynamic("string", f"{name}-{index + 1}")
    kind, inner = ty
    if kind == "list":
        return [placeholder(inner, name, i) for i in range(COLLECTION_SIZE)]
    if kind == "set":
        items: list[Any] = []
        for i in range(COLLECTION_SIZE):
            item = placeholder(inner, name, i)
            if item not in items:
                items.append(item)
        return items
    if kind == "map":
        return {f"key{i + 1}": placeholder(inner, name, i) for i in range(COLLECTION_SIZE)}
    if kind == "object":
        return {attr: placeholder(t, attr, index) for attr, t in inner.items()}
    return [placeholder(t, name, i) for i, t in enumerate(inner)]


def merge(base: Any, value: Any, ty: cty.Type, name: str) -> Any:
    """``value`` over ``base``, shaped to ``ty``: objects missing attributes are completed
    from ``base`` (or from a placeholder, for list and set elements)."""
    if value is None or ty == "dynamic" or isinstance(ty, str):
        return value
    kind, inner = ty
    if kind == "object":
        if not isinstance(value, dict):
            raise TypeError(f"{name}: an object is required, not {value!r}")
        unknown = set(value) - set(inner)
        if unknown:
            raise KeyError(f"{name}: no attribute {sorted(unknown)} in {sorted(inner)}")
        base = base if isinstance(base, dict) else placeholder(ty, name)
        return {
            attr: merge(base.get(attr), value[attr], t, attr) if attr in value else base.get(attr)
            for attr, t in inner.items()
        }
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            raise TypeError(f"{name}: a {kind} is required, not {value!r}")
        types = inner if kind == "tuple" else [inner] * len(value)
        return [
            merge(placeholder(t, name, i), item, t, name)
            for i, (item, t) in enumerate(zip(value, types, strict=False))
        ]
    if not isinstance(value, dict):
        raise TypeError(f"{name}: a map is required, not {value!r}")
    return {
        key: merge(placeholder(inner, name, i), item, inner, name)
        for i, (key, item) in enumerate(value.items())
    }


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Two override layers as one: dicts merge deeply, anything else replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """``value`` with ``{name}`` in every string replaced by ``variables[name]``."""
    if isinstance(value, str):
        for key, replacement in variables.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {
            substitute(key, variables): substitute(item, variables) for key, item in value.items()
        }
    return value


# ---------------------------------------------------------------- computed from configuration


def iam_policy_document(config: dict[str, Any]) -> dict[str, Any]:
    """aws_iam_policy_document: the policy JSON its statements describe."""
    statements = []
    for statement in config.get("statement") or []:
        rendered: dict[str, Any] = {}
        if statement.get("sid"):
            rendered["Sid"] = statement["sid"]
        rendered["Effect"] = statement.get("effect") or "Allow"
        for key, field in (
            ("Action", "actions"),
            ("NotAction", "not_actions"),
            ("Resource", "resources"),
            ("NotResource", "not_resources"),
        ):
            if statement.get(field):
                rendered[key] = _one_or_many(statement[field])
        for key, field in (("Principal", "principals"), ("NotPrincipal", "not_principals")):
            principals = statement.get(field) or []
            if principals:
                rendered[key] = {p["type"]: _one_or_many(p["identifiers"]) for p in principals}
        conditions: dict[str, dict[str, Any]] = {}
        for condition in statement.get("condition") or []:
            tests = conditions.setdefault(condition["test"], {})
            tests[condition["variable"]] = _one_or_many(condition["values"])
        if conditions:
            rendered["Condition"] = conditions
        statements.append(rendered)
    document: dict[str, Any] = {"Version": config.get("version") or "2012-10-17"}
    if config.get("policy_id"):
        document["Id"] = config["policy_id"]
    document["Statement"] = statements
    text = json.dumps(document, indent=2)
    return {
        "json": text,
        "minified_json": json.dumps(document, separators=(",", ":")),
        "id": str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)),
    }


def _one_or_many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else sorted(values)


SPECIAL = {"aws_iam_policy_document": iam_policy_document}
