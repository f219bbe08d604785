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
{%- if cookiecutter.auth_mode == "password" %}

output "database_user_secret_arn" {
  description = "Secrets Manager secret holding the database user's username and password"
  value       = aws_secretsmanager_secret.database_user.arn
}
{%- endif %}
{%- if cookiecutter.network_mode == "nat" %}

output "nat_elastic_ip" {
  description = "The NAT gateway's Elastic IP, the only address in the Atlas access list"
  value       = aws_eip.nat.public_ip
}
{%- elif cookiecutter.network_mode == "private_endpoint" %}

output "atlas_vpc_endpoint_id" {
  description = "Interface endpoint registered with the Atlas private endpoint service"
  value       = aws_vpc_endpoint.atlas.id
}
{%- else %}

output "vpc_peering_connection_id" {
  description = "The accepted peering connection to the Atlas VPC"
  value       = aws_vpc_peering_connection_accepter.atlas.id
}
{%- endif %}
