{%- set network = cookiecutter.network_mode -%}
{%- set auth = cookiecutter.auth_mode -%}
# The function's VPC: two private subnets in two availability zones, for every network mode.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only names[0] and names[1] are used, so a zone AWS adds later never changes the subnets; pin zones with a zone-name filter if you prefer.
  state = "available"
}

resource "aws_vpc" "main" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs are an account-wide choice (cost, retention); add aws_flow_log if your compliance needs them.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name}-vpc"
  }
}

# Strips every rule from the VPC's default security group: nothing uses it.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "private" {
  count = 2

  vpc_id                  = aws_vpc.main.id
  availability_zone       = data.aws_availability_zones.available.names[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name}-private-${count.index}"
  }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${var.name}-private"
  }
}

resource "aws_route_table_association" "private" {
  count = 2

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

resource "aws_security_group" "function" {
  name        = "${var.name}-function"
  description = "Network interfaces of the function: no inbound, outbound only to MongoDB Atlas{% if auth == "password" %} and Secrets Manager{% endif %}"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${var.name}-function"
  }
}
{%- if network == "private_endpoint" %}

resource "aws_vpc_security_group_egress_rule" "function_to_atlas" {
  security_group_id            = aws_security_group.function.id
  description                  = "MongoDB over AWS PrivateLink to the Atlas interface endpoint"
  ip_protocol                  = "tcp"
  from_port                    = 1024
  to_port                      = 65535
  referenced_security_group_id = aws_security_group.atlas_endpoint.id
}
{%- elif network == "peering" %}

resource "aws_vpc_security_group_egress_rule" "function_to_atlas" {
  security_group_id = aws_security_group.function.id
  description       = "MongoDB Atlas nodes in the peered Atlas VPC"
  ip_protocol       = "tcp"
  from_port         = 27015
  to_port           = 27017
  cidr_ipv4         = var.atlas_cidr
}
{%- else %}

# Egress to Atlas's public node addresses, which change with the cluster, so the destination
# is any address, limited to the MongoDB ports 27015-27017; Atlas admits only the NAT's Elastic IP.
resource "aws_vpc_security_group_egress_rule" "function_to_atlas" {
  security_group_id = aws_security_group.function.id
  description       = "MongoDB Atlas nodes on their public addresses, through the NAT gateway"
  ip_protocol       = "tcp"
  from_port         = 27015
  to_port           = 27017
  cidr_ipv4         = "0.0.0.0/0"
}

# ---------------------------------------------------------------- NAT gateway

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  availability_zone       = data.aws_availability_zones.available.names[0]
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 2)
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${var.name}-igw"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

# The NAT gateway's way out (destination: any address); nothing else lives in the public subnet.
resource "aws_route" "public_default" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_eip" "nat" {
  domain = "vpc"

  tags = {
    Name = "${var.name}-nat"
  }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_nat_gateway" "main" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public.id

  tags = {
    Name = "${var.name}-nat"
  }

  depends_on = [aws_internet_gateway.main]
}

# The private subnets reach Atlas's public endpoints through the NAT gateway (destination: any address).
resource "aws_route" "private_default" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main.id
}
{%- endif %}
{%- if auth == "password" %}

# ---------------------------------------------------------------- Secrets Manager endpoint
# The function reads the database user's secret through an interface endpoint, so it needs no
# route to the internet for it.

resource "aws_security_group" "secretsmanager_endpoint" {
  name        = "${var.name}-secretsmanager-endpoint"
  description = "Secrets Manager interface endpoint; only the function may connect"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${var.name}-secretsmanager-endpoint"
  }
}

resource "aws_vpc_security_group_ingress_rule" "secretsmanager_endpoint_from_function" {
  security_group_id            = aws_security_group.secretsmanager_endpoint.id
  description                  = "HTTPS from the function"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.function.id
}

resource "aws_vpc_security_group_egress_rule" "function_to_secretsmanager" {
  security_group_id            = aws_security_group.function.id
  description                  = "HTTPS to the Secrets Manager interface endpoint"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.secretsmanager_endpoint.id
}

resource "aws_vpc_endpoint" "secretsmanager" {
  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${var.aws_region}.secretsmanager"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.secretsmanager_endpoint.id]
  private_dns_enabled = true

  tags = {
    Name = "${var.name}-secretsmanager"
  }
}
{%- endif %}
