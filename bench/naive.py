"""The pattern MongoDB's guide warns against: a new client in every invocation, closed at the end.

Same route (``GET /health`` -> ``ping``), same authentication as the generated
project, pymongo's default options.  Only the benchmark imports this module.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pymongo import MongoClient


def auth_options() -> dict[str, Any]:
    """The authentication the generated project uses, spelled out by hand."""
    if os.environ["BENCH_AUTH"] == "iam":
        return {"authMechanism": "MONGODB-AWS", "authSource": "$external"}
    return {
        "authMechanism": "SCRAM-SHA-256",
        "authSource": "admin",
        "username": os.environ["BENCH_DB_USER"],
        "password": os.environ["BENCH_DB_PASSWORD"],
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(os.environ["MONGODB_URI"], **auth_options())
    try:
        client[os.environ["MONGODB_DATABASE"]].command("ping")
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"ok": True}),
        }
    finally:
        client.close()
