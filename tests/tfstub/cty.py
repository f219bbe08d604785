"""Terraform's value model (go-cty) as far as the stub providers need it.

Types come as the JSON that provider schemas use (``"string"``, ``["list", "string"]``,
``["object", {...}]``); values travel as msgpack with two extensions: an unknown value
is a msgpack extension (type 0, or 12 carrying refinements), and a value of the
``dynamic`` pseudo-type is a two-element array ``[type JSON bytes, value]``.

In Python a value is ``None`` (null), :data:`UNKNOWN` or an :class:`Unknown` with
refinements, a :class:`Dynamic`, a ``str``/``int``/``float``/``bool``, a ``list``
(list, set, tuple) or a ``dict`` (map, object).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# A type is a str ("string", "number", "bool", "dynamic") or a tuple
# ("list" | "set" | "map", element) / ("object", {name: type}) / ("tuple", [types]).
Type = Any
Value = Any


@dataclass(frozen=True)
class Unknown:
    """A value known only after apply; ``ext`` keeps msgpack refinements to echo them back."""

    code: int = 0
    data: bytes = b"\x00"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Dynamic:
    """A value of an attribute typed ``dynamic``: its concrete type travels with it."""

    type: Type
    value: Value


def parse_type(raw: Any) -> Type:
    """A type from its JSON form (already decoded)."""
    if isinstance(raw, str):
        return raw
    kind = raw[0]
    if kind in ("list", "set", "map"):
        return (kind, parse_type(raw[1]))
    if kind == "object":
        return ("object", {name: parse_type(t) for name, t in raw[1].items()})
    if kind == "tuple":
        return ("tuple", [parse_type(t) for t in raw[1]])
    raise ValueError(f"unsupported cty type {raw!r}")


def type_json(ty: Type) -> Any:
    """The JSON form of a type (inverse of :func:`parse_type`)."""
    if isinstance(ty, str):
        return ty
    kind, inner = ty
    if kind == "object":
        return [kind, {name: type_json(t) for name, t in inner.items()}]
    if kind == "tuple":
        return [kind, [type_json(t) for t in inner]]
    return [kind, type_json(inner)]


def implied_type(value: Value) -> Type:
    """The type Terraform would infer for a plain Python value (for ``dynamic`` attributes)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ("object", {k: implied_type(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("tuple", [implied_type(v) for v in value])
    return "dynamic"


# ---------------------------------------------------------------- msgpack


def unpack(data: bytes, ty: Type) -> Value:
    import msgpack  # here, so the harness imports on platforms that skip it

    raw = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext)
    return decode(raw, ty)


def _ext(code: int, data: bytes) -> Unknown:
    return UNKNOWN if len(data) <= 1 else Unknown(code, data)


def decode(raw: Any, ty: Type) -> Value:
    """A plain msgpack decoding shaped by ``ty`` (dynamic values need the type to be told apart)."""
    if raw is None or isinstance(raw, Unknown):
        return raw
    if ty == "dynamic":
        type_bytes, inner = raw
        concrete = parse_type(json.loads(type_bytes))
        return Dynamic(concrete, decode(inner, concrete))
    if isinstance(ty, str):
        return raw
    kind, inner = ty
    if kind in ("list", "set"):
        return [decode(item, inner) for item in raw]
    if kind == "map":
        return {key: decode(item, inner) for key, item in raw.items()}
    if kind == "object":
        return {key: decode(item, inner[key]) for key, item in raw.items()}
    return [decode(item, t) for item, t in zip(raw, inner, strict=True)]


def pack(value: Value, ty: Type) -> bytes:
    import msgpack

    packed: bytes = msgpack.packb(encode(value, ty), use_bin_type=True)
    return packed


def encode(value: Value, ty: Type) -> Any:
    """The msgpack-ready form of ``value``; objects get every attribute, as cty requires."""
    if value is None:
        return None
    if isinstance(value, Unknown):
        import msgpack

        return msgpack.ExtType(value.code, value.data)
    if ty == "dynamic":
        if not isinstance(value, Dynamic):
            value = Dynamic(implied_type(value), value)
        return [json.dumps(type_json(value.type)).encode(), encode(value.value, value.type)]
    if isinstance(value, Dynamic):
        value = value.value
    if ty == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if ty == "number":
        if isinstance(value, bool):
            raise TypeError(f"a number is required, not {value!r}")
        return value if isinstance(value, (int, float, str)) else _fail("number", value)
    if ty == "bool":
        return value if isinstance(value, bool) else _fail("bool", value)
    kind, inner = ty
    if kind in ("list", "set"):
        return [encode(item, inner) for item in _as_list(value, kind)]
    if kind == "map":
        return {key: encode(item, inner) for key, item in _as_dict(value, kind).items()}
    if kind == "object":
        attrs = _as_dict(value, kind)
        unexpected = set(attrs) - set(inner)
        if unexpected:
            raise TypeError(f"unsupported attributes {sorted(unexpected)}")
        return {name: encode(attrs.get(name), t) for name, t in inner.items()}
    items = _as_list(value, kind)
    return [encode(item, t) for item, t in zip(items, inner, strict=True)]


def _as_list(value: Value, kind: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(kind, value)
    return value  # type: ignore[no-any-return]


def _as_dict(value: Value, kind: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(kind, value)
    return value  # type: ignore[no-any-return]


def _fail(kind: str, value: Value) -> Any:
    raise TypeError(f"a {kind} is required, not {value!r}")
