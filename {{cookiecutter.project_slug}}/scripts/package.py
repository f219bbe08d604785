"""Build the deployment package, ``dist/lambda.zip``, from ``requirements.lock``.

``requirements.lock`` pins every runtime dependency with the hashes of its Lambda
wheels (manylinux, both architectures, the function's Python), so the same lock
builds the same package on any machine. ``--lock`` re-resolves it after the
``[project] dependencies`` in pyproject.toml change (``make lock``); ``--check-lock``
re-resolves with the locked versions and fails if the lock would change.

Dependencies are always resolved for the Lambda platform, never for this machine,
and those the Lambda Python runtime already ships (boto3, botocore and their
dependencies) are left out. The zip is reproducible: sorted entries, fixed
timestamps, no caches.
"""

from __future__ import annotations

import argparse
import compileall
import difflib
import json
import py_compile
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
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
LAMBDA_TASK_ROOT = "/var/task"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LOCK_HEADER = """\
# The deployment package's runtime dependencies, pinned with the sha256 of their
# Lambda wheels (manylinux arm64 and x86_64). scripts/package.py installs exactly
# these, with --no-deps --require-hashes. Regenerate with `make lock` after changing
# [project] dependencies in pyproject.toml; boto3, botocore and their dependencies
# are left out: the Lambda runtime provides them.
"""


class LockError(Exception):
    """requirements.lock is missing, stale or would change."""


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def inputs_line(requirements: list[str]) -> str:
    """What the lock was resolved from; a build refuses a lock made from other inputs."""
    return f"# inputs: python={PYTHON_VERSION} {' '.join(requirements)}"


def pip_platform_args(architecture: str) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION]
    for platform in PLATFORMS[architecture]:
        args += ["--platform", platform]
    return args


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def resolve(
    requirements: list[str], architecture: str, constraints: Path | None
) -> dict[str, tuple[str, str]]:
    """``{name: (version, sha256 of the wheel)}`` for what the function needs at run time."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        constrain = ["--constraint", str(constraints)] if constraints else []
        subprocess.run(  # noqa: S603 - our own interpreter running pip on our own arguments
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--disable-pip-version-check", "--target", scratch, "--report", str(report),
             *pip_platform_args(architecture), *constrain, *requirements],
            check=True,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    pins = {}
    for item in installs:
        name = normalize(item["metadata"]["name"])
        if name not in RUNTIME_PROVIDED:
            sha256 = item["download_info"]["archive_info"]["hashes"]["sha256"]
            pins[name] = (item["metadata"]["version"], sha256)
    return pins


def lock_text(requirements: list[str], constraints: Path | None = None) -> str:
    """The lock for every Lambda architecture: one version per package, every wheel's hash."""
    versions: dict[str, str] = {}
    hashes: dict[str, set[str]] = {}
    for architecture in PLATFORMS:
        for name, (version, sha256) in resolve(requirements, architecture, constraints).items():
            if versions.setdefault(name, version) != version:
                raise LockError(
                    f"{name} resolves to {versions[name]} and {version} on different architectures"
                )
            hashes.setdefault(name, set()).add(sha256)
    lines = [LOCK_HEADER + inputs_line(requirements)]
    for name in sorted(versions):
        lines.append(f"{name}=={versions[name]} \\")
        lines.append(" \\\n".join(f"    --hash=sha256:{digest}" for digest in sorted(hashes[name])))
    return "\n".join(lines) + "\n"


def write_lock() -> None:
    LOCK.write_text(lock_text(runtime_requirements()))
    print(f"{LOCK.relative_to(ROOT)}: written")


def constraints_of(lock: str, scratch: Path) -> Path:
    """The lock's ``name==version`` pins alone, as a pip constraints file."""
    pins = [
        line.split()[0] for line in lock.splitlines() if "==" in line and not line.startswith("#")
    ]
    path = scratch / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


def check_lock() -> None:
    """Re-resolve with the locked versions: the lock must come out unchanged."""
    current = read_lock()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            expected = lock_text(runtime_requirements(), constraints_of(current, Path(scratch)))
        except subprocess.CalledProcessError as failure:
            raise LockError(
                "requirements.lock no longer satisfies pyproject.toml: run `make lock`"
            ) from failure
    if expected != current:
        diff = difflib.unified_diff(
            current.splitlines(),
            expected.splitlines(),
            "requirements.lock",
            "resolved",
            lineterm="",
        )
        raise LockError("requirements.lock is out of date: run `make lock`\n" + "\n".join(diff))
    print(f"{LOCK.relative_to(ROOT)}: up to date")


def read_lock() -> str:
    if not LOCK.exists():
        raise LockError("requirements.lock is missing: run `make lock`")
    text = LOCK.read_text()
    expected = inputs_line(runtime_requirements())
    if expected not in text.splitlines():
        raise LockError(
            "requirements.lock was resolved from other inputs than pyproject.toml "
            f"({expected.removeprefix('# ')}): run `make lock`"
        )
    return text


def compile_bytecode(target: Path) -> bool:
    """Precompile for the runtime: Lambda's code directory is read-only, so without
    bytecode in the zip every cold start compiles every module again (about 3x the
    import time).  Hash-based .pyc files keep the zip reproducible."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != PYTHON_VERSION:
        print(
            f"note: building with Python {running}, not {PYTHON_VERSION}: no bytecode included "
            "(bytecode is per Python version). Lambda then compiles every module on each cold "
            f"start; build on Python {PYTHON_VERSION} to include it."
        )
        return False
    compileall.compile_dir(
        target,
        quiet=1,
        stripdir=str(target),
        prependdir=LAMBDA_TASK_ROOT,  # where Lambda unpacks the zip: paths in tracebacks
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return True


def build(output: Path) -> Path:
    read_lock()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "package"
        subprocess.run(  # noqa: S603 - our own interpreter running pip on our own arguments
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
             "--require-hashes", "--disable-pip-version-check", "--target", str(target),
             *pip_platform_args(ARCHITECTURE), "--requirement", str(LOCK)],
            check=True,
        )  # fmt: skip
        bundled = sorted(p.name.removesuffix(".dist-info") for p in target.glob("*.dist-info"))
        shutil.copytree(
            ROOT / "src" / PACKAGE, target / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
        )
        compile_bytecode(target)
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(target.rglob("*")):
                relative = path.relative_to(target)
                if path.is_dir():
                    continue
                info = zipfile.ZipInfo(relative.as_posix(), FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    size_mb = output.stat().st_size / 1e6
    shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    print(f"{shown}: {size_mb:.2f} MB; bundled: {', '.join(bundled)}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment package.")
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "lambda.zip")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--lock", action="store_true", help="re-resolve requirements.lock")
    action.add_argument(
        "--check-lock",
        action="store_true",
        help="fail if re-resolving would change requirements.lock",
    )
    args = parser.parse_args(argv)
    try:
        if args.lock:
            write_lock()
        elif args.check_lock:
            check_lock()
        else:
            build(args.output.resolve())
    except LockError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failure:
        print(
            f"error: pip exited with status {failure.returncode}: see its message above",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
