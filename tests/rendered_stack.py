"""What the IaC stacks' tests know of one rendered project: its answers and where it lies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULTS = json.loads((Path(__file__).resolve().parent.parent / "cookiecutter.json").read_text())


@dataclass
class RenderedStack:
    """One rendered project; subclasses add the parsed files of their IaC tool."""

    answers: dict[str, Any]
    project: Path

    def answer(self, key: str) -> str:
        value = self.answers.get(key, DEFAULTS[key])
        return value[0] if isinstance(value, list) else str(value)

    @property
    def region(self) -> str:
        return self.answer("aws_region")

    @property
    def network(self) -> str:
        return self.answer("network_mode")

    @property
    def auth(self) -> str:
        return self.answer("auth_mode")


def pool_sockets_per_container(answers: dict[str, Any]) -> int:
    """Pool sockets one container may open in the alarms' 5 minutes: 300 / 60 + 1 = 6 per pool
    (maxIdleTimeMS is 60 s), and on a sharded cluster one pool per mongos it uses
    (srvMaxHosts 3)."""
    topology = RenderedStack(answers, Path()).answer("cluster_topology")
    return 6 * (3 if topology == "sharded" else 1)
