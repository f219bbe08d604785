"""POST /items with an Idempotency-Key: replays, conflicts, requests in progress, expiry.

The records live in the function's own database, over the wire like everything else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from pymongo.collection import Collection

from {{ cookiecutter.package_name }} import handler, idempotency, mongo
from local.standin import StandIn

from .conftest import DATABASE, FakeContext, Invoke, header, http_event

KEY = "5c1f2e0a-order-1234"
BODY = {"sku": "replay-me", "quantity": 2}


def post(invoke: Invoke, body: Any = BODY, key: str | None = KEY) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["idempotency-key"] = key
    return invoke("POST", "/items", body, headers=headers)


def items(server: StandIn) -> list[dict[str, Any]]:
    return list(server.collection(DATABASE, "items").find())


def records(server: StandIn) -> Any:
    return server.collection(DATABASE, idempotency.COLLECTION)


def test_a_replay_gets_the_first_answer_and_stores_nothing(
    container: StandIn, invoke: Invoke
) -> None:
    first = post(invoke)
    again = post(invoke)
    assert first["statusCode"] == again["statusCode"] == 201
    assert again["body"] == first["body"]
    assert header(again, "location") == header(first, "location")
    assert header(first, "idempotent-replayed") is None
    assert header(again, "idempotent-replayed") == "true"
    assert len(items(container)) == 1
    inserts = [c for c in container.commands("insert") if c.doc["insert"] == "items"]
    assert len(inserts) == 1


def test_the_record_is_keyed_by_the_keys_hash(container: StandIn, invoke: Invoke) -> None:
    created = json.loads(post(invoke)["body"])
    (record,) = records(container).find()
    digest = hashlib.sha256(json.dumps(KEY).encode()).hexdigest()
    assert record["_id"] == f"{idempotency.KEY_PREFIX}#{digest}"  # the key itself is not stored
    assert record["status"] == "COMPLETED"
    assert json.loads(record["data"]) == created
    assert isinstance(record["expiration"], dt.datetime)
    assert "in_progress_expiration" not in record


def test_a_replay_is_answered_by_another_container_too(container: StandIn, invoke: Invoke) -> None:
    first = post(invoke)
    mongo.reset_for_tests(mongo.ClientHolder(**holder_options()))  # a different container
    again = post(invoke)
    assert again["body"] == first["body"]
    assert header(again, "idempotent-replayed") == "true"
    assert len(items(container)) == 1


def test_the_same_key_with_another_body_is_refused(container: StandIn, invoke: Invoke) -> None:
    assert post(invoke)["statusCode"] == 201
    refused = post(invoke, {"sku": "something-else"})
    assert refused["statusCode"] == 422
    assert "another body" in json.loads(refused["body"])["error"]
    assert len(items(container)) == 1


def test_other_keys_and_no_key_each_store_an_item(container: StandIn, invoke: Invoke) -> None:
    assert post(invoke, key="key-a")["statusCode"] == 201
    assert post(invoke, key="key-b")["statusCode"] == 201
    assert post(invoke, key=None)["statusCode"] == 201
    assert post(invoke, key=None)["statusCode"] == 201
    assert len(items(container)) == 4
    assert records(container).count_documents({}) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there", "caf\u00e9"])
def test_a_malformed_key_is_refused_before_anything_is_written(
    container: StandIn, invoke: Invoke, key: str
) -> None:
    response = post(invoke, key=key)
    assert response["statusCode"] == 400
    assert "Idempotency-Key" in json.loads(response["body"])["error"]
    assert not container.commands("insert")


class Killed(BaseException):
    """Lambda ending an invocation at its timeout: no handler code runs after it."""


@pytest.fixture
def killed_mid_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first insert into ``items`` dies with its invocation, before reaching the server."""
    real_insert = Collection.insert_one
    killed: list[Any] = []

    def insert_one(self: Collection[Any], document: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == "items" and not killed:
            killed.append(document)
            raise Killed
        return real_insert(self, document, *args, **kwargs)

    monkeypatch.setattr(Collection, "insert_one", insert_one)


def keyed_event() -> dict[str, Any]:
    event = http_event("POST", "/items", BODY)
    event["headers"]["idempotency-key"] = KEY
    return event


# Killed invocations write no metrics, as on Lambda; Powertools warns about that.
no_metrics_warning = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@no_metrics_warning
def test_a_request_still_in_progress_gets_409(
    container: StandIn, invoke: Invoke, killed_mid_insert: None
) -> None:
    with pytest.raises(Killed):
        handler.handler(keyed_event(), FakeContext(remaining_ms=60_000))
    (record,) = records(container).find()
    assert record["status"] == "INPROGRESS"
    conflict = post(invoke)
    assert conflict["statusCode"] == 409
    assert "in progress" in json.loads(conflict["body"])["error"]
    assert items(container) == []


@no_metrics_warning
def test_a_request_that_outlived_its_invocation_no_longer_blocks_the_key(
    container: StandIn, invoke: Invoke, killed_mid_insert: None
) -> None:
    with pytest.raises(Killed):
        handler.handler(keyed_event(), FakeContext(remaining_ms=60_000))
    (record,) = records(container).find()
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    # The in-progress record lasts as long as its invocation could: a minute here.
    assert now_ms < record["in_progress_expiration"] <= now_ms + 60_000
    records(container).update_many({}, {"$set": {"in_progress_expiration": now_ms - 1}})
    retried = post(invoke)
    assert retried["statusCode"] == 201
    assert header(retried, "idempotent-replayed") is None
    assert len(items(container)) == 1


@pytest.mark.parametrize("expiry", ["past its expiration", "removed by the TTL monitor"])
def test_an_expired_key_stores_a_new_item(container: StandIn, invoke: Invoke, expiry: str) -> None:
    first = json.loads(post(invoke)["body"])
    # An hour later (EXPIRES_AFTER_S), as far as the record can tell.
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    records(container).update_many({}, {"$set": {"expiration": past}})
    if expiry == "removed by the TTL monitor":
        assert container.run_ttl_monitor() == 1
    else:  # the TTL monitor runs once a minute: until it does, the record is still there
        assert records(container).count_documents({}) == 1
    again = post(invoke)
    assert again["statusCode"] == 201
    assert header(again, "idempotent-replayed") is None
    assert json.loads(again["body"])["id"] != first["id"]
    assert len(items(container)) == 2


def test_a_failed_insert_leaves_the_key_free_for_a_retry(
    container: StandIn, invoke: Invoke
) -> None:
    container.fail_next("insert", 8000, "AtlasError: quota exceeded", collection="items")
    failed = post(invoke)
    assert failed["statusCode"] == 502
    assert records(container).count_documents({}) == 0  # the in-progress record was removed
    retried = post(invoke)
    assert retried["statusCode"] == 201
    assert header(retried, "idempotent-replayed") is None
    assert len(items(container)) == 1


def test_the_ttl_index_is_created_once_per_container(container: StandIn, invoke: Invoke) -> None:
    assert post(invoke, key=None)["statusCode"] == 201  # no key: no index, no record
    assert not container.commands("createIndexes")
    for n in range(3):
        assert post(invoke, {"n": n}, key=f"key-{n}")["statusCode"] == 201
    (create,) = container.commands("createIndexes")
    (spec,) = create.doc["indexes"]
    assert dict(spec["key"]) == {"expiration": 1}
    assert spec["expireAfterSeconds"] == 0
    ttl = container.ttl_indexes(DATABASE, idempotency.COLLECTION)
    assert ttl == {idempotency.TTL_INDEX: ("expiration", 0)}
    mongo.reset_for_tests(mongo.ClientHolder(**holder_options()))  # a new container
    assert post(invoke, {"n": 9}, key="key-9")["statusCode"] == 201
    assert len(container.commands("createIndexes")) == 2


def holder_options() -> dict[str, Any]:
    """How the ``container`` fixture builds a client holder, for a second container."""
{%- if cookiecutter.auth_mode == "password" %}
    from {{ cookiecutter.package_name }}.secret import Credentials

    from .conftest import DB_PASSWORD, DB_USER

    return {"secret_reader": lambda arn: Credentials(DB_USER, DB_PASSWORD)}
{%- else %}
    return {}
{%- endif %}
