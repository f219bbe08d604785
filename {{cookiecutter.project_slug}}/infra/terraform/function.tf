{%- set cold_start = cookiecutter.cold_start -%}
# The function, its execution role and its log group.

locals {
  # The most containers the function runs at once: the reserved concurrency, or with 0 (reserve
  # nothing) the {{ cookiecutter.__max_reserved_concurrency }} containers the {{ cookiecutter.atlas_tier }} connection budget allows. The API's throttling
  # (api.tf) and the ConnectionsCreated alarm (alarms.tf) derive from it.
  max_containers = var.reserved_concurrency > 0 ? var.reserved_concurrency : {{ cookiecutter.__max_reserved_concurrency }}
}

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
  description        = "Execution role of ${var.name}{% if cookiecutter.auth_mode == "iam" %}; also its MongoDB Atlas database user (MONGODB-AWS){% endif %}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json
}

# Network interfaces in the VPC and writing to CloudWatch Logs.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# The network-interface permissions above are Lambda's, not the code's. The handler holds this
# role's credentials{% if cookiecutter.auth_mode == "iam" %} (they are its database identity too){% endif %}, and must not create, delete or
# re-address network interfaces. Lambda adds the condition key lambda:SourceFunctionArn to every
# AWS call made from inside the execution environment, but not to the EC2 calls it makes itself
# to manage the function's network interfaces (AWS Lambda Developer Guide, "Using source function
# ARN to control function access behavior":
# https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html). So this
# Deny stops the code and leaves Lambda's own network interface management as it is.
locals {
  # The function's ARN, built rather than read from the function so that the Deny is in place
  # before the function (and any of its code) exists; the function's postcondition checks it.
  function_arn = "arn:${data.aws_partition.current.partition}:lambda:${var.aws_region}:${data.aws_caller_identity.current.account_id}:function:${var.name}"
}

data "aws_iam_policy_document" "deny_network_interfaces_to_code" {
  statement {
    sid    = "DenyNetworkInterfacesToFunctionCode"
    effect = "Deny"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]

    # The unqualified function ARN, and (should Lambda ever pass one) a version's or alias's.
    condition {
      test     = "ArnLike"
      variable = "lambda:SourceFunctionArn"
      values   = [local.function_arn, "${local.function_arn}:*"]
    }
  }
}

resource "aws_iam_role_policy" "deny_network_interfaces_to_code" {
  name   = "deny-network-interfaces-to-function-code"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.deny_network_interfaces_to_code.json
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:The function never logs credentials or the connection string; logs are encrypted at rest with the CloudWatch Logs service key.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the HTTP API; a dead-letter queue only receives failed asynchronous events.
  #checkov:skip=CKV_AWS_173:The variables hold no secret (a connection string without credentials, names, a timeout); Lambda encrypts them with its service key.
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
  # Caps containers, and so connections to Atlas. -1 reserves nothing (0 would stop the function).
  reserved_concurrent_executions = var.reserved_concurrency == 0 ? -1 : var.reserved_concurrency
{%- if cold_start != "on_demand" %}

  # Every apply that changes the function publishes a new version; the alias `live`
  # (function_alias.tf) follows it, and the API invokes the alias.
  publish = true
{%- endif %}
{%- if cold_start == "snapstart" %}

  # SnapStart: Lambda runs INIT once when it publishes a version (importing, connecting
  # nothing), snapshots it, and resumes new containers from that snapshot; the package's
  # after-restore hooks re-seed what must differ per container. Python 3.12+, no provisioned
  # concurrency, no EFS, ephemeral storage of at most 512 MB (the default used here).
  snap_start {
    apply_on = "PublishedVersions"
  }
{%- endif %}

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
      MONGODB_URI      = local.mongodb_uri
      MONGODB_DATABASE = local.database_name
      # The timeout the function really has: it bounds each invocation's database calls by it.
      FUNCTION_TIMEOUT_S         = var.lambda_timeout_s
      AWS_STS_REGIONAL_ENDPOINTS = "regional"
      # Powertools: the service (the metrics' one dimension) and the metrics namespace, which the
      # ConnectionsCreated alarm (alarms.tf) reads.
      POWERTOOLS_SERVICE_NAME      = var.name
      POWERTOOLS_METRICS_NAMESPACE = var.name
{%- if cookiecutter.auth_mode == "password" %}
      # The secret with the database user's name and password.
      MONGODB_SECRET_ARN = aws_secretsmanager_secret.database_user.arn
{%- endif %}
    }
  }

  lifecycle {
    precondition {
      condition     = can(regex("^mongodb\\+srv://\\S+$", local.mongodb_uri))
      error_message = local.mongodb_uri_missing
    }
    # The Deny on network interfaces names the function by this ARN: it must be the real one.
    postcondition {
      condition     = self.arn == local.function_arn
      error_message = "The function's ARN is ${self.arn}, not ${local.function_arn}: the Deny that keeps its code from managing network interfaces would name another function."
    }
  }

  # No container starts before what its connection needs exists: the network path
  # (network_{{ cookiecutter.network_mode }}.tf){% if cookiecutter.auth_mode == "password" %} and the way to the secret (database_secret.tf){% endif %}.
{%- if cookiecutter.cold_start == "provisioned" %}
  # Provisioned containers connect during INIT: on a first apply they would otherwise start with
  # no way to Atlas, and their first requests would have to connect.
{%- endif %}
  depends_on = [
    aws_iam_role_policy_attachment.vpc_access,
    aws_iam_role_policy.deny_network_interfaces_to_code,
    mongodbatlas_database_user.function,
    terraform_data.network_path,
{%- if cookiecutter.auth_mode == "password" %}
    terraform_data.secret_path,
{%- endif %}
  ]
}
