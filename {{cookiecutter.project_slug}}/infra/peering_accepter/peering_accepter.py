"""Accept the VPC peering request MongoDB Atlas sends (a CloudFormation custom resource).

Atlas creates the peering connection from its VPC to the stack's VPC; the request then waits
for this account to accept it. CloudFormation has no resource for accepting a request another
account made, so the stack runs this function once the Atlas peering exists. It finds the
request into the stack's VPC (``VpcId``), accepts it, waits until it is active and returns its
id (``VpcPeeringConnectionId``) and the requester's CIDR (``AtlasCidrBlock``: the CIDR of the
Atlas network container, which may be an existing container's own), for the routes and the
security group. With the optional ``AtlasCidrBlock`` property it accepts only a request from
that CIDR. Deleting the stack's Atlas peering deletes the connection, so Delete does nothing.

Runs on the Lambda Python runtime with the boto3 it provides; nothing else to package.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import VpcPeeringConnectionTypeDef

POLL_SECONDS = 10
# Leave time to report to CloudFormation before Lambda stops the function.
REPORT_MARGIN_S = 30
LIVE_STATES = ["pending-acceptance", "provisioning", "active"]


class PeeringNotFoundError(RuntimeError):
    """No usable peering request from Atlas reached the VPC in time."""


def find_request(
    ec2: EC2Client, vpc_id: str, atlas_cidr: str | None = None
) -> VpcPeeringConnectionTypeDef | None:
    """The live peering request into ``vpc_id`` (from ``atlas_cidr`` when given), if any.

    Only Atlas knows the id of the VPC the stack just made, so one live request is Atlas's;
    several are ambiguous and refused rather than guessed.
    """
    found = ec2.describe_vpc_peering_connections(
        Filters=[
            {"Name": "accepter-vpc-info.vpc-id", "Values": [vpc_id]},
            {"Name": "status-code", "Values": LIVE_STATES},
        ]
    )["VpcPeeringConnections"]
    cidrs = sorted(requester_cidr(c) for c in found)
    if atlas_cidr is not None:
        matching = [c for c in found if requester_cidr(c) == atlas_cidr]
        if found and not matching:
            raise PeeringNotFoundError(
                f"peering requests into {vpc_id} come from {cidrs}, not AtlasCidrBlock {atlas_cidr}"
            )
        found = matching
    if len(found) > 1:
        ids = sorted(c["VpcPeeringConnectionId"] for c in found)
        raise PeeringNotFoundError(
            f"several peering requests into {vpc_id} ({ids} from {cidrs}): reject the ones "
            "Atlas did not send, then retry"
        )
    return found[0] if found else None


def requester_cidr(connection: VpcPeeringConnectionTypeDef) -> str:
    """The CIDR of the requesting VPC: Atlas's network container."""
    return connection.get("RequesterVpcInfo", {}).get("CidrBlock", "?")


def accept(
    ec2: EC2Client,
    vpc_id: str,
    atlas_cidr: str | None,
    deadline: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str]:
    """Accept the request from Atlas, wait until it is active; return its id and CIDR."""
    while True:
        connection = find_request(ec2, vpc_id, atlas_cidr)
        if connection is not None:
            connection_id = connection["VpcPeeringConnectionId"]
            status = connection.get("Status", {}).get("Code")
            if status == "active":
                return connection_id, requester_cidr(connection)
            if status == "pending-acceptance":
                ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=connection_id)
        if clock() > deadline:
            source = f" ({atlas_cidr})" if atlas_cidr else ""
            raise PeeringNotFoundError(f"no active peering from Atlas{source} into {vpc_id}")
        sleep(POLL_SECONDS)


def respond(
    event: Mapping[str, Any],
    status: str,
    physical_id: str,
    *,
    reason: str = "",
    data: Mapping[str, str] | None = None,
) -> None:
    """Report the outcome to CloudFormation's pre-signed response URL."""
    body = {
        "Status": status,
        "Reason": reason[:900] or "see the function's log",
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(data or {}),
    }
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("ResponseURL is not an https URL")
    request = urllib.request.Request(  # noqa: S310 - https only, checked above
        url, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - https only, checked above
        pass


def handler(event: Mapping[str, Any], context: Any) -> None:
    """CloudFormation custom resource entry point."""
    physical_id = str(event.get("PhysicalResourceId") or context.log_stream_name)
    try:
        if event["RequestType"] == "Delete":
            respond(event, "SUCCESS", physical_id)
            return
        props = event["ResourceProperties"]
        remaining_s = context.get_remaining_time_in_millis() / 1000
        deadline = time.monotonic() + remaining_s - REPORT_MARGIN_S
        ec2 = boto3.client("ec2")
        connection_id, atlas_cidr = accept(
            ec2, props["VpcId"], props.get("AtlasCidrBlock") or None, deadline
        )
        data = {"VpcPeeringConnectionId": connection_id, "AtlasCidrBlock": atlas_cidr}
        respond(event, "SUCCESS", connection_id, data=data)
    except Exception as error:  # every failure goes to CloudFormation instead of hanging it
        print(f"peering accepter failed: {error!r}")  # goes to the function's log
        respond(event, "FAILED", physical_id, reason=str(error))
