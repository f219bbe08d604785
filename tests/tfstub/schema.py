"""The stub providers' schemas: trimmed real schemas plus hand-written overlays.

``schemas/aws.json`` and ``schemas/mongodbatlas.json`` are trimmed copies of
``terraform providers schema -json`` output (see schemas/README.md);
``schemas/overlays.json`` adds what those files lack: the aws provider block, the
ephemeral resources, the hashicorp/random provider, and the mongodbatlas 2.16
``password_wo`` arguments. A schema stays in its JSON form (a dict per block); the
functions here derive value types from it and walk values along it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import cty

SCHEMAS = Path(__file__).resolve().parent / "schemas"
KINDS = ("resource_schemas", "data_source_schemas", "ephemeral_resource_schemas")
Block = dict[str, Any]


@dataclass(frozen=True)
class ProviderSchema:
    name: str  # local name: aws
    source: str  # hashicorp/aws
    version: str
    provider: dict[str, Any]
    resource_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_source_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    ephemeral_resource_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kind(self, kind: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = getattr(self, kind)
        return found


@cache
def providers() -> dict[str, ProviderSchema]:
    """Every stub provider by local name (aws, mongodbatlas, random)."""
    overlays = json.loads((SCHEMAS / "overlays.json").read_text(encoding="utf-8"))
    found = {}
    for name, overlay in overlays.items():
        if name.startswith("_"):
            continue
        path = SCHEMAS / f"{name}.json"
        base = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        kinds = {kind: dict(base.get(kind, {})) for kind in KINDS}
        for kind in KINDS:
            kinds[kind].update(overlay.get(kind, {}))
        for type_name, attributes in overlay.get("resource_attributes", {}).items():
            schema = copy.deepcopy(kinds["resource_schemas"][type_name])
            schema["block"].setdefault("attributes", {}).update(attributes)
            kinds["resource_schemas"][type_name] = schema
        found[name] = ProviderSchema(
            name=name,
            source=overlay["source"],
            version=overlay["version"],
            provider=overlay.get("provider") or base["provider"],
            **kinds,
        )
    return found


# ---------------------------------------------------------------- types


def attribute_type(attribute: dict[str, Any]) -> cty.Type:
    nested = attribute.get("nested_type")
    if nested is None:
        return cty.parse_type(attribute["type"])
    obj = ("object", {n: attribute_type(a) for n, a in nested["attributes"].items()})
    return _nest(nested["nesting_mode"], obj)


def block_type(block: Block) -> cty.Type:
    attrs = {n: attribute_type(a) for n, a in block.get("attributes", {}).items()}
    for name, nested in block.get("block_types", {}).items():
        attrs[name] = _nest(nested["nesting_mode"], block_type(nested["block"]))
    return ("object", attrs)


def _nest(mode: str, obj: cty.Type) -> cty.Type:
    return obj if mode in ("single", "group") else (mode, obj)


def nested_block(attribute: dict[str, Any]) -> Block:
    """A nested attribute's object, seen as a block of attributes."""
    return {"attributes": attribute["nested_type"]["attributes"]}


def is_computed_only(attribute: dict[str, Any]) -> bool:
    return bool(attribute.get("computed")) and not (
        attribute.get("optional") or attribute.get("required")
    )


def elements(mode: str, value: Any) -> Iterator[tuple[str | int | None, Any]]:
    """(key, object) for each object a nested block or attribute holds."""
    if value is None or isinstance(value, cty.Unknown):
        return
    if mode in ("single", "group"):
        yield None, value
    elif mode == "map":
        yield from value.items()
    else:
        yield from enumerate(value)


def map_elements(mode: str, value: Any, function: Callable[[Any], Any]) -> Any:
    if value is None or isinstance(value, cty.Unknown):
        return value
    if mode in ("single", "group"):
        return function(value)
    if mode == "map":
        return {key: function(item) for key, item in value.items()}
    return [function(item) for item in value]


# ---------------------------------------------------------------- protocol messages


def to_proto(pb: Any, schema: dict[str, Any]) -> Any:
    """A ``tfplugin6.Schema`` message from a JSON schema."""
    return pb.Schema(version=schema.get("version", 0), block=_block_proto(pb, schema["block"]))


def _block_proto(pb: Any, block: Block) -> Any:
    return pb.Schema.Block(
        attributes=[
            _attribute_proto(pb, n, a) for n, a in sorted(block.get("attributes", {}).items())
        ],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=name,
                block=_block_proto(pb, nested["block"]),
                nesting=pb.Schema.NestedBlock.NestingMode.Value(nested["nesting_mode"].upper()),
                min_items=nested.get("min_items", 0),
                max_items=nested.get("max_items", 0),
            )
            for name, nested in sorted(block.get("block_types", {}).items())
        ],
        deprecated=block.get("deprecated", False),
    )


def _attribute_proto(pb: Any, name: str, attribute: dict[str, Any]) -> Any:
    message = pb.Schema.Attribute(
        name=name,
        required=attribute.get("required", False),
        optional=attribute.get("optional", False),
        computed=attribute.get("computed", False),
        sensitive=attribute.get("sensitive", False),
        deprecated=attribute.get("deprecated", False),
        write_only=attribute.get("write_only", False),
    )
    nested = attribute.get("nested_type")
    if nested is None:
        message.type = json.dumps(attribute["type"]).encode()
    else:
        message.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[
                    _attribute_proto(pb, n, a) for n, a in sorted(nested["attributes"].items())
                ],
                nesting=pb.Schema.Object.NestingMode.Value(nested["nesting_mode"].upper()),
            )
        )
    return message
