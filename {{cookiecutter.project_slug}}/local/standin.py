"""An embedded stand-in for an Atlas node that speaks the real wire protocol.

``mockupdb`` serves the protocol on a loopback TCP port; ``mongomock`` gives the
commands real CRUD semantics.  The server records every request with the
client port it came from, so tests can count sockets; it can play a replica
set primary or a mongos, check MONGODB-AWS and SCRAM-SHA-256 conversations, and
inject faults into the next matching command.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import bson
import mongomock
from bson import ObjectId
from mockupdb import MockupDB

Topology = Literal["replica_set", "sharded", "standalone"]
Auth = Literal["none", "iam", "password"]
HELLO_COMMANDS = frozenset({"ismaster", "isMaster", "hello"})
SCRAM_ITERATIONS = 4096
AUTH_FAILED = 18
UNAUTHORIZED = 13
NOT_WRITABLE_PRIMARY = 10107
CHAOS_COMMANDS = frozenset({"insert", "find", "ping"})
DUPLICATE_KEY = 11000
ACCEPT_LOOP_GRACE_S = 0.05


@dataclass
class Received:
    """One command as the server saw it."""

    port: int
    name: str
    database: str
    doc: dict[str, Any]


@dataclass
class _Fault:
    command: str
    action: Callable[[Any], bool]
    collection: str | None = None  # only commands on this collection, if set


@dataclass
class _ScramConversation:
    username: str
    client_first_bare: str
    server_first: str
    salted_password: bytes


@dataclass
class StandIn:
    """A running stand-in server. Use as a context manager."""

    topology: Topology = "replica_set"
    auth: Auth = "none"
    users: dict[str, str] = field(default_factory=dict)  # SCRAM username -> password
    max_wire_version: int = 21
    received: list[Received] = field(default_factory=list)
    aws_conversations: list[dict[str, Any]] = field(default_factory=list)
    injected: list[tuple[str, str]] = field(default_factory=list)  # (command, fault) by chaos

    def __post_init__(self) -> None:
        self._server = MockupDB(auto_ismaster=False, max_wire_version=self.max_wire_version)
        self._lock = threading.RLock()
        self._store: Any = mongomock.MongoClient()  # untyped library
        self._faults: deque[_Fault] = deque()
        self._authenticated: set[int] = set()
        self._scram: dict[int, _ScramConversation] = {}
        self._aws_nonces: dict[int, bytes] = {}
        self._server.autoresponds(self._respond)
        self._started = 0.0
        self._initial = (self.auth, dict(self.users))
        # Results of executed retryable writes by (session id, txnNumber): a retry of a
        # write that was applied gets the first answer again, as on a real server.
        self._write_results: dict[tuple[bytes, int], dict[str, Any]] = {}
        self._chaos: tuple[float, random.Random] | None = None
        self._last_was_fault = False
        # TTL indexes by (database, collection): {name: (field, expireAfterSeconds)}.
        self._ttl: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}

    def reset(self) -> None:
        """Forget everything seen and stored, and undo changes to auth and users.

        Cheaper than a new server (mockupdb needs up to a second to stop), so a
        test session can share one stand-in and reset it between tests."""
        with self._lock:
            self.auth, users = self._initial
            self.users = dict(users)
            self.received.clear()
            self.aws_conversations.clear()
            self._faults.clear()
            self._authenticated.clear()
            self._scram.clear()
            self._aws_nonces.clear()
            self._write_results.clear()
            self.injected.clear()
            self._chaos = None
            self._last_was_fault = False
            self._ttl.clear()
            self._store = mongomock.MongoClient()

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> StandIn:
        self._server.run()
        self._started = time.monotonic()
        return self

    def stop(self) -> None:
        # mockupdb's accept thread fails if the socket closes before its first loop.
        time.sleep(max(0.0, self._started + ACCEPT_LOOP_GRACE_S - time.monotonic()))
        self._server.stop()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.port}"

    @property
    def uri(self) -> str:
        """A plain connection string, as Atlas shows it: no credentials, no auth options."""
        return f"mongodb://{self.address}/"

    # --- what the server saw -------------------------------------------------------

    def ports(self) -> set[int]:
        """Every client socket that sent at least one command."""
        with self._lock:
            return {r.port for r in self.received}

    def app_ports(self) -> set[int]:
        """Sockets that carried application commands (not only monitoring hellos)."""
        with self._lock:
            return {r.port for r in self.received if r.name not in HELLO_COMMANDS}

    def commands(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.name == name]

    def collection(self, database: str, name: str) -> Any:
        return self._store[database][name]

    def ttl_indexes(self, database: str, name: str) -> dict[str, tuple[str, int]]:
        """The collection's TTL indexes: ``{index name: (field, expireAfterSeconds)}``."""
        with self._lock:
            return dict(self._ttl.get((database, name), {}))

    def run_ttl_monitor(self) -> int:
        """Delete what the TTL indexes say has expired, as the server's TTL monitor does
        (once a minute: until then, expired documents are still there).  Returns how many."""
        now = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
        deleted = 0
        with self._lock:
            for (database, name), indexes in self._ttl.items():
                for field_name, seconds in indexes.values():
                    cutoff = now - datetime.timedelta(seconds=seconds)
                    result = self._store[database][name].delete_many({field_name: {"$lte": cutoff}})
                    deleted += result.deleted_count
        return deleted

    def set_password(self, username: str, password: str) -> None:
        """Rotate a SCRAM user's password on the server."""
        with self._lock:
            self.users[username] = password

    # --- fault injection -----------------------------------------------------------

    def drop_connections(self) -> int:
        """Close every client socket from the server side, as a NAT gateway or
        PrivateLink does with idle connections while a Lambda container is frozen.
        Returns how many were closed."""
        # mockupdb keeps its accepted sockets in a private WeakKeyDictionary.
        sockets = list(self._server._server_socks)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(sockets)

    def hang_up_next(self, command: str) -> None:
        """Close the socket instead of answering the next ``command``."""
        self._faults.append(_Fault(command, lambda request: bool(request.hangup())))

    def apply_then_hang_up_next(self, command: str) -> None:
        """Execute the next ``command``, then close the socket before answering: the
        client cannot know the write happened, and must retry it safely."""

        def apply_and_hang_up(request: Any) -> bool:
            doc = dict(request.doc)
            with self._lock:
                self._execute(next(iter(doc)), doc)
            return bool(request.hangup())

        self._faults.append(_Fault(command, apply_and_hang_up))

    def inject_random_faults(self, rate: float, rng: random.Random) -> None:
        """From now on, fault a share ``rate`` of CRUD commands at random: a hang-up
        before or after executing, or a primary step-down.  Never two in a row, so
        the driver's single retry of an operation always meets a healthy server."""
        with self._lock:
            self._chaos = (rate, rng)

    def fail_next(
        self,
        command: str,
        code: int,
        message: str,
        labels: tuple[str, ...] = (),
        collection: str | None = None,
    ) -> None:
        """Answer the next ``command`` (on ``collection``, if given) with a server error."""

        def reply(request: Any) -> bool:
            extra = {"errorLabels": list(labels)} if labels else {}
            return bool(request.replies(ok=0, code=code, errmsg=message, **extra))

        self._faults.append(_Fault(command, reply, collection))

    # --- the protocol -------------------------------------------------------------

    def _respond(self, request: Any) -> bool:
        doc = dict(request.doc)
        name = next(iter(doc))
        port = request.client_port
        with self._lock:
            self.received.append(Received(port, name, str(doc.get("$db", "")), doc))
            fault = self._take_fault(name, doc) or self._random_fault(name, doc)
            self._last_was_fault = fault is not None
        if fault is not None:
            return fault.action(request)
        if name in HELLO_COMMANDS:
            return bool(request.replies(self._hello(doc)))
        if name == "saslStart":
            return self._sasl_start(request, doc, port)
        if name == "saslContinue":
            return self._sasl_continue(request, doc, port)
        if name == "endSessions":
            return bool(request.ok())
        if self.auth != "none" and port not in self._authenticated:
            return bool(
                request.replies(
                    ok=0, code=UNAUTHORIZED, errmsg=f"command {name} requires authentication"
                )
            )
        return self._crud(request, name, doc)

    def _random_fault(self, name: str, doc: Mapping[str, Any]) -> _Fault | None:
        if self._chaos is None or self._last_was_fault or name not in CHAOS_COMMANDS:
            return None
        rate, rng = self._chaos
        if rng.random() >= rate:
            return None
        kinds = ["hang_up"] + (["apply_then_hang_up", "step_down"] if name == "insert" else [])
        kind = rng.choice(kinds)
        self.injected.append((name, kind))
        if kind == "hang_up":
            self.hang_up_next(name)
        elif kind == "apply_then_hang_up":
            self.apply_then_hang_up_next(name)
        else:
            self.fail_next(name, NOT_WRITABLE_PRIMARY, "not primary", ("RetryableWriteError",))
        return self._take_fault(name, doc)

    def _take_fault(self, name: str, doc: Mapping[str, Any]) -> _Fault | None:
        for fault in self._faults:
            if fault.command == name and fault.collection in {None, doc.get(name)}:
                self._faults.remove(fault)
                return fault
        return None

    def _hello(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        # No topologyVersion: the driver then polls instead of streaming, as on Lambda.
        reply: dict[str, Any] = {
            "ismaster": True,
            "isWritablePrimary": True,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.datetime.now(tz=datetime.UTC),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": 1,
            "minWireVersion": 0,
            "maxWireVersion": self.max_wire_version,
            "readOnly": False,
            "ok": 1,
        }
        if doc.get("helloOk"):
            reply["helloOk"] = True
        if self.topology == "replica_set":
            reply.update(
                setName="rs0",
                setVersion=1,
                electionId=ObjectId("7fffffff0000000000000001"),
                hosts=[self.address],
                primary=self.address,
                me=self.address,
            )
        elif self.topology == "sharded":
            reply["msg"] = "isdbgrid"
        return reply

    # --- authentication -------------------------------------------------------------

    def _sasl_start(self, request: Any, doc: Mapping[str, Any], port: int) -> bool:
        mechanism = doc.get("mechanism")
        payload = bytes(doc.get("payload", b""))
        if self.auth == "iam" and mechanism == "MONGODB-AWS" and doc.get("$db") == "$external":
            client_first = bson.decode(payload)
            client_nonce = bytes(client_first["r"])
            server_nonce = client_nonce + os.urandom(32)
            with self._lock:
                self._aws_nonces[port] = server_nonce
                self.aws_conversations.append({"port": port, "client_first": client_first})
            reply = bson.encode({"s": server_nonce, "h": "sts.amazonaws.com"})
            return bool(request.replies(ok=1, conversationId=1, done=False, payload=reply))
        if self.auth == "password" and mechanism == "SCRAM-SHA-256":
            return self._scram_start(request, payload.decode(), port)
        return bool(request.replies(ok=0, code=AUTH_FAILED, errmsg="Authentication failed."))

    def _sasl_continue(self, request: Any, doc: Mapping[str, Any], port: int) -> bool:
        payload = bytes(doc.get("payload", b""))
        if self.auth == "iam":
            client_second = bson.decode(payload)
            with self._lock:
                self.aws_conversations[-1]["client_second"] = client_second
                self.aws_conversations[-1]["server_nonce"] = self._aws_nonces.get(port)
            authorization = str(client_second.get("a", ""))
            if (
                not authorization.startswith("AWS4-HMAC-SHA256 Credential=")
                or "d" not in client_second
            ):
                return bool(
                    request.replies(ok=0, code=AUTH_FAILED, errmsg="Authentication failed.")
                )
            self._authenticated.add(port)
            return bool(request.replies(ok=1, conversationId=1, done=True, payload=b""))
        return self._scram_finish(request, payload.decode(), port)

    def _scram_start(self, request: Any, client_first: str, port: int) -> bool:
        bare = client_first.split(",", 2)[2]  # drop the "n,," GS2 header
        fields = dict(item.split("=", 1) for item in bare.split(","))
        username = fields["n"].replace("=2C", ",").replace("=3D", "=")
        password = self.users.get(username)
        if password is None:
            return bool(request.replies(ok=0, code=AUTH_FAILED, errmsg="Authentication failed."))
        salt = hashlib.sha256(username.encode()).digest()[:16]
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
        nonce = fields["r"] + base64.b64encode(os.urandom(24)).decode()
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={SCRAM_ITERATIONS}"
        with self._lock:
            self._scram[port] = _ScramConversation(username, bare, server_first, salted)
        return bool(
            request.replies(ok=1, conversationId=1, done=False, payload=server_first.encode())
        )

    def _scram_finish(self, request: Any, client_final: str, port: int) -> bool:
        with self._lock:
            conversation = self._scram.pop(port, None)
        if conversation is None:
            return bool(request.replies(ok=0, code=AUTH_FAILED, errmsg="Authentication failed."))
        without_proof, _, proof_field = client_final.rpartition(",p=")
        auth_message = (
            f"{conversation.client_first_bare},{conversation.server_first},{without_proof}"
        )
        client_key = hmac.digest(conversation.salted_password, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        signature = hmac.digest(stored_key, auth_message.encode(), "sha256")
        proof = base64.b64decode(proof_field)
        recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(recovered).digest(), stored_key):
            return bool(request.replies(ok=0, code=AUTH_FAILED, errmsg="Authentication failed."))
        server_key = hmac.digest(conversation.salted_password, b"Server Key", "sha256")
        verifier = base64.b64encode(
            hmac.digest(server_key, auth_message.encode(), "sha256")
        ).decode()
        self._authenticated.add(port)
        return bool(
            request.replies(ok=1, conversationId=1, done=True, payload=f"v={verifier}".encode())
        )

    # --- CRUD over mongomock -------------------------------------------------------

    def _crud(self, request: Any, name: str, doc: Mapping[str, Any]) -> bool:
        with self._lock:
            reply = self._execute(name, doc)
        return bool(request.replies(reply))

    def _execute(self, name: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        database = str(doc.get("$db", "test"))
        if name in {"ping", "buildInfo", "buildinfo"}:
            return {"ok": 1, "version": "8.0.0"}
        if name == "insert":
            return self._retryable_write(doc, lambda: self._insert(database, doc))
        if name == "update":
            return self._retryable_write(doc, lambda: self._update(database, doc))
        if name == "delete":
            return self._retryable_write(doc, lambda: self._delete(database, doc))
        if name == "find":
            return self._find(database, doc)
        if name == "createIndexes":
            return self._create_indexes(database, doc)
        return {"ok": 0, "code": 59, "errmsg": f"no such command: '{name}'"}

    def _retryable_write(
        self, doc: Mapping[str, Any], write: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        if "txnNumber" not in doc or "lsid" not in doc:
            return write()
        session = doc["lsid"]["id"]  # a UUID or a BSON Binary, by codec options
        key = (bytes(getattr(session, "bytes", session)), int(doc["txnNumber"]))
        if key not in self._write_results:
            self._write_results[key] = write()
        return self._write_results[key]

    def _insert(self, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        collection = self._store[database][doc["insert"]]
        documents = list(doc.get("documents", []))
        inserted, errors = 0, []
        for index, document in enumerate(documents):
            try:
                collection.insert_one(dict(document))
                inserted += 1
            except mongomock.DuplicateKeyError as exc:
                errors.append({"index": index, "code": DUPLICATE_KEY, "errmsg": str(exc)})
                if doc.get("ordered", True):
                    break
        reply: dict[str, Any] = {"ok": 1, "n": inserted}
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _update(self, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Updates with operators, replacements and upserts, applied in order."""
        collection = self._store[database][doc["update"]]
        matched = modified = 0
        upserted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, statement in enumerate(doc.get("updates", [])):
            spec, change = dict(statement["q"]), dict(statement["u"])
            upsert = bool(statement.get("upsert", False))
            try:
                if not any(key.startswith("$") for key in change):
                    result = collection.replace_one(spec, change, upsert=upsert)
                elif statement.get("multi"):
                    result = collection.update_many(spec, change, upsert=upsert)
                else:
                    result = collection.update_one(spec, change, upsert=upsert)
            except mongomock.DuplicateKeyError as exc:
                errors.append({"index": index, "code": DUPLICATE_KEY, "errmsg": str(exc)})
                if doc.get("ordered", True):
                    break
                continue
            matched += result.matched_count
            modified += result.modified_count
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
        reply: dict[str, Any] = {"ok": 1, "n": matched + len(upserted), "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _delete(self, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        collection = self._store[database][doc["delete"]]
        deleted = 0
        for statement in doc.get("deletes", []):
            spec = dict(statement["q"])
            if statement.get("limit", 0) == 1:
                deleted += collection.delete_one(spec).deleted_count
            else:
                deleted += collection.delete_many(spec).deleted_count
        return {"ok": 1, "n": deleted}

    def _create_indexes(self, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Creates what is missing; an index that exists with the same spec is left as it is.
        TTL indexes delete nothing until :meth:`run_ttl_monitor` runs."""
        collection = self._store[database][doc["createIndexes"]]
        before = len(collection.index_information())
        for spec in doc.get("indexes", []):
            options = {k: v for k, v in spec.items() if k not in {"key", "v"}}
            keys = list(dict(spec["key"]).items())
            if "expireAfterSeconds" in options:  # kept here: mongomock would expire on read
                seconds = int(options.pop("expireAfterSeconds"))
                ttl = self._ttl.setdefault((database, doc["createIndexes"]), {})
                ttl[str(options.get("name", ""))] = (keys[0][0], seconds)
            collection.create_index(keys, **options)
        after = len(collection.index_information())
        return {"ok": 1, "numIndexesBefore": before, "numIndexesAfter": after}

    def _find(self, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        collection = self._store[database][doc["find"]]
        cursor = collection.find(dict(doc.get("filter", {})), doc.get("projection"))
        if doc.get("limit"):
            cursor = cursor.limit(int(doc["limit"]))
        batch = list(cursor)
        return {
            "ok": 1,
            "cursor": {"id": 0, "ns": f"{database}.{doc['find']}", "firstBatch": batch},
        }
