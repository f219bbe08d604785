"""Idempotent ``POST /items``: Powertools idempotency, its records kept in MongoDB.

A client that retries after a timeout sends the same ``Idempotency-Key``: the
first request stores the item and its answer; a repeat with the same body within
:data:`EXPIRES_AFTER_S` gets that answer again and stores nothing; a repeat
with another body is refused (422); a repeat while the first is still running
gets 409.  The records live in the function's own database (no DynamoDB table
just for this), one document per key: the key's hash is ``_id`` and a TTL index
on ``expiration`` lets MongoDB delete expired records.  The index is created on
the first keyed request of each container (one ``createIndexes`` round trip,
which the server answers without work once the index exists); requests
without a key, and the cold start itself, never pay for it.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pymongo.errors import DuplicateKeyError

from . import mongo
from .web import HttpError

COLLECTION = "idempotency"
TTL_INDEX = "expiration_ttl"
# How long a key's answer is kept: long enough for any client's retries.
EXPIRES_AFTER_S = 60 * 60
KEY_PREFIX = "POST /items"  # stable across deployments, unlike the default (module path)
MAX_KEY_LENGTH = 255
IN_PROGRESS = STATUS_CONSTANTS["INPROGRESS"]

Response = dict[str, Any]


class MongoPersistenceLayer(BasePersistenceLayer):
    """Powertools idempotency records as documents of one collection, through :func:`mongo.run`.

    ``{_id: <prefix>#<sha256 of the key>, status, expiration, in_progress_expiration,
    data, validation}``; ``expiration`` is a date, so a TTL index can remove the record.
    """

    def __init__(self, collection: str = COLLECTION) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.collection = collection
        self._indexed_by: weakref.ref[Any] | None = None  # the client that made sure of it

    def _ensure_ttl_index(self) -> None:
        """Once per client, so once per container."""
        client = mongo.get_client()
        if self._indexed_by is None or self._indexed_by() is not client:
            mongo.run(
                lambda db: db[self.collection].create_index(
                    "expiration", expireAfterSeconds=0, name=TTL_INDEX
                )
            )
            self._indexed_by = weakref.ref(client)

    def _document(self, record: DataRecord) -> dict[str, Any]:
        document: dict[str, Any] = {
            "_id": record.idempotency_key,
            "status": record.status,
            "expiration": dt.datetime.fromtimestamp(record.expiry_timestamp or 0, dt.UTC),
            "data": record.response_data,
            "validation": record.payload_hash,
        }
        if record.in_progress_expiry_timestamp is not None:
            document["in_progress_expiration"] = record.in_progress_expiry_timestamp
        return document

    @staticmethod
    def _record(document: dict[str, Any]) -> DataRecord:
        expiration: dt.datetime = document["expiration"]
        if expiration.tzinfo is None:  # the driver returns naive UTC dates
            expiration = expiration.replace(tzinfo=dt.UTC)
        return DataRecord(
            idempotency_key=document["_id"],
            status=document["status"],
            expiry_timestamp=int(expiration.timestamp()),
            in_progress_expiry_timestamp=document.get("in_progress_expiration"),
            response_data=document.get("data", ""),
            payload_hash=document.get("validation", ""),
        )

    def _find(self, idempotency_key: str) -> dict[str, Any] | None:
        return mongo.run(lambda db: db[self.collection].find_one({"_id": idempotency_key}))

    def _get_record(self, idempotency_key: str) -> DataRecord:
        document = self._find(idempotency_key)
        if document is None:
            raise IdempotencyItemNotFoundError
        return self._record(document)

    def _put_record(self, data_record: DataRecord) -> None:
        """Store a new in-progress record, unless a live one holds the key."""
        self._ensure_ttl_index()
        document = self._document(data_record)
        try:
            mongo.run(lambda db: db[self.collection].insert_one(document))
            return
        except DuplicateKeyError:
            pass
        # The key is taken.  A record that expired (the TTL monitor runs once a
        # minute) or whose invocation ran out of time may be taken over.
        now = dt.datetime.now(dt.UTC)
        stale = {
            "_id": data_record.idempotency_key,
            "$or": [
                {"expiration": {"$lt": now}},
                {
                    "status": IN_PROGRESS,
                    "in_progress_expiration": {"$lt": int(now.timestamp() * 1000)},
                },
            ],
        }
        replacement = {k: v for k, v in document.items() if k != "_id"}
        taken_over = mongo.run(lambda db: db[self.collection].replace_one(stale, replacement))
        if taken_over.matched_count:
            return
        existing = self._find(data_record.idempotency_key)
        if existing is None:  # removed meanwhile: Powertools retries the whole step
            raise IdempotencyItemAlreadyExistsError
        old = self._record(existing)
        self._validate_payload(data_payload=data_record, stored_data_record=old)
        raise IdempotencyItemAlreadyExistsError(old_data_record=old)

    def _update_record(self, data_record: DataRecord) -> None:
        document = self._document(data_record)
        changes = {k: document[k] for k in ("status", "expiration", "data", "validation")}
        mongo.run(
            lambda db: db[self.collection].update_one(
                {"_id": data_record.idempotency_key},
                {"$set": changes, "$unset": {"in_progress_expiration": ""}},
            )
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        mongo.run(lambda db: db[self.collection].delete_one({"_id": data_record.idempotency_key}))


_REPLAYED = "__replayed"


def _mark_replay(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only when it answers from a stored record."""
    return {**response, _REPLAYED: True}


_store = MongoPersistenceLayer()
_config = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",  # the same key with another body is refused
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_S,
    hash_function="sha256",
    response_hook=_mark_replay,
)


def _run(*, request: dict[str, str], action: Callable[[], Response]) -> Response:
    return action()


# Hashes ``request`` (key and body), runs ``action`` at most once per key.
_run_once: Callable[..., Response] = idempotent_function(
    _run,
    data_keyword_argument="request",
    persistence_store=_store,
    config=_config,
    key_prefix=KEY_PREFIX,
)


def check_key(key: str) -> str:
    """The Idempotency-Key header as given, or a 400: 1-255 visible ASCII characters."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " < c <= "~" for c in key):
        raise HttpError(400, f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} visible ASCII characters")
    return key


def once(
    key: str, body: bytes, context: LambdaContext, action: Callable[[], Response]
) -> tuple[Response, bool]:
    """Run ``action`` once per key and body; returns its answer and whether it is a replay."""
    request = {"key": check_key(key), "body": body.decode("utf-8")}  # checked JSON: valid UTF-8
    # An in-progress record expires when this invocation would time out.
    _config.register_lambda_context(context)
    try:
        response: Response = _run_once(request=request, action=action)
    except IdempotencyValidationError:
        raise HttpError(422, "this Idempotency-Key was used with another body") from None
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
        raise HttpError(
            409, "a request with this Idempotency-Key is in progress: retry later"
        ) from None
    except IdempotencyPersistenceLayerError as error:
        # A database error while reading or writing the record: answer as for any other.
        if isinstance(error.__cause__, Exception):
            raise error.__cause__ from None
        raise
    replayed = bool(response.pop(_REPLAYED, False))
    return response, replayed
