terraform {
{%- if cookiecutter.auth_mode == "password" %}
  # 1.11: write-only arguments and ephemeral resources, so the database password is in neither
  # plan nor state.
{%- else %}
  # 1.11 (March 2025) or newer: the release this stack is written and checked for.
{%- endif %}
  required_version = ">= 1.11"

  required_providers {
    # 6.20 is the first release that accepts the python3.14 runtime.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.20"
    }
{%- if cookiecutter.auth_mode == "password" %}
    # 2.16 adds password_wo, the write-only database user password.
{%- endif %}
    mongodbatlas = {
      source  = "mongodb/mongodbatlas"
      version = "~> 2.16"
    }
  }
}
