"""OpenAPI 3.1 documents of the hub's functional module interfaces, built from the hub itself.

There is no official OpenAPI description of OCPI 2.2.1 (the EVRoaming Foundation publishes
AsciiDoc only), and none of the community ones is published on PyPI or npm, the only registries
the project's machines reach. So check 60 fuzzes against a description derived from what the
hub declares: each module's ``ModuleRoutes`` gives the paths, methods and body kinds, and the
pydantic models of ``ocpi_adapter/*/models.py`` (through ``validation.MODELS``) give the body
schemas. One document per module, whose server is the hub's module URL
(``.../ocpi/2.2.1/{module}``), paths ``/sender/...`` and ``/receiver/...`` below it.

The OCPI headers are parameters: OCPI-from is the fuzzing platform's own party (anything else is
refused before routing, check 19), OCPI-to one of a few parties (a connected peer, the hub for
broadcast and GET All, an unknown one); client-owned URLs name the sender (check 25). The
Authorization header is added by the caller.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import core_schema

from ocpi_adapter.common_models import _parse_datetime
from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.tokens.models import TokenType
from ocpi_adapter.validation import MODELS

Party = tuple[str, str]

# types.asciidoc DateTime, narrowed to dates that exist so that generated values are real ones.
DATETIME: Final = {
    "type": "string",
    "maxLength": 25,
    "pattern": (
        r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:"
        r"[0-5][0-9](\.[0-9]{1,3})?Z?$"
    ),
}
URL: Final = {"type": "string", "maxLength": 255, "pattern": r"^https?://[\x21-\x7e]+$"}
# An id segment of a URL: CiString(36), printable ASCII (schemathesis percent-encodes it).
SEGMENT: Final = {"type": "string", "minLength": 1, "maxLength": 36, "pattern": r"^[\x21-\x7e]+$"}
TRACE_ID: Final = {"type": "string", "maxLength": 36, "pattern": r"^[\x21-\x7e]*$"}
ENVELOPE: Final = {
    "type": "object",
    "required": ["status_code", "timestamp"],
    "properties": {
        "status_code": {"type": "integer"},
        "status_message": {"type": "string"},
        "timestamp": {"type": "string"},
        "data": {},
    },
}


class _OcpiJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, with the models' DateTime (a plain validator) as a string."""

    def function_plain_schema(
        self, schema: core_schema.PlainValidatorFunctionSchema
    ) -> JsonSchemaValue:
        if schema["function"]["function"] is _parse_datetime:
            return dict(DATETIME)
        return super().function_plain_schema(schema)


def body_schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The $ref of each body model by model name, and the shared components/schemas."""
    models = sorted(set(MODELS.values()), key=lambda m: m.__name__)
    mode: JsonSchemaMode = "validation"
    refs, top = models_json_schema(
        [(model, mode) for model in models],
        ref_template="#/components/schemas/{model}",
        schema_generator=_OcpiJsonSchema,
    )
    by_name = {model.__name__: dict(refs[(model, mode)]) for model in models}
    return by_name, dict(top.get("$defs", {}))


def _header(name: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema}


def _query(name: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _parameters(
    routes: ModuleRoutes, operation: Operation, sender: Party, receivers: list[Party]
) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for segment in operation.segments:
        if not segment.startswith("{"):
            continue
        name = segment[1:-1]
        schema: dict[str, Any]
        if name == "country_code":
            schema = {"type": "string", "enum": [sender[0]]}
        elif name == "party_id":
            schema = {"type": "string", "enum": [sender[1]]}
        else:
            schema = dict(SEGMENT)
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    parameters += [
        _header("OCPI-from-country-code", {"type": "string", "enum": [sender[0]]}, required=True),
        _header("OCPI-from-party-id", {"type": "string", "enum": [sender[1]]}, required=True),
        _header(
            "OCPI-to-country-code",
            {"type": "string", "enum": sorted({cc for cc, _ in receivers})},
            required=False,
        ),
        _header(
            "OCPI-to-party-id",
            {"type": "string", "enum": sorted({pid for _, pid in receivers})},
            required=False,
        ),
        _header("X-Request-ID", TRACE_ID, required=False),
        _header("X-Correlation-ID", TRACE_ID, required=False),
    ]
    if operation.get_all is not None:
        parameters += [
            _query("date_from", DATETIME),
            _query("date_to", DATETIME),
            _query("offset", {"type": "integer", "minimum": 0}),
            _query("limit", {"type": "integer", "minimum": 0}),
        ]
    if routes.module == "tokens" and "{token_uid}" in operation.segments:
        tokens = [t.value for t in TokenType]
        parameters.append(_query("type", {"type": "string", "enum": tokens}))
    if operation.response_url == "query":
        parameters.append(_query("response_url", URL, required=True))
        if operation.method == "GET":
            parameters.append(_query("duration", {"type": "integer"}, required=True))
    return parameters


def module_document(
    routes: ModuleRoutes, *, base_url: str, sender: Party, receivers: list[Party]
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one module's hub interfaces (server: the module URL)."""
    refs, components = body_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for operation in routes.operations:
        path = f"/{operation.interface.path}" + "".join(f"/{s}" for s in operation.segments)
        spec: dict[str, Any] = {
            "operationId": f"{routes.module}_{operation.interface.path}_{operation.method}_"
            + "_".join(s.strip("{}") for s in operation.segments),
            "parameters": _parameters(routes, operation, sender, receivers),
            "responses": {
                "default": {
                    "description": "an OCPI response envelope",
                    "content": {"application/json": {"schema": ENVELOPE}},
                }
            },
        }
        if operation.body is not None:
            model = MODELS[operation.body]
            spec["requestBody"] = {
                "required": not operation.body_optional,
                "content": {"application/json": {"schema": refs[model.__name__]}},
            }
        paths.setdefault(path, {})[operation.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": f"INCAR hub: OCPI 2.2.1 {routes.module}", "version": "2.2.1"},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": components},
    }


def cap_arrays(node: Any, max_items: int) -> None:
    """Bounds every array of a document in place: a generation budget, not an OCPI rule (the
    spec sets no maximum), so that fuzzing large objects (CDRs, Locations) stays quick."""
    if isinstance(node, dict):
        if node.get("type") == "array":
            node.setdefault("maxItems", max_items)
        for value in node.values():
            cap_arrays(value, max_items)
    elif isinstance(node, list):
        for value in node:
            cap_arrays(value, max_items)
