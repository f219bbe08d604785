{%- set auth = cookiecutter.auth_mode -%}
{%- set network = cookiecutter.network_mode -%}
{%- set sharded = cookiecutter.cluster_topology == "sharded" -%}
{%- set provisioned = cookiecutter.cold_start == "provisioned" -%}
"""Deploy-time settings: CDK context (``cdk.json``, or ``-c key=value``) -> one checked object.

The answers given to the project template (region, database, concurrency budget) are constants
here. What differs per account and Atlas project comes from context and is checked before any
construct is built: a wrong value stops ``cdk synth`` with one message that names the key, the
value (redacted where it could hold a secret) and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from aws_cdk import aws_logs as logs

# --- answers given to the project template ---------------------------------------------------
STACK_NAME = "{{ cookiecutter.project_slug }}"
AWS_REGION = "{{ cookiecutter.aws_region }}"
DATABASE_NAME = {{ cookiecutter.database_name | tojson }}
# Reserved concurrency caps containers, and so connections (each container holds a small pool).
RESERVED_CONCURRENCY = {{ cookiecutter.reserved_concurrency | int }}
# The most containers the {{ cookiecutter.atlas_tier }} tier's connection limit allows, with headroom (the
# template checked the answer against it); reservedConcurrency may never exceed it.
MAX_RESERVED_CONCURRENCY = {{ cookiecutter.__max_reserved_concurrency | int }}
{%- if provisioned %}
# Execution environments Lambda keeps initialised (and connected) ahead of traffic.
PROVISIONED_CONCURRENCY = {{ cookiecutter.provisioned_concurrency | int }}
{%- endif %}

PROJECT_ID = r"[0-9a-f]{24}"
CLUSTER_NAME = r"[A-Za-z0-9][A-Za-z0-9-]{0,63}"
PROFILE = r"[A-Za-z0-9_.-]{1,64}"
# One address, as SNS and Atlas take it: no display name, no list.
EMAIL = r"[^@\s,;<>]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
{%- if auth == "password" %}
USERNAME = r"[A-Za-z0-9._-]{1,64}"
{%- endif %}
{%- if network == "peering" %}
# atlasNetworkContainerId: the project's container in this region, or this word for a new one.
CREATE_CONTAINER = "create"
CONTAINER_ID_FIX = (
    f"the 24-hex-digit id of the project's AWS network container in {AWS_REGION} (Atlas made "
    "it with the first dedicated cluster there; `atlas networking containers list --provider "
    "AWS --projectId <atlasProjectId>` shows it), or "
    f"{CREATE_CONTAINER!r} only if the project has no AWS container in {AWS_REGION} yet"
)
{%- endif %}
{%- if network == "private_endpoint" %}
# The AWS name of an Atlas endpoint service in this region.
ENDPOINT_SERVICE_NAME = (
    r"com\.amazonaws\.vpce\." + re.escape(AWS_REGION) + r"\.vpce-svc-[0-9a-f]{8,17}"
)
{%- endif %}
# The retention periods CloudWatch Logs offers, by days.
LOG_RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

# --- the connection string ---------------------------------------------------------------------
# Atlas shows one SRV string per way in; the suffix of the cluster's host label tells them apart:
# cluster0 (standard), cluster0-pri (peering with custom DNS), cluster0-pl-0 (private endpoint),
# cluster0-pl-0-lb (private endpoint, optimized for sharded clusters).
SRV = re.compile(r"mongodb\+srv://(?P<label>[a-z0-9][a-z0-9-]*)\.[a-z0-9]+\.mongodb(gov)?\.net/?")
KIND_BY_SUFFIX = (
    (re.compile(r"-pl-[0-9]+-lb$"), "-pl-N-lb"),
    (re.compile(r"-pl-[0-9]+$"), "-pl-N"),
    (re.compile(r"-pri$"), "-pri"),
)
KIND_NAMES = {
    "standard": "the standard string",
    "-pri": 'the "private IP for peering" string (-pri)',
    "-pl-N": "a private endpoint string (-pl-N)",
    "-pl-N-lb": "a sharded private endpoint string (-pl-N-lb)",
}
{%- if network == "nat" %}
# Through the NAT gateway the function resolves Atlas's public host names: the standard string.
# The others resolve to private addresses this VPC cannot reach.
ACCEPTED_KINDS = frozenset({"standard"})
URI_FIX = (
    "use the standard SRV string from Atlas's Connect > Drivers, "
    "e.g. mongodb+srv://cluster0.ab1cd.mongodb.net"
)
{%- elif network == "peering" %}
# From a peered VPC that resolves through the AWS resolver (DNS hostnames and resolution on),
# Atlas's standard host names resolve to the nodes' private addresses: the standard string.
# Atlas shows the -pri string only to projects with custom DNS for AWS turned on; it works too.
ACCEPTED_KINDS = frozenset({"standard", "-pri"})
URI_FIX = (
    "use the standard SRV string from Atlas's Connect > Drivers, "
    "e.g. mongodb+srv://cluster0.ab1cd.mongodb.net (or the -pri string if the project has "
    "custom DNS for AWS turned on)"
)
{%- elif sharded %}
# Behind a private endpoint only the private endpoint strings resolve to the endpoint. For a
# sharded cluster Atlas may show the optimized -pl-N-lb string, sometimes alone: both work.
ACCEPTED_KINDS = frozenset({"-pl-N", "-pl-N-lb"})
URI_FIX = (
    "use the private endpoint SRV string from Atlas's Connect > Private Endpoint, "
    "e.g. mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net or its optimized form "
    "mongodb+srv://cluster0-pl-0-lb.ab1cd.mongodb.net"
)
{%- else %}
# Behind a private endpoint only the private endpoint string resolves to the endpoint.
ACCEPTED_KINDS = frozenset({"-pl-N"})
URI_FIX = (
    "use the private endpoint SRV string from Atlas's Connect > Private Endpoint, "
    "e.g. mongodb+srv://cluster0-pl-0.ab1cd.mongodb.net"
)
{%- endif %}


class SettingsError(ValueError):
    """A context value is missing or wrong; the message names the key and the fix."""


@dataclass(frozen=True)
class Settings:
    """What the stacks need to know about your account, Atlas project and network.

    README.md lists the context keys: each field's name in camelCase.
    """

    atlas_project_id: str
    atlas_cluster_name: str
    mongodb_uri: str
    atlas_profile: str = "default"
    vpc_cidr: str = "10.0.0.0/16"
    # 0 reserves nothing: for accounts whose concurrency quota is below 100 + N (README.md).
    reserved_concurrency: int = RESERVED_CONCURRENCY
    log_retention_days: int = 30
    # Where the alarms and the Atlas alert send mail; empty: no subscription (README.md).
    alarm_email: str = ""
{%- if provisioned %}
    # Containers kept initialised on the alias live: at most reservedConcurrency unless that is
    # 0, and never beyond the connection budget (checked below, before anything is built).
    provisioned_concurrency: int = PROVISIONED_CONCURRENCY
{%- endif %}
{%- if network == "peering" %}
    # The project's Atlas network container in this region: its id, or "create" for a new one
    # (README.md). Required: the MongoDB::Atlas::NetworkContainer extension cannot adopt the
    # container a cluster already made, so the stack creates one only when told to.
    atlas_network_container_id: str = ""
    # The CIDR of the container atlasNetworkContainerId=create makes; unused otherwise.
    atlas_cidr_block: str = "192.168.248.0/21"
{%- elif network == "private_endpoint" %}
    # Atlas allows one endpoint service per project and region: name an existing one to use it.
    # Empty: the stack creates it.
    atlas_private_endpoint_service_id: str = ""
    atlas_private_endpoint_service_name: str = ""
{%- endif %}
{%- if auth == "password" %}
    database_username: str = "{{ cookiecutter.project_slug }}-app"
{%- endif %}

    def __post_init__(self) -> None:
        _match("atlasProjectId", self.atlas_project_id, PROJECT_ID, "the 24-hex-digit project id")
        _match("atlasClusterName", self.atlas_cluster_name, CLUSTER_NAME, "the cluster's name")
        check_connection_string(self.mongodb_uri, self.atlas_cluster_name)
        _match("atlasProfile", self.atlas_profile, PROFILE, "<name> of cfn/atlas/profile/<name>")
        _private_network("vpcCidr", self.vpc_cidr, widest=16, narrowest=20)
        if not 0 <= self.reserved_concurrency <= MAX_RESERVED_CONCURRENCY:
            raise SettingsError(
                f"reservedConcurrency={self.reserved_concurrency}: choose 0 (reserve nothing) "
                f"or 1-{MAX_RESERVED_CONCURRENCY}, the most containers the "
                "{{ cookiecutter.atlas_tier }} tier's connection limit allows"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise SettingsError(
                f"logRetentionDays={self.log_retention_days}: choose one of "
                + ", ".join(map(str, LOG_RETENTION_DAYS))
            )
        if self.alarm_email and (
            len(self.alarm_email) > 254 or not re.fullmatch(EMAIL, self.alarm_email)
        ):
            raise SettingsError(
                f"alarmEmail={self.alarm_email!r}: expected one email address, or empty for no "
                "subscription"
            )
{%- if provisioned %}
        _check_provisioned(self.provisioned_concurrency, self.reserved_concurrency)
{%- endif %}
{%- if network == "peering" %}
        self._check_container()
{%- elif network == "private_endpoint" %}
        service = (self.atlas_private_endpoint_service_id, self.atlas_private_endpoint_service_name)
        if any(service) and not all(service):
            raise SettingsError(
                "atlasPrivateEndpointServiceId and atlasPrivateEndpointServiceName go together: "
                "set both (Atlas's Network Access > Private Endpoint shows them) or neither"
            )
        if any(service):
            _match(
                "atlasPrivateEndpointServiceId",
                self.atlas_private_endpoint_service_id,
                PROJECT_ID,
                "the 24-hex-digit id Atlas gives the endpoint service",
            )
            _match(
                "atlasPrivateEndpointServiceName",
                self.atlas_private_endpoint_service_name,
                ENDPOINT_SERVICE_NAME,
                f"the AWS endpoint service name in {AWS_REGION}, "
                f"com.amazonaws.vpce.{AWS_REGION}.vpce-svc-...",
            )
{%- endif %}
{%- if auth == "password" %}
        _match("databaseUsername", self.database_username, USERNAME, "letters, digits, . _ or -")
{%- endif %}

{%- if network == "peering" %}

    @property
    def creates_container(self) -> bool:
        """Whether the stack creates the network container: atlasNetworkContainerId=create."""
        return self.atlas_network_container_id == CREATE_CONTAINER

    def _check_container(self) -> None:
        if not self.atlas_network_container_id:
            raise SettingsError(f"atlasNetworkContainerId is not set: expected {CONTAINER_ID_FIX}")
        if not self.creates_container:
            _match(
                "atlasNetworkContainerId",
                self.atlas_network_container_id,
                PROJECT_ID,
                CONTAINER_ID_FIX,
            )
            return
        atlas = _private_network("atlasCidrBlock", self.atlas_cidr_block, widest=21, narrowest=24)
        if atlas.overlaps(ipaddress.IPv4Network(self.vpc_cidr)):
            raise SettingsError(
                f"atlasCidrBlock={self.atlas_cidr_block} overlaps vpcCidr={self.vpc_cidr}: "
                "peered networks must not overlap; change either"
            )
{%- endif %}

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> Settings:
        """Read each field from the context key of its name in camelCase (vpc_cidr: vpcCidr).

        ``lookup`` is ``app.node.try_get_context``; a key that is missing or empty keeps the
        field's default, and a field without one must be set.
        """
        return cls(**{f.name: _read(lookup, f.name, f.default) for f in fields(cls)})


def context_key(field_name: str) -> str:
    """The CDK context key of a settings field: atlas_project_id -> atlasProjectId."""
    head, *rest = field_name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _read(lookup: Callable[[str], Any], field_name: str, default: Any) -> Any:
    key = context_key(field_name)
    value = lookup(key)
    text = "" if value is None else str(value).strip()
    if not text:
        if default is MISSING:
            raise SettingsError(
                f"{key} is not set: put it in cdk.json's context or pass -c {key}=..."
            )
        return default
    if isinstance(default, int):
        if not re.fullmatch(r"[0-9]{1,7}", text):
            raise SettingsError(f"{key}={text!r}: expected a whole number")
        return int(text)
    return text
{%- if provisioned %}


def _check_provisioned(provisioned: int, reserved: int) -> None:
    """Provisioned environments count against the reserved ones (and the connection budget)."""
    if not 1 <= provisioned <= MAX_RESERVED_CONCURRENCY:
        raise SettingsError(
            f"provisionedConcurrency={provisioned}: choose 1-{MAX_RESERVED_CONCURRENCY}, the most "
            "containers the {{ cookiecutter.atlas_tier }} tier's connection limit allows"
        )
    if reserved and provisioned > reserved:
        raise SettingsError(
            f"provisionedConcurrency={provisioned} exceeds reservedConcurrency={reserved}: Lambda "
            "provisions environments only within the function's reserved concurrency; lower "
            "provisionedConcurrency or raise reservedConcurrency (0 reserves nothing)"
        )
{%- endif %}


def _match(key: str, value: str, pattern: str, expected: str) -> None:
    if not re.fullmatch(pattern, value):
        raise SettingsError(f"{key}={value!r}: expected {expected}")


def _private_network(key: str, value: str, *, widest: int, narrowest: int) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as error:
        raise SettingsError(f"{key}={value!r}: not an IPv4 CIDR block ({error})") from None
    if not widest <= network.prefixlen <= narrowest or not network.is_private:
        raise SettingsError(
            f"{key}={value!r}: expected a private (RFC 1918) CIDR block from /{widest} to "
            f"/{narrowest}"
        )
    return network


def redacted(uri: str) -> str:
    """``uri`` without what may be secret: user and password, database and options."""
    scheme, _, rest = uri.partition("://")
    _, at, rest = rest.rpartition("@")
    host = re.split(r"[/?]", rest, maxsplit=1)[0]
    shown = f"{scheme}://" + ("<credentials>@" if at else "") + host
    return shown + ("/<database and options>" if rest.rstrip("/") != host else "")


def connection_string_kind(uri: str, cluster_name: str) -> str | None:
    """Which SRV string Atlas shows ``uri`` is (a key of KIND_NAMES), or None for none."""
    match = SRV.fullmatch(uri)
    if match is None:
        return None
    label = match["label"]
    if label == cluster_name.lower():  # a cluster may be named like a suffix ("app-pri")
        return "standard"
    for suffix, kind in KIND_BY_SUFFIX:
        if suffix.search(label):
            return kind
    return "standard"


def check_connection_string(uri: str, cluster_name: str) -> None:
    """Accept only the SRV string this project's network mode reaches (README.md)."""
    if "@" in uri or "?" in uri or re.search(r"\.net/.", uri):
        raise SettingsError(
            f"mongodbUri={redacted(uri)!r} holds credentials, a database or options: paste the "
            "plain string Atlas shows, without user, password, /database or ?options (the "
            "function adds what it needs)"
        )
    kind = connection_string_kind(uri, cluster_name)
    if kind is None:
        raise SettingsError(
            f"mongodbUri={uri!r} is not an Atlas SRV string (mongodb+srv://<host>.mongodb.net): "
            + URI_FIX
        )
    if kind not in ACCEPTED_KINDS:
        raise SettingsError(
            f"mongodbUri={uri!r} is {KIND_NAMES[kind]}, which this project's network "
            f"({{ network }}) cannot reach: {URI_FIX}"
        )
