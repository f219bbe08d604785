{%- set network = cookiecutter.network_mode -%}
{%- set auth = cookiecutter.auth_mode -%}
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
  description = "Name of the existing Atlas cluster; the database user is scoped to it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,63}$", var.atlas_cluster_name))
    error_message = "atlas_cluster_name must be an Atlas cluster name (letters, digits, hyphens)."
  }
}
{%- if network == "peering" %}

variable "atlas_cidr" {
  description = "CIDR of the Atlas network container (/21 to /24, must not overlap vpc_cidr). With atlas_container_id, give that container's CIDR."
  type        = string
  default     = "192.168.248.0/21"

  validation {
    condition     = can(cidrhost(var.atlas_cidr, 0)) && tonumber(split("/", var.atlas_cidr)[1]) >= 21 && tonumber(split("/", var.atlas_cidr)[1]) <= 24
    error_message = "atlas_cidr must be an IPv4 CIDR block from /21 to /24."
  }
}

variable "atlas_container_id" {
  description = "Leave empty to create the Atlas network container for the region. If the project already has one there (it does once a dedicated cluster runs in that region), give its id."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-f0-9]{24})?$", var.atlas_container_id))
    error_message = "atlas_container_id must be empty or a 24-hex-digit Atlas container id."
  }
}
{%- endif %}
{%- if auth == "password" %}

variable "database_username" {
  description = "Name of the SCRAM database user; stored with its generated password in Secrets Manager."
  type        = string
  default     = {{ (cookiecutter.project_slug ~ "-app") | tojson }}

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.database_username))
    error_message = "database_username may hold letters, digits, dot, underscore and hyphen only."
  }
}

variable "password_version" {
  description = "Increase by one to generate a new database password (written to Atlas and Secrets Manager, never to state)."
  type        = number
  default     = 1
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
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block from /16 to /20."
  }
}

variable "lambda_memory_mb" {
  description = "Function memory in MB."
  type        = number
  default     = {{ cookiecutter.lambda_memory_mb | int }}

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_timeout_s" {
  description = "Function timeout in seconds."
  type        = number
  default     = {{ cookiecutter.lambda_timeout_s | int }}

  validation {
    condition     = var.lambda_timeout_s >= 3 && var.lambda_timeout_s <= 900
    error_message = "lambda_timeout_s must be between 3 and 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency: caps containers, and so connections to Atlas (sized for the {{ cookiecutter.atlas_tier }} tier's connection budget)."
  type        = number
  default     = {{ cookiecutter.reserved_concurrency | int }}

  validation {
    condition     = var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's and the API's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}
