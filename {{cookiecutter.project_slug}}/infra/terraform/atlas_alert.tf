{%- set flex = cookiecutter.atlas_tier == "FLEX" -%}
# What Atlas watches: connections to the cluster as a share of its limit ({% if flex %}500 for FLEX{% elif cookiecutter.cluster_topology == "sharded" %}per mongos{% else %}per node{% endif %}),
# above the {{ (cookiecutter._connection_headroom * 100) | int }} % the connection budget leaves room for. Atlas cannot notify SNS: it mails
# alarm_email, or without one the project's owners.
{%- if flex %}
#
# Atlas lists this condition ("Connections % of configured limit") among its Flex alerts. It does
# not document the host names a Flex cluster's alerts carry, so the alert matches no host name
# and covers every cluster in the project; Atlas names the cluster in each alert it sends.
{%- else %}
#
# Atlas matches host alerts by host name, not by cluster name. This cluster's nodes (and its
# mongos) are named <prefix>-shard-NN-NN..., as its standard connection string shows; if that
# string shows no such name, the alert covers every cluster in the project.

locals {
  atlas_host_prefix = try(regex("^mongodb://([a-z0-9-]+?)-shard-[0-9]+-[0-9]+", data.mongodbatlas_advanced_cluster.atlas.connection_strings.standard)[0], null)
}
{%- endif %}

resource "mongodbatlas_alert_configuration" "connections" {
  project_id = var.atlas_project_id
  event_type = "OUTSIDE_METRIC_THRESHOLD"
  enabled    = true

  metric_threshold_config {
    metric_name = "CONNECTIONS_PERCENT"
    operator    = "GREATER_THAN"
    threshold   = {{ (cookiecutter._connection_headroom * 100) | int }}
    units       = "RAW"
    mode        = "AVERAGE"
  }
{%- if not flex %}

  dynamic "matcher" {
    for_each = local.atlas_host_prefix == null ? [] : [local.atlas_host_prefix]

    content {
      field_name = "HOSTNAME"
      operator   = "STARTS_WITH"
      value      = "${matcher.value}-shard-"
    }
  }
{%- endif %}

  dynamic "notification" {
    for_each = var.alarm_email == "" ? [] : [var.alarm_email]

    content {
      type_name     = "EMAIL"
      email_address = notification.value
      delay_min     = 0
      interval_min  = 60
    }
  }

  dynamic "notification" {
    for_each = var.alarm_email == "" ? ["GROUP_OWNER"] : []

    content {
      type_name     = "GROUP"
      roles         = [notification.value]
      email_enabled = true
      sms_enabled   = false
      delay_min     = 0
      interval_min  = 60
    }
  }
}
