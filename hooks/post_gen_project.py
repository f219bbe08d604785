"""Keep only what the answers chose, then print the next steps.

Runs inside the generated project directory.  The answers arrive as JSON data.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Answers = Mapping[str, Any]

IAC_TOOLS = ("terraform", "sam", "cdk")


def iac_paths(project: Path, tool: str) -> list[Path]:
    """Everything in a generated project that belongs to one IaC tool."""
    return [
        project / "infra" / tool,
        project / ".github" / "workflows" / f"infra-{tool}.yml",
        project / "tests" / f"test_infra_{tool}.py",
    ]


# The custom resource that accepts Atlas's VPC peering request: CloudFormation (SAM, CDK)
# has no resource for it; Terraform accepts with aws_vpc_peering_connection_accepter.
PEERING_ACCEPTER_TOOLS = ("sam", "cdk")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def remove_unchosen_iac(project: Path, chosen: str, network_mode: str) -> None:
    """Delete every IaC tool's files except the chosen tool's."""
    for tool in IAC_TOOLS:
        if tool == chosen:
            continue
        for path in iac_paths(project, tool):
            _remove(path)
    if network_mode != "peering" or chosen not in PEERING_ACCEPTER_TOOLS:
        _remove(project / "infra" / "peering_accepter")


DEPLOY_STEPS = {
    "terraform": [
        "make package",
        "cd infra/terraform && terraform init && terraform apply",
    ],
    "sam": [
        "make package",
        "cd infra/sam && sam deploy --config-env atlas-extensions  # once per account and region",
        "cd infra/sam && sam build && sam deploy --guided",
    ],
    "cdk": [
        "make package",
        "cd infra/cdk && npm ci  # the pinned aws-cdk CLI (needs Node.js 20+)",
        "fill atlasProjectId, atlasClusterName and mongodbUri in infra/cdk/cdk.json",
        "npx cdk bootstrap && npx cdk deploy mongodb-atlas-extensions  # once per account/region",
        "npx cdk deploy PROJECT_SLUG",
    ],
}


def next_steps(answers: Answers) -> str:
    slug = answers["project_slug"]
    steps = [
        f"cd {slug}",
        "make test      # offline tests over a real TCP socket",
        "make invoke    # run the handler on events/*.json against an embedded stand-in server",
        *(step.replace("PROJECT_SLUG", slug) for step in DEPLOY_STEPS[answers["iac_tool"]]),
    ]
    return "\n".join(
        [
            f"Created {slug}: {answers['auth_mode']} auth, {answers['network_mode']} network, "
            f"{answers['iac_tool']}, {answers['cluster_topology']} on {answers['atlas_tier']}.",
            "Next steps:",
            *(f"  {step}" for step in steps),
            "README.md explains what must exist in AWS and Atlas before the first deploy.",
        ]
    )


def main(answers: Answers, project: Path) -> int:
    remove_unchosen_iac(project, answers["iac_tool"], answers["network_mode"])
    print(next_steps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
