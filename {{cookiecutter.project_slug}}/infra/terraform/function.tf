{%- set network = cookiecutter.network_mode -%}
{%- set auth = cookiecutter.auth_mode -%}
# The function, its execution role and its log group.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-function"
  description        = "Execution role of ${var.name}{% if auth == "iam" %}; also its MongoDB Atlas database user (MONGODB-AWS){% endif %}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json
}

# Network interfaces in the VPC and writing to CloudWatch Logs.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
{%- if auth == "password" %}

# Reading exactly one secret: the database user's.
data "aws_iam_policy_document" "read_database_secret" {
  statement {
    sid       = "ReadDatabaseUserSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.database_user.arn]
  }
}

resource "aws_iam_role_policy" "read_database_secret" {
  name   = "read-database-user-secret"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.read_database_secret.json
}
{%- endif %}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:The function never logs the connection string or the password; logs are encrypted at rest with the CloudWatch Logs service key.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the HTTP API; a dead-letter queue only receives failed asynchronous events.
  #checkov:skip=CKV_AWS_173:The variables hold no secret (connection string without credentials, database name, secret ARN); Lambda encrypts them with its service key.
  #checkov:skip=CKV_AWS_272:The zip is built by make package in this repository's CI; add aws_lambda_code_signing_config with AWS Signer if you need signed code.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off to keep the role minimal; set tracing_config and add AWSXRayDaemonWriteAccess to turn it on.
  function_name = var.name
  description   = {{ (cookiecutter.project_name ~ " API") | tojson | replace("${", "$${") | replace("%{", "%%{") }}
  role          = aws_iam_role.function.arn
  handler       = "{{ cookiecutter.package_name }}.handler.handler"

  # The zip `make package` builds at the project root: code plus dependencies for
  # {{ cookiecutter.architecture }} / Python {{ cookiecutter.python_version }}, without boto3. Runtime and architecture must match it.
  filename         = "${path.module}/../../dist/lambda.zip"
  source_code_hash = filebase64sha256("${path.module}/../../dist/lambda.zip")
  runtime          = "python{{ cookiecutter.python_version }}"
  architectures    = ["{{ cookiecutter.architecture }}"]

  memory_size = var.lambda_memory_mb
  timeout     = var.lambda_timeout_s
  # Caps containers, and so connections to Atlas.
  reserved_concurrent_executions = var.reserved_concurrency

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  vpc_config {
    subnet_ids         = aws_subnet.private[*].id
    security_group_ids = [aws_security_group.function.id]
  }

  environment {
    variables = {
      MONGODB_URI                = local.mongodb_uri
      MONGODB_DATABASE           = local.database_name
{%- if auth == "password" %}
      MONGODB_SECRET_ARN         = aws_secretsmanager_secret.database_user.arn
{%- endif %}
      AWS_STS_REGIONAL_ENDPOINTS = "regional"
    }
  }

  lifecycle {
    precondition {
      condition     = startswith(coalesce(local.mongodb_uri, "-"), "mongodb+srv://")
      error_message = "Atlas has no {% if network == "private_endpoint" %}private endpoint{% elif network == "peering" %}private (peering){% else %}standard{% endif %} SRV connection string for ${var.atlas_cluster_name} yet; wait until it shows in the Atlas UI, then apply again."
    }
  }

  depends_on = [
    aws_iam_role_policy_attachment.vpc_access,
{%- if auth == "password" %}
    aws_iam_role_policy.read_database_secret,
    aws_secretsmanager_secret_version.database_user,
    aws_vpc_endpoint.secretsmanager,
{%- endif %}
    mongodbatlas_database_user.function,
{%- if network == "private_endpoint" %}
    mongodbatlas_privatelink_endpoint_service.atlas,
{%- elif network == "peering" %}
    aws_route.private_to_atlas,
    mongodbatlas_project_ip_access_list.vpc,
{%- else %}
    aws_route.private_default,
    mongodbatlas_project_ip_access_list.nat,
{%- endif %}
  ]
}
