# What CloudWatch watches: four alarms on the function, all notifying one SNS topic (ALARM and
# OK both), which mails alarm_email when it is set.

# ---------------------------------------------------------------- notification target

# A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with the
# AWS-managed alias/aws/sns key, whose policy nobody can change.
data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_109:A key policy's only resource is the key itself; the account administers its own key, as in the default key policy.
  #checkov:skip=CKV_AWS_111:A key policy's only resource is the key itself; the account administers its own key, as in the default key policy.
  #checkov:skip=CKV_AWS_356:A key policy's only resource is the key itself, which "*" denotes there.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # CloudWatch encrypts the messages of this stack's alarms, and of nothing else.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${var.aws_region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description         = "Encrypts the ${var.name}-alarms SNS topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarms_key.json
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

# AWS mails a confirmation link first: nothing arrives until it is clicked.
resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (ALARM and OK): subscribe more endpoints to it"
  value       = aws_sns_topic.alarms.arn
}

# ---------------------------------------------------------------- the function's alarms

# Any failed invocation: an unhandled error or a timeout.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "${var.name} failed at least once in 5 minutes (an unhandled error or a timeout): see its log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.api.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Requests Lambda refused because every container allowed was busy.
resource "aws_cloudwatch_metric_alarm" "throttles" {
  alarm_name          = "${var.name}-throttles"
  alarm_description   = "${var.name} was throttled at least once in 5 minutes: every container its concurrency allows was busy."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.api.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The slowest invocations near the timeout: the next ones will time out.
resource "aws_cloudwatch_metric_alarm" "duration" {
  alarm_name          = "${var.name}-duration"
  alarm_description   = "${var.name}'s p99 duration was above 80 % of its ${var.lambda_timeout_s} s timeout in 2 of 3 periods of 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.api.function_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lambda_timeout_s * 1000 * 0.8
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

locals {
  # A container opens its pool's socket on its first invocation and again only after the
  # driver's maxIdleTimeMS (60 s) of idleness, so N containers open at most N x (300 / 60 + 1)
  # = 6 x N sockets in 5 minutes{% if cookiecutter.cluster_topology == "sharded" %}, times 3 here: a container keeps one pool per mongos it
  # uses, and srvMaxHosts lets it use 3{% endif %}. More means a client is being built per call again.
  connections_created_max = {{ cookiecutter.__pool_sockets_per_container }} * local.max_containers
}

# The function's own metric (Powertools EMF, namespace and service = var.name, function.tf):
# sockets pymongo opened, 0 on a warm invocation.
resource "aws_cloudwatch_metric_alarm" "connections_created" {
  alarm_name          = "${var.name}-connections-created"
  alarm_description   = "${var.name} opened more than ${local.connections_created_max} connections to Atlas in 5 minutes, more than its ${local.max_containers} containers explain: a MongoClient is being created per invocation."
  namespace           = var.name
  metric_name         = "ConnectionsCreated"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.connections_created_max
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
