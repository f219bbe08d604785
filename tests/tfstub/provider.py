"""A schema-only Terraform provider: the plugin process Terraform starts.

    python -m tfstub.provider NAME HOME [--serve]

NAME is aws, mongodbatlas or random; HOME is the harness's scratch directory, which
holds the generated gRPC code (``gen/``) and the server certificate (``certs/``).
With ``--serve`` the harness starts it once per test session and Terraform reattaches
to it (see main); without, Terraform starts it for each use, as for a real provider.

It speaks what Terraform's plugin host (hashicorp/go-plugin) expects: the magic cookie
in the environment, a gRPC server on a Unix socket with mutual TLS against the client
certificate Terraform passes in ``PLUGIN_CLIENT_CERT`` (see main), and one handshake line on
stdout, ``1|6|unix|<socket>|grpc|<server certificate, base64 DER>``. It serves the
provider protocol 6 from the vendored schemas (see values.py for what each answer
holds) and exits as soon as the GRPCController's Shutdown arrives, so Terraform does
not wait the two seconds it gives a plugin before killing it.

``TFSTUB_DATA`` names a JSON file with the run's settings: ``region`` and ``overrides``
(data source type, or ``ephemeral.<type>``, to attribute values, ``__error__`` or
``__null__``). ``TFSTUB_LOG`` names a file to append a line per call to.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PLACEHOLDERS = Path(__file__).resolve().parent / "placeholders.json"
ACCOUNT_ID = "123456789012"


def region_variables(region: str) -> dict[str, str]:
    other = "eu-west-1" if region == "us-east-1" else "us-east-1"
    return {
        "region": region,
        "atlas_region": region.upper().replace("-", "_"),
        "other_region": other,
        "other_atlas_region": other.upper().replace("-", "_"),
        "account_id": ACCOUNT_ID,
    }


class Settings:
    """The run's region and overrides, and the placeholders.

    A provider Terraform starts reads the file ``TFSTUB_DATA`` names; a provider served
    for reattaching outlives runs and reads ``HOME/settings.json`` again for every call
    (the harness rewrites it before each Terraform command).
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.placeholders = json.loads(PLACEHOLDERS.read_text(encoding="utf-8"))
        self.region = "us-east-1"
        self.overrides: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> None:
        if self.path is None or not self.path.exists():
            return
        run = json.loads(self.path.read_text(encoding="utf-8"))
        self.region = run.get("region") or "us-east-1"
        self.overrides = run.get("overrides") or {}

    def defaults(
        self, provider: str, kind: str, type_name: str, block: dict[str, Any], region: str
    ) -> dict[str, Any]:
        from . import values

        attributes = block.get("attributes", {})
        common = {
            name: value
            for name, value in self.placeholders["all"].get(provider, {}).items()
            if attributes.get(name, {}).get("computed")
        }
        specific = self.placeholders[kind].get(type_name, {})
        merged = values.substitute({**common, **specific}, region_variables(region))
        return merged  # type: ignore[no-any-return]

    def override(self, kind: str, type_name: str) -> dict[str, Any] | None:
        key = type_name if kind == "data" else f"{kind}.{type_name}"
        found = self.overrides.get(key)
        return dict(found) if found is not None else None


def log(message: str) -> None:
    path = os.environ.get("TFSTUB_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(f"{os.getpid()} {message}\n")


def main(argv: list[str]) -> int:
    name, home = argv[1], Path(argv[2])
    serve = argv[3:] == ["--serve"]
    if not serve and os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print("This is a Terraform provider plugin (tfstub); Terraform starts it.", file=sys.stderr)
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "6").split(",")
    if "6" not in versions:
        print(f"tfstub speaks protocol 6 only; Terraform offers {versions}", file=sys.stderr)
        return 1
    sys.path.insert(0, str(home / "gen"))
    import grpc

    from .servicer import add_services

    stopped = threading.Event()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[
            ("grpc.max_receive_message_length", 256 << 20),
            ("grpc.max_send_message_length", 256 << 20),
        ],
    )
    if serve:
        # Served for reattaching (TF_REATTACH_PROVIDERS), the process outlives every
        # Terraform run: it ignores the controller's Shutdown and ends when the harness
        # closes its standard input, or dies.
        settings = Settings(str(home / "settings.json"))
        add_services(server, name, settings, threading.Event())

        def stop_at_end_of_input() -> None:
            sys.stdin.read()
            stopped.set()

        threading.Thread(target=stop_at_end_of_input, daemon=True).start()
    else:
        add_services(server, name, Settings(os.environ.get("TFSTUB_DATA")), stopped)
    socket_dir = tempfile.mkdtemp(prefix="tfstub-")
    address = os.path.join(socket_dir, "plugin.sock")
    client_cert = "" if serve else os.environ.get("PLUGIN_CLIENT_CERT", "")
    if client_cert:
        certs = home / "certs"
        # TLS with the certificate Terraform pins from the handshake line. The client's own
        # certificate (go-plugin makes a P-521 one) is not asked for: gRPC's BoringSSL does
        # not offer P-521 signatures, so Go would send none and the handshake would fail.
        # The socket sits in a directory only this user can open.
        credentials = grpc.ssl_server_credentials(
            [((certs / "server.key").read_bytes(), (certs / "server.pem").read_bytes())]
        )
        server.add_secure_port(f"unix:{address}", credentials)
        server_cert = (certs / "server.der.b64").read_text(encoding="ascii").strip()
    else:
        server.add_insecure_port(f"unix:{address}")
        server_cert = ""
    server.start()
    log(f"{name} serving on {address}")
    print(f"1|6|unix|{address}|grpc|{server_cert}", flush=True)

    parent = os.getppid()
    while not stopped.wait(0.5):
        if os.getppid() != parent:  # Terraform died without shutting us down
            break
    server.stop(grace=0.2).wait(1)
    try:
        os.unlink(address)
        os.rmdir(socket_dir)
    except OSError:
        pass
    log(f"{name} stopped")
    sys.stdout.flush()
    # Skip interpreter teardown (gRPC's threads make it slow): Terraform waits for exit.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
