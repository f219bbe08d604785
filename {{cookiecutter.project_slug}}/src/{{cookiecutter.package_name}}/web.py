"""Input checks for the HTTP API: what a request must be before the database sees it.

Routing and responses are Powertools' event handler (``handler.py``); what is
MongoDB-specific stays here: a JSON object that is safe to store as a document.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def method_and_path(event: Any) -> tuple[str, str] | None:
    """The HTTP method and raw path of an HTTP API (payload 2.0) event, or None if it is not one."""
    event = _mapping(event)
    method = _mapping(_mapping(event.get("requestContext")).get("http")).get("method")
    path = event.get("rawPath")
    if isinstance(method, str) and isinstance(path, str):
        return method, path
    return None


def decode_body(body: Any, is_base64: bool) -> bytes:
    """The request body as bytes (API Gateway base64-encodes bodies it deems binary)."""
    if body is None:
        return b""
    if not isinstance(body, str):
        raise HttpError(400, "body must be a string")
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "body is not valid base64") from None
    return body.encode("utf-8", errors="surrogatepass")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json_object(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The body as a JSON object that is safe to store, or an :class:`HttpError`."""
    media_type, _, params = (content_type or "").partition(";")
    if media_type.strip().lower() != JSON_TYPE:
        raise HttpError(415, f"content-type must be {JSON_TYPE}")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in {"utf-8", "utf8"}:
        raise HttpError(415, "only the utf-8 charset is accepted")
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
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
