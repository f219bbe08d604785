terraform {
  # 1.11 is the first release with write-only arguments (the database password never lands in state).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    mongodbatlas = {
      source  = "mongodb/mongodbatlas"
      version = "~> 2.0"
    }
{%- if cookiecutter.auth_mode == "password" %}
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
{%- endif %}
  }
}
