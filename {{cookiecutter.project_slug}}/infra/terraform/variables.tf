# ---------------------------------------------------------------- MongoDB Atlas

variable "atlas_project_id" {
  description = "Atlas project id (24 hex digits; Atlas UI > Project Settings)."
  type        = string

  validation {
    condition     = can(regex("^[a-f0-9]{24}$", var.atlas_project_id))
    error_message = "atlas_project_id must be the 24-hex-digit Atlas project id."
  }
}

variable "atlas_cluster_name" {
  description = "Name of the existing Atlas cluster (case-sensitive); the database user is scoped to it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,63}$", var.atlas_cluster_name))
    error_message = "atlas_cluster_name must be an Atlas cluster name (letters, digits, hyphens)."
  }
}
{%- if cookiecutter.network_mode == "private_endpoint" %}

variable "atlas_private_endpoint_service_id" {
  description = "Id of the project's existing Atlas private endpoint service in aws_region (Atlas allows one per project and region; Atlas UI > Network Access > Private Endpoint). Empty: this stack creates it."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-f0-9]{24})?$", var.atlas_private_endpoint_service_id))
    error_message = "atlas_private_endpoint_service_id must be empty or a 24-hex-digit Atlas private endpoint service id."
  }
}
{%- elif cookiecutter.network_mode == "peering" %}

variable "new_atlas_container_cidr" {
  description = "CIDR for the Atlas network container, used only if the project has none in aws_region yet (Atlas made one with the first cluster there; its CIDR is used then). /21 to /24, private, not overlapping vpc_cidr."
  type        = string
  default     = "192.168.248.0/21"

  validation {
    condition     = can(cidrhost(var.new_atlas_container_cidr, 0)) && try(tonumber(split("/", var.new_atlas_container_cidr)[1]) >= 21 && tonumber(split("/", var.new_atlas_container_cidr)[1]) <= 24, false)
    error_message = "new_atlas_container_cidr must be an IPv4 CIDR block from /21 to /24."
  }
}
{%- endif %}
{%- if cookiecutter.auth_mode == "password" %}

variable "database_username" {
  description = "Name of the SCRAM database user; stored with its password in Secrets Manager."
  type        = string
  default     = {{ (cookiecutter.project_slug ~ "-app") | tojson }}

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.database_username))
    error_message = "database_username may hold letters, digits, dot, underscore and hyphen only."
  }
}

variable "password_version" {
  description = "Raise by one to rotate the database password: Secrets Manager stores a new one and Atlas takes it from there."
  type        = number
  default     = 1

  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a whole number of at least 1."
  }
}
{%- endif %}

# ---------------------------------------------------------------- AWS

variable "aws_region" {
  description = "AWS region of the function (one MongoDB Atlas supports)."
  type        = string
  default     = {{ cookiecutter.aws_region | tojson }}
}

variable "name" {
  description = "Name of the function and prefix of every other resource name."
  type        = string
  default     = {{ cookiecutter.project_slug | tojson }}

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "name must start with a lowercase letter and hold lowercase letters, digits and hyphens (at most 40)."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the function's VPC (/16 to /20; /24-sized subnets are carved from it)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block from /16 to /20."
  }
}

variable "lambda_memory_mb" {
  description = "Function memory in MB."
  type        = number
  default     = {{ cookiecutter.lambda_memory_mb | int }}

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_timeout_s" {
  description = "Function timeout in seconds; the function reads it from FUNCTION_TIMEOUT_S to bound its database calls."
  type        = number
  default     = {{ cookiecutter.lambda_timeout_s | int }}

  validation {
    condition     = var.lambda_timeout_s >= 3 && var.lambda_timeout_s <= 900 && floor(var.lambda_timeout_s) == var.lambda_timeout_s
    error_message = "lambda_timeout_s must be a whole number of seconds from 3 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Containers reserved for the function, and so its cap on connections to Atlas. 0 reserves nothing (for accounts whose concurrency quota is below 100 + this value); the account quota then caps containers."
  type        = number
  default     = {{ cookiecutter.reserved_concurrency | int }}

  # The {{ cookiecutter.atlas_tier }} connection budget: at most {{ cookiecutter.__max_reserved_concurrency }} containers, each opening up to {{ cookiecutter._connections_per_container_per_node }} connections per node.
  validation {
    condition     = floor(var.reserved_concurrency) == var.reserved_concurrency && var.reserved_concurrency >= 0 && var.reserved_concurrency <= {{ cookiecutter.__max_reserved_concurrency }}
    error_message = "reserved_concurrency must be 0 (reserve nothing) or a whole number from 1 to {{ cookiecutter.__max_reserved_concurrency }}: more containers would exceed the {{ cookiecutter.atlas_tier }} tier's connection budget."
  }
}
{%- if cookiecutter.cold_start == "provisioned" %}

variable "provisioned_concurrency" {
  description = "Containers Lambda keeps initialised, and connected to Atlas, on the alias live (billed while idle): 1 to {{ cookiecutter.__max_reserved_concurrency }}, and at most reserved_concurrency unless that is 0."
  type        = number
  default     = {{ cookiecutter.provisioned_concurrency | int }}

  validation {
    condition     = floor(var.provisioned_concurrency) == var.provisioned_concurrency && var.provisioned_concurrency >= 1 && var.provisioned_concurrency <= {{ cookiecutter.__max_reserved_concurrency }}
    error_message = "provisioned_concurrency must be a whole number from 1 to {{ cookiecutter.__max_reserved_concurrency }}: more containers would exceed the {{ cookiecutter.atlas_tier }} tier's connection budget."
  }

  # Terraform 1.9+ lets a validation read another variable.
  validation {
    condition     = var.reserved_concurrency == 0 || var.provisioned_concurrency <= var.reserved_concurrency
    error_message = "provisioned_concurrency (${var.provisioned_concurrency}) must be at most reserved_concurrency (${var.reserved_concurrency}): Lambda provisions containers out of the function's reserved ones."
  }
}
{%- endif %}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's and the API's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

# ---------------------------------------------------------------- Alarms

variable "alarm_email" {
  description = "Email address for the alarms: the SNS topic subscribes it (AWS first sends a confirmation link) and the Atlas connection alert mails it. Empty: no subscription, and Atlas notifies the project owners."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or one email address, such as ops@example.com."
  }
}
