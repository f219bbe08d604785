"""Build the deployment package: ``dist/lambda.zip``.

Dependencies are resolved for the Lambda platform (manylinux, the function's
architecture and Python), never for this machine, and those the Lambda Python
runtime already ships (boto3, botocore and their dependencies) are left out.
The zip is reproducible: sorted entries, fixed timestamps, no caches.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
ARCHITECTURE = "{{ cookiecutter.architecture }}"
PLATFORMS = {
    "arm64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64"],
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64"],
}
# Shipped by the Lambda Python runtime: bundling them only adds ~30 MB.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def pip_platform_args() -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION]
    for platform in PLATFORMS[ARCHITECTURE]:
        args += ["--platform", platform]
    return args


def resolve(requirements: list[str]) -> list[str]:
    """Pinned ``name==version`` for every dependency the function needs at run time."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        subprocess.run(  # noqa: S603 - our own interpreter running pip on pinned arguments
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--target", scratch, "--report", str(report), *pip_platform_args(), *requirements],
            check=True,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    pins = []
    for item in installs:
        name = item["metadata"]["name"].lower().replace("_", "-")
        if name not in RUNTIME_PROVIDED:
            pins.append(f"{name}=={item['metadata']['version']}")
    return sorted(pins)


def build(output: Path) -> Path:
    pins = resolve(runtime_requirements())
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "package"
        subprocess.run(  # noqa: S603 - our own interpreter running pip on pinned arguments
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
             "--target", str(target), *pip_platform_args(), *pins],
            check=True,
        )  # fmt: skip
        shutil.copytree(ROOT / "src" / PACKAGE, target / PACKAGE)
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(target.rglob("*")):
                relative = path.relative_to(target)
                if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
                    continue
                info = zipfile.ZipInfo(relative.as_posix(), FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    size_mb = output.stat().st_size / 1e6
    print(f"{output.relative_to(ROOT)}: {size_mb:.2f} MB; bundled: {', '.join(pins)}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment package.")
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "lambda.zip")
    args = parser.parse_args(argv)
    build(args.output.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
