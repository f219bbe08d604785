"""Keep only what the answers chose, then print the next steps.

Runs inside the generated project directory.  The answers arrive as JSON data.
The next steps are shell lines to paste where the user ran cookiecutter; cruft's
comparison renders (``cruft diff``, ``cruft update``) print nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
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


# Deploy steps per tool, pasted after `cd <project>`: each line runs in the folder the
# lines before it left (one `cd` per tool); `#` lines are comments a shell skips.
# {slug} and {region} are the answers, {peering} the CDK's peering setting.
# They follow infra/<tool>/README.md.
DEPLOY_STEPS = {
    "terraform": [
        "make package",
        "cd infra/terraform",
        "terraform init",
        "terraform apply  # asks for atlas_project_id and atlas_cluster_name (README.md)",
    ],
    "sam": [
        "make package",
        "cd infra/sam",
        "sam deploy --config-env atlas-extensions --region {region}  # once per account and region",
        "sam build && sam deploy --guided  # region {region} and stack {slug} from samconfig.toml",
    ],
    "cdk": [
        "make package",
        ". .venv/bin/activate  # the CDK app runs python3 app.py with the project's libraries",
        "cd infra/cdk",
        "npm ci  # the pinned aws-cdk CLI (Node.js 22 or newer)",
        "# in cdk.json set atlasProjectId, atlasClusterName, mongodbUri{peering} (README.md)",
        "npx cdk bootstrap && npx cdk deploy mongodb-atlas-extensions  # once per account/region",
        "npx cdk deploy {slug}",
    ],
}


def launch_dir() -> Path | None:
    """Where the user ran cookiecutter or cruft: the shell's PWD.

    Both chdir into the template while hooks run, and run the hooks inside the new
    project, so the process's own directory says nothing; a shell exports PWD to
    what it starts and neither tool changes it.
    """
    pwd = os.environ.get("PWD", "")
    if not os.path.isabs(pwd) or not os.path.isdir(pwd):
        return None
    return Path(pwd).resolve()


def cd_target(project: Path, launch: Path | None) -> str:
    """The project as `cd` needs it from the launch directory: relative when it lies
    below it (``-o elsewhere`` gives elsewhere/<slug>), else absolute."""
    project = project.resolve()
    if launch is not None and project.is_relative_to(launch):
        return shlex.quote(project.relative_to(launch).as_posix())
    return shlex.quote(project.as_posix())


def is_cruft_comparison(answers: Answers, project: Path) -> bool:
    """True when cruft renders the template only to compare it with a project.

    ``cruft diff`` and ``cruft update`` (twice: the project's commit and the new one)
    call cookiecutter's ``generate_files`` with ``output_dir`` a fresh
    ``tempfile.TemporaryDirectory()`` (cruft/_commands/utils/generate.py,
    ``_generate_output``); ``cruft create`` renders where the user asked. cruft adds
    ``_commit`` to the answers; cookiecutter never does.
    """
    if "_commit" not in answers:
        return False
    output_dir = project.resolve().parent
    return output_dir.parent == Path(tempfile.gettempdir()).resolve() and bool(
        re.fullmatch(r"tmp[a-z0-9_]{8}", output_dir.name)
    )


def next_steps(answers: Answers, project: Path, launch: Path | None) -> str:
    slug = answers["project_slug"]
    steps = [
        f"cd {cd_target(project, launch)}",
        "make test      # offline tests over a real TCP socket",
        "make invoke    # run the handler on events/*.json against an embedded stand-in server",
        *(
            step.format(
                slug=slug,
                region=answers["aws_region"],
                peering=(
                    ", atlasNetworkContainerId" if answers["network_mode"] == "peering" else ""
                ),
            )
            for step in DEPLOY_STEPS[answers["iac_tool"]]
        ),
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
    if not is_cruft_comparison(answers, project):
        print(next_steps(answers, project, launch_dir()))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
