"""The Lambda entry point: a small JSON API over one MongoDB collection.

The API Gateway HTTP API sends every request here (its ``$default`` route), so
the routes below are the only place a route is defined: add one with a
decorated function.  Every database call goes through :func:`mongo.run` inside
the invocation's deadline; the handler never builds or closes a client.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from bson import ObjectId
from bson.json_util import RELAXED_JSON_OPTIONS
from bson.json_util import dumps as bson_dumps
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError

from . import {% if cookiecutter.cold_start != "on_demand" %}cold_start, {% endif %}mongo, telemetry
from .config import ConfigError, DatabaseConfigError
from .telemetry import logger, metrics
from .web import JSON_TYPE, HttpError, decode_body, method_and_path, read_json_object

COLLECTION = "items"
IDEMPOTENCY_KEY = "idempotency-key"

app = APIGatewayHttpResolver()


def to_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def json_response(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(status, JSON_TYPE, to_json(payload), headers)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> Response[str]:
    return json_response(status, {"error": message}, headers)


# --- routes -----------------------------------------------------------------------


@app.get("/health")
def health() -> Response[str]:
    mongo.run(lambda db: db.command("ping"), idempotent=True)
    return json_response(200, {"ok": True})


@app.post("/items")
def create_item() -> Response[str]:
    event = app.current_event
    body = decode_body(event.body, bool(event.is_base64_encoded))
    document = read_json_object(event.headers.get("content-type"), body)
    key = event.headers.get(IDEMPOTENCY_KEY)

    def insert() -> dict[str, Any]:
        result = mongo.run(lambda db: db[COLLECTION].insert_one(document))
        return {"id": str(result.inserted_id)}

    replayed = False
    if key is None:
        created = insert()
    else:
        # Imported on the first keyed request: Powertools' idempotency package
        # imports boto3, which requests without a key never need.
        from . import idempotency

        created, replayed = idempotency.once(key, body, app.lambda_context, insert)
    headers = {"location": f"/items/{created['id']}"}
    if replayed:
        headers["idempotent-replayed"] = "true"
    return json_response(201, created, headers)


@app.get("/items/<item_id>")
def get_item(item_id: str) -> Response[str]:
    if not ObjectId.is_valid(item_id) or len(item_id) != 24:
        raise HttpError(400, "id must be 24 hexadecimal characters")
    found = mongo.run(lambda db: db[COLLECTION].find_one({"_id": ObjectId(item_id)}))
    if found is None:
        raise HttpError(404, "item not found")
    found = {"id": str(found.pop("_id")), **found}
    body = bson_dumps(found, json_options=RELAXED_JSON_OPTIONS, separators=(",", ":"))
    return Response(200, JSON_TYPE, body)


# --- errors -----------------------------------------------------------------------


@app.not_found
def no_route(_: NotFoundError) -> Response[str]:
    # Powertools answers 404 for a known path with another method; HTTP wants 405
    # and the methods the path has.  The resolver's own route table says which.
    event = app.current_event
    allowed = sorted(
        route.method
        for route in (*app._static_routes, *app._dynamic_routes)
        if route.rule.match(event.path)
    )
    if allowed:
        return error_response(405, "method not allowed", {"allow": ", ".join(allowed)})
    return error_response(404, "no such route")


def http_error(error: HttpError) -> Response[str]:
    return error_response(error.status, error.message, error.headers)


def configuration_error(error: Exception) -> Response[str]:
    logger.error("configuration error: %s", error)  # the messages never hold secrets
    return error_response(500, "database configuration error")


def database_error(error: PyMongoError) -> Response[str]:
    kind = type(error).__name__  # never str(error): it can quote the connection string
    if isinstance(error, ServerSelectionTimeoutError):
        logger.error("database unreachable: %s", kind)
        return error_response(503, "database unavailable")
    if error.timeout:
        logger.error("database timeout: %s", kind)
        return error_response(504, "database timed out")
    if isinstance(error, ConnectionFailure):
        logger.error("database unavailable: %s", kind)
        return error_response(503, "database unavailable")
    logger.error("database error: %s", kind)
    return error_response(502, "database error")


# What the routes may raise, and the answer for each (Powertools' exception handlers).
app.exception_handler(HttpError)(http_error)
app.exception_handler([ConfigError, DatabaseConfigError])(configuration_error)
app.exception_handler(PyMongoError)(database_error)


# --- the entry point --------------------------------------------------------------


def serve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one HTTP API event; database calls are bounded by the time the invocation has left."""
    if method_and_path(event) is None:
        body = to_json({"error": "not an HTTP API (payload 2.0) event"})
        return {"statusCode": 400, "headers": {"content-type": JSON_TYPE}, "body": body}
    with mongo.invocation_deadline(context):
        return app.resolve(event, context)


@metrics.log_metrics  # writes this invocation's metrics (EMF) to stdout when it returns
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
    log_event=False,  # events carry request bodies: never log them
)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AWS Lambda entry point: serve the request, then log one line and report its metrics."""
    started = time.perf_counter()
    mongo.DRIVER_EVENTS.reset()
    response = serve(event, context)
    status = int(response["statusCode"])
    cold_start = bool(logger.get_current_keys().get("cold_start"))
    telemetry.record_invocation(cold_start, mongo.DRIVER_EVENTS.counts())
    method, path = method_and_path(event) or ("-", "-")
    logger.info(  # arguments, not an f-string: Powertools then skips trying it as JSON
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "http_method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        },
    )
    return response
{%- if cookiecutter.cold_start == "snapstart" %}


# A new container's start (cold_start.py): SnapStart's hooks, which the runtime runs
# before the snapshot and after each restore.
cold_start.prepare()
{%- elif cookiecutter.cold_start == "provisioned" %}


# A new container's start (cold_start.py): connected during INIT, by one GET /health
# through the routes, when Lambda initialises it for provisioned concurrency.
cold_start.prepare(serve)
{%- endif %}
