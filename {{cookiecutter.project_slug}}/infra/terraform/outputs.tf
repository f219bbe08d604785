output "api_url" {
  description = "Base URL of the HTTP API (GET /health, POST /items, GET /items/{id})"
  value       = aws_apigatewayv2_api.http.api_endpoint
}

output "function_name" {
  description = "Name of the Lambda function"
  value       = aws_lambda_function.api.function_name
}

output "function_role_arn" {
  description = "Execution role of the function{% if cookiecutter.auth_mode == "iam" %} (the Atlas database user in $external){% endif %}"
  value       = aws_iam_role.function.arn
}
