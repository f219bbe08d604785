"""Synthesize several generated CDK projects in one process (run by tests/test_cdk.py).

Usage: python cdk_synth.py JOBS.json RESULTS.json

JOBS.json is a list of {"name", "project", "context"} (and optionally "outdir"). For each
job the project's own ``infra/cdk/cdk.json`` context is read (feature flags and defaults, as
the CDK CLI passes it), ``context`` is laid over it, and ``app.build`` runs into ``outdir``
(default ``infra/cdk/cdk.out``) with the project's ``dist/lambda.zip``. Synthesis includes the
cdk-nag checks, which raise on any unacknowledged finding. RESULTS.json maps each name to
{"ok", "error", "outdir", "seconds"}. Starting the CDK's JavaScript runtime costs seconds;
a process that synthesizes many projects pays it once.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# Every project has its own modules of these names (and the package's submodules).
PROJECT_MODULES = ("app", "service_infra", "peering_accepter")


def synthesize(project: Path, context: dict[str, Any], outdir: Path) -> Path:
    from aws_cdk import App

    infra = project / "infra" / "cdk"
    merged = {**json.loads((infra / "cdk.json").read_text())["context"], **context}
    for name in list(sys.modules):
        if name.split(".")[0] in PROJECT_MODULES:
            del sys.modules[name]
    sys.path.insert(0, str(infra))
    try:
        module = importlib.import_module("app")
        app = App(context=merged, outdir=str(outdir))
        module.build(app, project / "dist" / "lambda.zip")
        app.synth()
    finally:
        sys.path.remove(str(infra))
    return outdir


def main(jobs_file: str, results_file: str) -> int:
    results: dict[str, dict[str, Any]] = {}
    for job in json.loads(Path(jobs_file).read_text()):
        started = time.monotonic()
        project = Path(job["project"])
        outdir = Path(job.get("outdir") or project / "infra" / "cdk" / "cdk.out")
        try:
            synthesize(project, job["context"], outdir)
            error = None
        except Exception as problem:
            report = outdir / "validation-report.json"
            error = "".join(traceback.format_exception_only(problem))
            if report.exists():
                error += report.read_text()
        results[job["name"]] = {
            "ok": error is None,
            "error": error,
            "outdir": str(outdir),
            "seconds": round(time.monotonic() - started, 2),
        }
    Path(results_file).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
