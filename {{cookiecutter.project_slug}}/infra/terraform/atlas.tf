{%- set network = cookiecutter.network_mode -%}
{%- set auth = cookiecutter.auth_mode -%}
# The MongoDB Atlas side: how the VPC reaches the existing cluster ({{ network }}), and the
# function's database user ({{ auth }} authentication), with a readWrite role on one database.

locals {
  # The database the function uses; the database user's role is scoped to it.
  database_name = {{ cookiecutter.database_name | tojson | replace("${", "$${") | replace("%{", "%%{") }}
{%- if network != "nat" %}
  # Atlas names AWS regions like US_EAST_1.
  atlas_region = upper(replace(var.aws_region, "-", "_"))
{%- endif %}
}
{%- if network == "private_endpoint" %}

# ---------------------------------------------------------------- private endpoint (PrivateLink)

resource "mongodbatlas_privatelink_endpoint" "atlas" {
  project_id    = var.atlas_project_id
  provider_name = "AWS"
  region        = local.atlas_region
}

resource "aws_security_group" "atlas_endpoint" {
  name        = "${var.name}-atlas-endpoint"
  description = "Interface endpoint to the Atlas private endpoint service; only the function may connect"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${var.name}-atlas-endpoint"
  }
}

# Atlas maps each cluster node to its own port on the endpoint, anywhere in 1024-65535.
resource "aws_vpc_security_group_ingress_rule" "atlas_endpoint_from_function" {
  #checkov:skip=CKV_AWS_25:The source is the function's security group, not an address range; the port range is what Atlas PrivateLink needs.
  security_group_id            = aws_security_group.atlas_endpoint.id
  description                  = "MongoDB over AWS PrivateLink from the function"
  ip_protocol                  = "tcp"
  from_port                    = 1024
  to_port                      = 65535
  referenced_security_group_id = aws_security_group.function.id
}

resource "aws_vpc_endpoint" "atlas" {
  vpc_id             = aws_vpc.main.id
  service_name       = mongodbatlas_privatelink_endpoint.atlas.endpoint_service_name
  vpc_endpoint_type  = "Interface"
  subnet_ids         = aws_subnet.private[*].id
  security_group_ids = [aws_security_group.atlas_endpoint.id]

  tags = {
    Name = "${var.name}-atlas"
  }
}

# Registers the interface endpoint with the Atlas endpoint service.
resource "mongodbatlas_privatelink_endpoint_service" "atlas" {
  project_id          = mongodbatlas_privatelink_endpoint.atlas.project_id
  private_link_id     = mongodbatlas_privatelink_endpoint.atlas.private_link_id
  endpoint_service_id = aws_vpc_endpoint.atlas.id
  provider_name       = "AWS"
}
{%- elif network == "peering" %}

# ---------------------------------------------------------------- VPC peering

data "aws_caller_identity" "current" {}

# Created only when atlas_container_id is empty. Atlas refuses to delete a container a cluster uses.
resource "mongodbatlas_network_container" "atlas" {
  count = var.atlas_container_id == "" ? 1 : 0

  project_id       = var.atlas_project_id
  atlas_cidr_block = var.atlas_cidr
  provider_name    = "AWS"
  region_name      = local.atlas_region
}

resource "mongodbatlas_network_peering" "atlas" {
  project_id             = var.atlas_project_id
  container_id           = var.atlas_container_id == "" ? mongodbatlas_network_container.atlas[0].container_id : var.atlas_container_id
  provider_name          = "AWS"
  accepter_region_name   = var.aws_region
  aws_account_id         = data.aws_caller_identity.current.account_id
  vpc_id                 = aws_vpc.main.id
  route_table_cidr_block = var.vpc_cidr
}

# Atlas requests the peering; this account accepts it.
resource "aws_vpc_peering_connection_accepter" "atlas" {
  vpc_peering_connection_id = mongodbatlas_network_peering.atlas.connection_id
  auto_accept               = true

  tags = {
    Name = "${var.name}-atlas"
  }
}

resource "aws_route" "private_to_atlas" {
  route_table_id            = aws_route_table.private.id
  destination_cidr_block    = var.atlas_cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.atlas.id
}

resource "mongodbatlas_project_ip_access_list" "vpc" {
  project_id = var.atlas_project_id
  cidr_block = var.vpc_cidr
  comment    = "VPC of ${var.name} (peered)"
}
{%- else %}

# ---------------------------------------------------------------- access list: the NAT's Elastic IP

resource "mongodbatlas_project_ip_access_list" "nat" {
  project_id = var.atlas_project_id
  ip_address = aws_eip.nat.public_ip
  comment    = "NAT gateway of ${var.name}"
}
{%- endif %}

# ---------------------------------------------------------------- the cluster and its connection string

data "mongodbatlas_advanced_cluster" "atlas" {
  project_id = var.atlas_project_id
  name       = var.atlas_cluster_name
{%- if network == "private_endpoint" %}

  # The private endpoint connection strings exist only once the endpoint is registered.
  depends_on = [mongodbatlas_privatelink_endpoint_service.atlas]
{%- elif network == "peering" %}

  # The private (peering) connection string exists only once the peering is active.
  depends_on = [aws_vpc_peering_connection_accepter.atlas]
{%- endif %}
}

locals {
{%- if network == "private_endpoint" %}
  # The private endpoint SRV string of this interface endpoint (there is one per endpoint).
  private_endpoint_srv = [
    for connection in data.mongodbatlas_advanced_cluster.atlas.connection_strings.private_endpoint :
    connection.srv_connection_string
    if contains([for endpoint in connection.endpoints : endpoint.endpoint_id], aws_vpc_endpoint.atlas.id)
  ]
  mongodb_uri = try(local.private_endpoint_srv[0], "")
{%- elif network == "peering" %}
  # The private (peering) SRV string, e.g. mongodb+srv://cluster0-pri.abcde.mongodb.net
  mongodb_uri = data.mongodbatlas_advanced_cluster.atlas.connection_strings.private_srv
{%- else %}
  # The standard SRV string, e.g. mongodb+srv://cluster0.abcde.mongodb.net
  mongodb_uri = data.mongodbatlas_advanced_cluster.atlas.connection_strings.standard_srv
{%- endif %}
}
{%- if auth == "password" %}

# ---------------------------------------------------------------- password: Secrets Manager

# Ephemeral: the generated password never lands in the plan or the state. It is written once to
# Secrets Manager and to Atlas through write-only arguments; raise var.password_version to rotate.
ephemeral "random_password" "database_user" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "database_user" {
  #checkov:skip=CKV_AWS_149:Encrypted with the Secrets Manager service key; only the function's role may read it. Set kms_key_id for a customer key.
  #checkov:skip=CKV2_AWS_57:Rotation is var.password_version (one apply rotates Atlas and the secret together); a rotation Lambda would need Atlas API keys.
  name_prefix = "${var.name}-atlas-user-"
  description = "Username and password of the MongoDB Atlas database user of ${var.name}"
}

resource "aws_secretsmanager_secret_version" "database_user" {
  secret_id = aws_secretsmanager_secret.database_user.id
  secret_string_wo = jsonencode({
    username = var.database_username
    password = ephemeral.random_password.database_user.result
  })
  secret_string_wo_version = var.password_version
}
{%- endif %}

# ---------------------------------------------------------------- database user

resource "mongodbatlas_database_user" "function" {
  project_id = var.atlas_project_id
{%- if auth == "iam" %}
  # The function authenticates as its execution role (MONGODB-AWS): no password exists anywhere.
  username           = aws_iam_role.function.arn
  auth_database_name = "$external"
  aws_iam_type       = "ROLE"
{%- else %}
  # SCRAM user in admin; the password is write-only, so it is in neither plan nor state.
  username            = var.database_username
  auth_database_name  = "admin"
  password_wo         = ephemeral.random_password.database_user.result
  password_wo_version = var.password_version
{%- endif %}

  description = "Function ${var.name} ({{ auth }} authentication)"

  roles {
    role_name     = "readWrite"
    database_name = local.database_name
  }

  scopes {
    name = var.atlas_cluster_name
    type = "CLUSTER"
  }
}
