"""The shared client: its options on the live client and the handshake the server sees."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dns.rdata
import pytest
from pymongo.synchronous import srv_resolver

from {{ cookiecutter.package_name }} import config, mongo
{%- if cookiecutter.auth_mode == "password" %}
from {{ cookiecutter.package_name }}.secret import Credentials
{%- endif %}
from local.standin import StandIn

from .conftest import FUNCTION_NAME, LAMBDA_ENV, {% if cookiecutter.auth_mode == "password" %}TEST_SECRET_ARN, {% endif %}Invoke


def test_live_client_has_the_tuned_options(container: StandIn, invoke: Invoke) -> None:
    assert invoke("GET", "/health")["statusCode"] == 200
    client = mongo.get_client()
    pool = client.options.pool_options
    assert pool.max_idle_time_seconds == 60
    assert pool.max_pool_size == 1
    assert pool.min_pool_size == 0
    assert client.options.retry_writes is True
    assert client.options.retry_reads is True
    assert client.options.server_monitoring_mode == "poll"
    assert 0 < client.options.server_selection_timeout < config.DEFAULT_FUNCTION_TIMEOUT_S
    assert pool.connect_timeout is not None
    assert pool.connect_timeout < config.DEFAULT_FUNCTION_TIMEOUT_S
    assert pool.metadata["application"] == {"name": FUNCTION_NAME}


def test_the_same_client_serves_every_invocation(container: StandIn, invoke: Invoke) -> None:
    invoke("GET", "/health")
    first = mongo.get_client()
    for _ in range(5):
        invoke("GET", "/health")
    assert mongo.get_client() is first


def test_handshake_identifies_the_lambda_function(container: StandIn, invoke: Invoke) -> None:
    invoke("GET", "/health")
    hellos = [r.doc for r in container.received if r.name in {"hello", "ismaster", "isMaster"}]
    assert hellos, "the server saw no handshake"
    handshake = hellos[0]["client"]
    assert handshake["application"] == {"name": FUNCTION_NAME}
    env = handshake["env"]
    assert env["name"] == "aws.lambda"
    assert env["memory_mb"] == int(LAMBDA_ENV["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    assert env["region"] == LAMBDA_ENV["AWS_REGION"]


def options_for(function_timeout_s: int) -> dict[str, Any]:
    settings = config.load_settings(
        {
            "MONGODB_URI": "mongodb+srv://cluster0.example.mongodb.net/",
            "MONGODB_DATABASE": "app",
            "FUNCTION_TIMEOUT_S": str(function_timeout_s),
{%- if cookiecutter.auth_mode == "password" %}
            "MONGODB_SECRET_ARN": TEST_SECRET_ARN,
{%- endif %}
        }
    )
{%- if cookiecutter.auth_mode == "password" %}
    return mongo.client_options(settings, Credentials("u", "p"))
{%- else %}
    return mongo.client_options(settings)
{%- endif %}


@pytest.mark.parametrize("function_timeout_s", [3, 6, 15, 900])
def test_timeouts_leave_room_inside_the_function_timeout(function_timeout_s: int) -> None:
    """The stack's FUNCTION_TIMEOUT_S, not a number fixed at generation, bounds the client."""
    options = options_for(function_timeout_s)
    budget_ms = function_timeout_s * 1000
    assert options["serverSelectionTimeoutMS"] + options["connectTimeoutMS"] < budget_ms
    assert options["tls"] is True
    if function_timeout_s < 10:  # below the caps, the timeouts follow the function's timeout
        longer = options_for(function_timeout_s + 1)
        assert longer["serverSelectionTimeoutMS"] > options["serverSelectionTimeoutMS"]


SRV_NAME = "cluster0.example.mongodb.net"
SRV_HOSTS = [f"cluster0-shard-00-0{i}.example.mongodb.net" for i in range(5)]


class FakeAnswer(list[Any]):
    """Just enough of a dnspython Answer for the driver's SRV resolver."""

    def __init__(self, records: list[Any]) -> None:
        super().__init__(records)
        self.rrset = SimpleNamespace(ttl=60)


@pytest.fixture
def fake_srv_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer the SRV and TXT lookups of an Atlas mongodb+srv:// string offline, as Atlas does."""
    txt = "authSource=admin"
    if config.CLUSTER_TOPOLOGY == "replica_set":
        txt += "&replicaSet=atlas-abc-shard-0"

    def resolve(name: str, rdtype: str, **kwargs: Any) -> FakeAnswer:
        if rdtype == "SRV":
            assert name == f"_mongodb._tcp.{SRV_NAME}"
            return FakeAnswer(
                [dns.rdata.from_text("IN", "SRV", f"0 0 27017 {host}.") for host in SRV_HOSTS]
            )
        assert (name, rdtype) == (SRV_NAME, "TXT")
        return FakeAnswer([dns.rdata.from_text("IN", "TXT", f'"{txt}"')])

    monkeypatch.setattr(srv_resolver, "_resolve", resolve)


def test_srv_max_hosts_only_for_sharded_clusters(
    fake_srv_dns: None, lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI", f"mongodb+srv://{SRV_NAME}/")
{%- if cookiecutter.auth_mode == "password" %}
    monkeypatch.setenv("MONGODB_SECRET_ARN", TEST_SECRET_ARN)
    holder = mongo.ClientHolder(secret_reader=lambda arn: Credentials("u", "p"))
{%- else %}
    holder = mongo.ClientHolder()
{%- endif %}
    client = holder.client()  # connects in the background to hosts that do not exist: harmless
    try:
        # The driver resolves SRV when the topology opens; a replicaSet TXT option combined
        # with srvMaxHosts would raise ConfigurationError right here.
        client._get_topology()
        seeds = client.topology_description.server_descriptions()
        if config.CLUSTER_TOPOLOGY == "sharded":
            assert len(seeds) == mongo.SRV_MAX_HOSTS < len(SRV_HOSTS)
        else:
            assert len(seeds) == len(SRV_HOSTS)
        assert client.options.pool_options._ssl_context is not None  # TLS on for Atlas
    finally:
        holder.rebuild()
