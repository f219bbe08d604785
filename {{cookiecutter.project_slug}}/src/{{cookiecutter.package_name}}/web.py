"""HTTP plumbing for API Gateway HTTP API (payload 2.0) and Function URL events."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)
JSON_TYPE = "application/json"


class HttpError(Exception):
    """Ends a request with a JSON error; nothing has been written."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)  # names lowercased
    body: bytes = b""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def method_and_path(event: Any) -> tuple[str | None, str | None]:
    """The HTTP method and raw path of an event, or None where the event has none."""
    event = _mapping(event)
    method = _mapping(_mapping(event.get("requestContext")).get("http")).get("method")
    path = event.get("rawPath")
    return (
        method if isinstance(method, str) else None,
        path if isinstance(path, str) else None,
    )


def parse_event(event: Any) -> Request:
    method, path = method_and_path(event)
    if method is None or path is None:
        raise HttpError(400, "not an HTTP API (payload 2.0) event")
    headers = {str(k).lower(): str(v) for k, v in _mapping(event.get("headers")).items()}
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise HttpError(400, "body must be a string")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "body is not valid base64") from None
    else:
        data = body.encode("utf-8", errors="surrogatepass")
    return Request(method=method.upper(), path=path, headers=headers, body=data)


def response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": JSON_TYPE, **(headers or {})},
        "body": json.dumps(payload, separators=(",", ":")),
    }


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return response(status, {"error": message}, headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object that is safe to store, or an :class:`HttpError`."""
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() != JSON_TYPE:
        raise HttpError(415, f"content-type must be {JSON_TYPE}")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in {"utf-8", "utf8"}:
        raise HttpError(415, "only the utf-8 charset is accepted")
    if len(request.body) > MAX_BODY_BYTES:
        raise HttpError(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise HttpError(400, f"document is nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "body is not valid JSON") from None
    if not isinstance(document, dict):
        raise HttpError(400, "body must be a JSON object")
    if "_id" in document:
        raise HttpError(400, "_id is assigned by the server; remove it")
    check_storable(document)
    return document


def check_storable(value: Any, depth: int = 1) -> None:
    """Refuse what MongoDB would reject or misread: operator keys, dotted keys, deep nesting."""
    if depth > MAX_DEPTH:
        raise HttpError(400, f"document is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                raise HttpError(
                    400, f"field names cannot start with '$' or contain '.': {key[:64]!r}"
                )
            check_storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_storable(item, depth + 1)
    elif isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise HttpError(400, "strings must be valid unicode (lone surrogate found)")
    elif isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise HttpError(400, "integers must fit in 64 bits")
