"""The function's VPC: private subnets in two zones, flow logs, the function's security group.

Every network mode builds on it; network_<mode>.py (one per project) adds the way to Atlas.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from .settings import Settings
from .support import log_group

# MongoDB's ports: 27017 (replica set members), 27016 (mongos of sharded clusters), 27015.
MONGODB_PORTS = ec2.Port.tcp_range(27015, 27017)
# Private subnets with no route out of the VPC.
ISOLATED_SUBNETS = (
    ec2.SubnetConfiguration(
        name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
    ),
)


class Network(Construct):
    """A VPC whose private subnets the function runs in, and the function's security group.

    DNS hostnames and resolution are on: Atlas's host names must resolve inside the VPC. The
    security group has no inbound rule and none of AWS's default egress; the network mode opens
    exactly the way to Atlas.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        subnets: Sequence[ec2.SubnetConfiguration],
        nat_gateway_provider: ec2.NatProvider | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        flow_logs = log_group(self, "FlowLogs", settings.log_retention_days)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(settings.vpc_cidr),
            max_azs=2,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            subnet_configuration=list(subnets),
            nat_gateways=1 if nat_gateway_provider else 0,
            nat_gateway_provider=nat_gateway_provider,
            # The default security group is attached to nothing; leaving it as AWS creates it
            # avoids a custom resource that would only strip its rules.
            restrict_default_security_group=False,
            flow_logs={
                "FlowLog": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        (private,) = (s for s in subnets if s.subnet_type != ec2.SubnetType.PUBLIC)
        self.private_subnets = ec2.SubnetSelection(subnet_type=private.subnet_type)
        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="The function: no inbound; outbound only where the stack opens it",
            allow_all_outbound=False,
        )
