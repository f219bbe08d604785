# The function's database user: readWrite on one database, on this cluster only.

locals {
  # The database the function uses; the user's role is scoped to it.
  database_name = {{ cookiecutter.database_name | tojson | replace("${", "$${") | replace("%{", "%%{") }}
}

resource "mongodbatlas_database_user" "function" {
  project_id = var.atlas_project_id
{%- if cookiecutter.auth_mode == "iam" %}
  # MONGODB-AWS: the user is the function's execution role, so no secret exists anywhere.
  username           = aws_iam_role.function.arn
  auth_database_name = "$external"
  aws_iam_type       = "ROLE"
{%- else %}
  # SCRAM: the password is the one stored in Secrets Manager (database_secret.tf), read back
  # from that secret version, so Atlas and the secret always agree. Write-only: in neither plan
  # nor state.
  username            = var.database_username
  auth_database_name  = "admin"
  password_wo         = jsondecode(ephemeral.aws_secretsmanager_secret_version.database_user.secret_string).password
  password_wo_version = aws_secretsmanager_secret_version.database_user.secret_string_wo_version
{%- endif %}

  description = "Function ${var.name}"

  roles {
    role_name     = "readWrite"
    database_name = local.database_name
  }

  scopes {
    name = var.atlas_cluster_name
    type = "CLUSTER"
  }
}
