"""The gRPC services of a stub provider (imported by provider.py once ``gen/`` is on the path)."""

from __future__ import annotations

import threading
from typing import Any

import go_plugin_pb2  # type: ignore[import-not-found]
import go_plugin_pb2_grpc  # type: ignore[import-not-found]
import grpc
import health_pb2  # type: ignore[import-not-found]
import health_pb2_grpc  # type: ignore[import-not-found]
import tfplugin6_pb2 as pb  # type: ignore[import-not-found]
import tfplugin6_pb2_grpc as pb_grpc  # type: ignore[import-not-found]

from . import cty, values
from .provider import Settings, log
from .schema import ProviderSchema, block_type, providers, to_proto

ERROR = pb.Diagnostic.Severity.Value("ERROR")


def add_services(
    server: grpc.Server, name: str, settings: Settings, stopped: threading.Event
) -> None:
    pb_grpc.add_ProviderServicer_to_server(Provider(providers()[name], settings), server)
    go_plugin_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stopped), server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)


class Controller(go_plugin_pb2_grpc.GRPCControllerServicer):  # type: ignore[misc]
    def __init__(self, stopped: threading.Event) -> None:
        self.stopped = stopped

    def Shutdown(self, request: Any, context: Any) -> Any:
        self.stopped.set()
        return go_plugin_pb2.Empty()


class Health(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def Check(self, request: Any, context: Any) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def diagnostic(summary: str, detail: str = "", path: values.Path | None = None) -> Any:
    message = pb.Diagnostic(severity=ERROR, summary=summary, detail=detail)
    for step in path or []:
        if isinstance(step, int):
            message.attribute.steps.add(element_key_int=step)
        elif isinstance(step, tuple):
            message.attribute.steps.add(element_key_string=step[1])
        else:
            message.attribute.steps.add(attribute_name=step)
    return message


def computed_only_diagnostics(block: dict[str, Any], config: Any) -> list[Any]:
    return [
        diagnostic(
            "Invalid Configuration for Read-Only Attribute",
            f"Cannot set value for this attribute as the provider has marked it as read-only "
            f"(computed only): {values.path_text(path)}. Remove the "
            "configuration line setting the value.",
            path,
        )
        for path in values.computed_only_set(block, config)
    ]


class Provider(pb_grpc.ProviderServicer):  # type: ignore[misc]
    def __init__(self, schema: ProviderSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.region = settings.region
        self._response: Any = None

    # ------------------------------------------------------------ helpers

    def block(self, kind: str, type_name: str) -> dict[str, Any]:
        block: dict[str, Any] = self.schema.kind(kind)[type_name]["block"]
        return block

    def decode(self, dynamic: Any, block: dict[str, Any]) -> Any:
        if dynamic.msgpack:
            return cty.unpack(dynamic.msgpack, block_type(block))
        if dynamic.json:
            import json

            return json.loads(dynamic.json)
        return None

    def encode(self, value: Any, block: dict[str, Any]) -> Any:
        return pb.DynamicValue(msgpack=cty.pack(value, block_type(block)))

    # ------------------------------------------------------------ schema

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        log(f"{self.schema.name} GetProviderSchema")
        if self._response is None:
            self._response = pb.GetProviderSchema.Response(
                provider=to_proto(pb, self.schema.provider),
                resource_schemas={
                    t: to_proto(pb, s) for t, s in self.schema.resource_schemas.items()
                },
                data_source_schemas={
                    t: to_proto(pb, s) for t, s in self.schema.data_source_schemas.items()
                },
                ephemeral_resource_schemas={
                    t: to_proto(pb, s) for t, s in self.schema.ephemeral_resource_schemas.items()
                },
                server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True),
            )
        return self._response

    def GetResourceIdentitySchemas(self, request: Any, context: Any) -> Any:
        return pb.GetResourceIdentitySchemas.Response()

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    # ------------------------------------------------------------ validation

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        config = self.decode(request.config, self.schema.provider["block"])
        return pb.ValidateProviderConfig.Response(
            diagnostics=computed_only_diagnostics(self.schema.provider["block"], config)
        )

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response(
            diagnostics=self._validate("resource_schemas", request)
        )

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response(
            diagnostics=self._validate("data_source_schemas", request)
        )

    def ValidateEphemeralResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateEphemeralResourceConfig.Response(
            diagnostics=self._validate("ephemeral_resource_schemas", request)
        )

    def _validate(self, kind: str, request: Any) -> list[Any]:
        log(f"{self.schema.name} validate {request.type_name}")
        block = self.block(kind, request.type_name)
        return computed_only_diagnostics(block, self.decode(request.config, block))

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        self.settings.refresh()
        config = self.decode(request.config, self.schema.provider["block"]) or {}
        region = config.get("region")
        self.region = region if isinstance(region, str) and region else self.settings.region
        return pb.ConfigureProvider.Response()

    # ------------------------------------------------------------ managed resources

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        log(f"{self.schema.name} plan {request.type_name}")
        block = self.block("resource_schemas", request.type_name)
        proposed = self.decode(request.proposed_new_state, block)
        return pb.PlanResourceChange.Response(
            planned_state=self.encode(values.plan(block, proposed), block)
        )

    def ReadResource(self, request: Any, context: Any) -> Any:
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        return pb.UpgradeResourceState.Response(
            upgraded_state=pb.DynamicValue(json=request.raw_state.json)
        )

    # ------------------------------------------------------------ data sources, ephemerals

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        block = self.block("data_source_schemas", request.type_name)
        state, diagnostics = self._read("data", request.type_name, block, request.config)
        if diagnostics:
            return pb.ReadDataSource.Response(diagnostics=diagnostics)
        return pb.ReadDataSource.Response(state=self.encode(state, block))

    def OpenEphemeralResource(self, request: Any, context: Any) -> Any:
        block = self.block("ephemeral_resource_schemas", request.type_name)
        state, diagnostics = self._read("ephemeral", request.type_name, block, request.config)
        if diagnostics:
            return pb.OpenEphemeralResource.Response(diagnostics=diagnostics)
        return pb.OpenEphemeralResource.Response(result=self.encode(state, block))

    def RenewEphemeralResource(self, request: Any, context: Any) -> Any:
        return pb.RenewEphemeralResource.Response()

    def CloseEphemeralResource(self, request: Any, context: Any) -> Any:
        return pb.CloseEphemeralResource.Response()

    def _read(
        self, kind: str, type_name: str, block: dict[str, Any], raw: Any
    ) -> tuple[Any, list[Any]]:
        log(f"{self.schema.name} read {kind}.{type_name}")
        self.settings.refresh()
        config = self.decode(raw, block)
        defaults = self.settings.defaults(self.schema.name, kind, type_name, block, self.region)
        try:
            state = values.read(
                type_name, block, config, defaults, self.settings.override(kind, type_name)
            )
            cty.pack(state, block_type(block))  # fails here, with a message, if it does not fit
        except values.ReadError as error:
            return None, [diagnostic(str(error), f"tfstub: the test made this {kind} read fail.")]
        except (KeyError, TypeError, ValueError) as error:
            return None, [diagnostic(f"tfstub: cannot answer {kind}.{type_name}", str(error))]
        return state, []

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()
