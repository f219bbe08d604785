"""`make bench` keeps working: bench/run.py --quick prints every row (no timings checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_AUTH_ROWS = (
    "cold start",
    "cold start, from the zip",
    "cold start, Powertools from its layer (with bytecode)",
    "cold start, Powertools from its layer (no bytecode)",
    "cold start, today's handler",
    "warm overhead of logging and metrics",
    "first `POST /items` with an Idempotency-Key",
    "package zip, Powertools from its layer instead",
    "first invocation `GET /health`",
    "warm invocation p50",
    "warm invocation p99",
    "sockets, 100 warm invocations",
    "commands the server handles per warm invocation",
    "sockets per node, 2 containers at once",
    "package zip",
    "SnapStart: after-restore hooks + first `GET /health`",
    "provisioned: first `GET /health` (INIT connected)",
)


def test_bench_quick_prints_every_row(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split(" | ")[:2] for line in result.stdout.splitlines() if line.startswith("| ")]
    labels = {(what.removeprefix("| "), auth) for what, auth in rows}
    for auth in ("iam", "password"):
        for what in PER_AUTH_ROWS:
            assert any(w.startswith(what) and a == auth for w, a in labels), (what, auth)
    assert ("first invocation, real Secrets Manager reader", "password") in labels
    assert ("bake time per combination", "all") in labels
    assert ("template test suite (`--suite`)", "all") in labels
    assert (tmp_path / "results.md").read_text() in result.stdout
    measured = json.loads((tmp_path / "results.json").read_text())["measured"]
    assert set(measured) == {"iam", "password"}
