"""The Lambda entry point: a small JSON API over one MongoDB collection.

Routes: ``GET /health``, ``POST /items``, ``GET /items/{id}``.  Every database
call goes through :func:`mongo.run` inside the invocation's deadline; the
handler never builds or closes a client.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from bson.json_util import RELAXED_JSON_OPTIONS
from bson.json_util import dumps as bson_dumps
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError

from . import mongo
from .config import ConfigError
from .web import (
    HttpError,
    Request,
    error_response,
    method_and_path,
    parse_event,
    read_json_object,
    response,
)

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

COLLECTION = "items"
ITEM_PATH = re.compile(r"^/items/(?P<item_id>[^/]+)/?$")

Response = dict[str, Any]


def health(request: Request) -> Response:
    mongo.run(lambda db: db.command("ping"), idempotent=True)
    return response(200, {"ok": True})


def create_item(request: Request) -> Response:
    document = read_json_object(request)
    result = mongo.run(lambda db: db[COLLECTION].insert_one(document))
    item_id = str(result.inserted_id)
    return response(201, {"id": item_id}, {"location": f"/items/{item_id}"})


def get_item(request: Request, item_id: str) -> Response:
    if not ObjectId.is_valid(item_id) or len(item_id) != 24:
        raise HttpError(400, "id must be 24 hexadecimal characters")
    found = mongo.run(lambda db: db[COLLECTION].find_one({"_id": ObjectId(item_id)}))
    if found is None:
        raise HttpError(404, "item not found")
    found["id"] = str(found.pop("_id"))
    return response(200, json.loads(bson_dumps(found, json_options=RELAXED_JSON_OPTIONS)))


def route(request: Request) -> Callable[[], Response]:
    """The function that serves this request, or an :class:`HttpError` (404/405)."""
    path = request.path.rstrip("/") or "/"
    routes: dict[str, Callable[[], Response]] = {}
    if path == "/health":
        routes = {"GET": lambda: health(request)}
    elif path == "/items":
        routes = {"POST": lambda: create_item(request)}
    elif match := ITEM_PATH.match(request.path):
        item_id = match["item_id"]
        routes = {"GET": lambda: get_item(request, item_id)}
    if not routes:
        raise HttpError(404, "no such route")
    if request.method not in routes:
        raise HttpError(405, "method not allowed", {"allow": ", ".join(routes)})
    return routes[request.method]


def _serve(event: Any, context: Any) -> Response:
    try:
        request = parse_event(event)
        serve = route(request)
        with mongo.invocation_deadline(context):
            return serve()
    except HttpError as err:
        return error_response(err.status, err.message, err.headers)
    except (ConfigError, mongo.DatabaseConfigError) as err:
        log.error("configuration error: %s", err)  # messages never hold secrets
        return error_response(500, "database configuration error")
    except PyMongoError as err:
        if isinstance(err, ServerSelectionTimeoutError):
            log.error("database unreachable: %s", type(err).__name__)
            return error_response(503, "database unavailable")
        if err.timeout:
            log.error("database timeout: %s", type(err).__name__)
            return error_response(504, "database timed out")
        if isinstance(err, ConnectionFailure):
            log.error("database unavailable: %s", type(err).__name__)
            return error_response(503, "database unavailable")
        log.error("database error: %s", type(err).__name__)
        return error_response(502, "database error")


def handler(event: Any, context: Any) -> Response:
    """AWS Lambda entry point."""
    started = time.perf_counter()
    result = _serve(event, context)
    method, path = method_and_path(event)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    status = result["statusCode"]
    log.info(json.dumps({"method": method, "path": path, "status": status, "ms": elapsed_ms}))
    return result
