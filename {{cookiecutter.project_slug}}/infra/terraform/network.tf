# The function's VPC: two private subnets in two availability zones and the function's security
# group. How the subnets reach Atlas is the concern of network_{{ cookiecutter.network_mode }}.tf.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only names[0] and names[1] are used, so a zone AWS adds later never changes the subnets; pin zones with a zone-name filter if you prefer.
  state = "available"
}

resource "aws_vpc" "main" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs are an account-wide choice (cost, retention); add aws_flow_log if your compliance needs them.
  cidr_block = var.vpc_cidr
  # DNS hostnames and resolution on: how the function finds Atlas's nodes depends on them.
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

# No inbound rule; each outbound rule sits with the destination it serves.
resource "aws_security_group" "function" {
  name        = "${var.name}-function"
  description = "Network interfaces of the function: no inbound; outbound only to what it calls"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${var.name}-function"
  }
}
