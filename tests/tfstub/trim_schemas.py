"""Maintainer tool: trim `terraform providers schema -json` files to the types the stacks use.

    python tests/tfstub/trim_schemas.py SOURCE_DIR

SOURCE_DIR holds aws-6.47.0-schema.json and mongodbatlas-2.13.0-schema.json (see
schemas/README.md for where they come from). The trimmed copies keep every type in
KEEP, drop descriptions (Terraform never needs them) and are written, one type per
line, to schemas/. Tests only read the trimmed copies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "schemas"

# Every type a rendering of the template uses today, the data sources the stacks are
# expected to look up, and a margin of neighbours (alarms, aliases, queues...) so a
# stack that grows by one resource still finds its schema.
KEEP: dict[str, dict[str, list[str]]] = {
    "aws": {
        "resource_schemas": [
            "aws_apigatewayv2_api",
            "aws_apigatewayv2_api_mapping",
            "aws_apigatewayv2_deployment",
            "aws_apigatewayv2_domain_name",
            "aws_apigatewayv2_integration",
            "aws_apigatewayv2_route",
            "aws_apigatewayv2_stage",
            "aws_cloudwatch_dashboard",
            "aws_cloudwatch_log_group",
            "aws_cloudwatch_log_metric_filter",
            "aws_cloudwatch_metric_alarm",
            "aws_default_network_acl",
            "aws_default_route_table",
            "aws_default_security_group",
            "aws_eip",
            "aws_flow_log",
            "aws_iam_policy",
            "aws_iam_role",
            "aws_iam_role_policy",
            "aws_iam_role_policy_attachment",
            "aws_internet_gateway",
            "aws_kms_alias",
            "aws_kms_key",
            "aws_lambda_alias",
            "aws_lambda_function",
            "aws_lambda_function_event_invoke_config",
            "aws_lambda_permission",
            "aws_lambda_provisioned_concurrency_config",
            "aws_nat_gateway",
            "aws_route",
            "aws_route_table",
            "aws_route_table_association",
            "aws_secretsmanager_secret",
            "aws_secretsmanager_secret_policy",
            "aws_secretsmanager_secret_version",
            "aws_security_group",
            "aws_security_group_rule",
            "aws_sns_topic",
            "aws_sns_topic_subscription",
            "aws_sqs_queue",
            "aws_ssm_parameter",
            "aws_subnet",
            "aws_vpc",
            "aws_vpc_endpoint",
            "aws_vpc_peering_connection_accepter",
            "aws_vpc_peering_connection_options",
            "aws_vpc_security_group_egress_rule",
            "aws_vpc_security_group_ingress_rule",
        ],
        "data_source_schemas": [
            "aws_availability_zones",
            "aws_caller_identity",
            "aws_iam_policy",
            "aws_iam_policy_document",
            "aws_iam_role",
            "aws_kms_key",
            "aws_partition",
            "aws_region",
            "aws_secretsmanager_secret",
            "aws_secretsmanager_secret_version",
            "aws_subnet",
            "aws_subnets",
            "aws_vpc",
            "aws_vpc_endpoint",
            "aws_vpc_endpoint_service",
        ],
    },
    "mongodbatlas": {
        "resource_schemas": [
            "mongodbatlas_advanced_cluster",
            "mongodbatlas_alert_configuration",
            "mongodbatlas_custom_dns_configuration_cluster_aws",
            "mongodbatlas_database_user",
            "mongodbatlas_flex_cluster",
            "mongodbatlas_network_container",
            "mongodbatlas_network_peering",
            "mongodbatlas_private_endpoint_regional_mode",
            "mongodbatlas_privatelink_endpoint",
            "mongodbatlas_privatelink_endpoint_service",
            "mongodbatlas_project_ip_access_list",
        ],
        "data_source_schemas": [
            "mongodbatlas_advanced_cluster",
            "mongodbatlas_advanced_clusters",
            "mongodbatlas_alert_configuration",
            "mongodbatlas_custom_dns_configuration_cluster_aws",
            "mongodbatlas_database_user",
            "mongodbatlas_flex_cluster",
            "mongodbatlas_network_container",
            "mongodbatlas_network_containers",
            "mongodbatlas_network_peering",
            "mongodbatlas_private_endpoint_regional_mode",
            "mongodbatlas_privatelink_endpoint",
            "mongodbatlas_privatelink_endpoint_service",
            "mongodbatlas_project",
            "mongodbatlas_project_ip_access_list",
        ],
    },
}
SOURCES = {"aws": "aws-6.47.0-schema.json", "mongodbatlas": "mongodbatlas-2.13.0-schema.json"}


def strip(node: Any) -> Any:
    if isinstance(node, dict):
        # Descriptions are strings; an attribute *named* description is a dict and stays.
        return {
            key: strip(value)
            for key, value in node.items()
            if not (key in ("description", "description_kind") and isinstance(value, str))
        }
    if isinstance(node, list):
        return [strip(item) for item in node]
    return node


def trim(source: Path, name: str) -> str:
    document = json.loads(source.read_text(encoding="utf-8"))
    ((address, schemas),) = document["provider_schemas"].items()
    lines = [f'{{"provider_address": {json.dumps(address)},']
    if "provider" in schemas:
        lines.append(f'"provider": {json.dumps(strip(schemas["provider"]), sort_keys=True)},')
    for kind, types in KEEP[name].items():
        lines.append(f'"{kind}": {{')
        entries = [
            f"{json.dumps(t)}: {json.dumps(strip(schemas[kind][t]), sort_keys=True)}"
            for t in sorted(types)
        ]
        lines.append(",\n".join(entries))
        lines.append("},")
    lines[-1] = "}"
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(source_dir: str) -> None:
    for name, file in SOURCES.items():
        text = trim(Path(source_dir) / file, name)
        json.loads(text)  # well-formed
        (HERE / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"{name}.json: {len(text) // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1])
