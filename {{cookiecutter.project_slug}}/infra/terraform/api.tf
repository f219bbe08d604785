{%- set alias = cookiecutter.cold_start != "on_demand" -%}
# The HTTP API in front of the function. One route, $default, sends every request to the function,
# which answers 404 and 405 itself: a new route is a change to the handler alone.
{%- if cookiecutter.cold_start == "snapstart" %}
# It invokes the alias `live` (function_alias.tf), never $LATEST: SnapStart applies to published
# versions only.
{%- elif cookiecutter.cold_start == "provisioned" %}
# It invokes the alias `live` (function_alias.tf), never $LATEST: the provisioned containers
# belong to the alias.
{%- endif %}

resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  description   = {{ (cookiecutter.project_name ~ " HTTP API") | tojson | replace("${", "$${") | replace("%{", "%%{") }}
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "function" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = {% if alias %}aws_lambda_alias.live.invoke_arn{% else %}aws_lambda_function.api.invoke_arn{% endif %}
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:A public API by design; add an authorizer (JWT or IAM) here when the routes must not be anonymous.
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.function.id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Access logs hold request metadata only; encrypted at rest with the CloudWatch Logs service key.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      method    = "$context.httpMethod"
      path      = "$context.path"
      status    = "$context.status"
      latencyMs = "$context.responseLatency"
      error     = "$context.integrationErrorMessage"
    })
  }

  # Requests the API lets through at once: as many as the function has containers (function.tf),
  # ten a second each. A stage cannot go beyond API Gateway's account-level limits, by default
  # bursts of 5,000 and 10,000 requests a second per Region
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): never set more.
  default_route_settings {
    throttling_burst_limit = min(local.max_containers, 5000)
    throttling_rate_limit  = min(local.max_containers * 10, 10000)
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
{%- if alias %}
  qualifier     = aws_lambda_alias.live.name
{%- endif %}
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
