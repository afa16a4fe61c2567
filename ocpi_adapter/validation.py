"""The one check the hub applies to every OCPI body it accepts: ``validate(kind, body)``.

Validation only decides accept or reject; the hub relays the body byte for byte, so unknown
(vendor) fields are ignored. A rejection is an ``InvalidParameters`` (OCPI 2001) whose message
names the first failing field in the spec's field order, which is the models' field order.

PATCH bodies are checked by partial models derived from the full ones (STYLE.md rule 8):
every field optional, types of present fields unchanged, and ``last_updated`` required, as
mod_locations, mod_sessions and mod_tokens demand of "any request to the PATCH method".
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum, auto
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError, create_model
from pydantic_core import ErrorDetails

from ocpi_adapter.cdrs.models import CDR
from ocpi_adapter.chargingprofiles.models import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResponse,
    ChargingProfileResult,
    ClearProfileResult,
    SetChargingProfile,
)
from ocpi_adapter.commands.models import (
    CancelReservation,
    CommandResponse,
    CommandResult,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi_adapter.common_models import (
    ABSOLUTE_URL,
    OCPI_DATETIME_ERROR,
    OCPI_RULE_ERROR,
    PRINTABLE_ASCII,
    PRINTABLE_TEXT,
    OcpiModel,
)
from ocpi_adapter.credentials.models import TOKEN, Credentials
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.hubclientinfo.models import ClientInfo
from ocpi_adapter.locations.models import EVSE, Connector, Location
from ocpi_adapter.sessions.models import ChargingPreferences, Session
from ocpi_adapter.tariffs.models import Tariff
from ocpi_adapter.tokens.models import AuthorizationInfo, LocationReferences, Token

PATCH_REQUIRED: Final = frozenset({"last_updated"})


class ObjectKind(StrEnum):
    """What a body is meant to be; ``MODELS`` maps each kind to the model that checks it."""

    LOCATION = auto()
    EVSE = auto()
    CONNECTOR = auto()
    LOCATION_PATCH = auto()
    EVSE_PATCH = auto()
    CONNECTOR_PATCH = auto()
    TARIFF = auto()
    SESSION = auto()
    SESSION_PATCH = auto()
    CHARGING_PREFERENCES = auto()
    CDR = auto()
    TOKEN = auto()
    TOKEN_PATCH = auto()
    LOCATION_REFERENCES = auto()
    AUTHORIZATION_INFO = auto()
    START_SESSION = auto()
    STOP_SESSION = auto()
    RESERVE_NOW = auto()
    CANCEL_RESERVATION = auto()
    UNLOCK_CONNECTOR = auto()
    COMMAND_RESPONSE = auto()
    COMMAND_RESULT = auto()
    SET_CHARGING_PROFILE = auto()
    ACTIVE_CHARGING_PROFILE = auto()
    ACTIVE_CHARGING_PROFILE_RESULT = auto()
    CHARGING_PROFILE_RESULT = auto()
    CLEAR_PROFILE_RESULT = auto()
    CHARGING_PROFILE_RESPONSE = auto()
    CLIENT_INFO = auto()
    CREDENTIALS = auto()


def patch_model(model: type[OcpiModel]) -> type[OcpiModel]:
    """The PATCH counterpart of ``model``: same fields, types and order, all optional but
    ``last_updated``. An omitted field is not validated; a present one (null included) is
    checked against the full model's type, so ``"status": null`` is rejected."""
    fields: dict[str, Any] = {
        name: (info.rebuild_annotation(), ... if name in PATCH_REQUIRED else None)
        for name, info in model.model_fields.items()
    }
    return create_model(f"{model.__name__}Patch", __base__=OcpiModel, __module__=__name__, **fields)


MODELS: Final[Mapping[ObjectKind, type[OcpiModel]]] = MappingProxyType(
    {
        ObjectKind.LOCATION: Location,
        ObjectKind.EVSE: EVSE,
        ObjectKind.CONNECTOR: Connector,
        ObjectKind.LOCATION_PATCH: patch_model(Location),
        ObjectKind.EVSE_PATCH: patch_model(EVSE),
        ObjectKind.CONNECTOR_PATCH: patch_model(Connector),
        ObjectKind.TARIFF: Tariff,
        ObjectKind.SESSION: Session,
        ObjectKind.SESSION_PATCH: patch_model(Session),
        ObjectKind.CHARGING_PREFERENCES: ChargingPreferences,
        ObjectKind.CDR: CDR,
        ObjectKind.TOKEN: Token,
        ObjectKind.TOKEN_PATCH: patch_model(Token),
        ObjectKind.LOCATION_REFERENCES: LocationReferences,
        ObjectKind.AUTHORIZATION_INFO: AuthorizationInfo,
        ObjectKind.START_SESSION: StartSession,
        ObjectKind.STOP_SESSION: StopSession,
        ObjectKind.RESERVE_NOW: ReserveNow,
        ObjectKind.CANCEL_RESERVATION: CancelReservation,
        ObjectKind.UNLOCK_CONNECTOR: UnlockConnector,
        ObjectKind.COMMAND_RESPONSE: CommandResponse,
        ObjectKind.COMMAND_RESULT: CommandResult,
        ObjectKind.SET_CHARGING_PROFILE: SetChargingProfile,
        ObjectKind.ACTIVE_CHARGING_PROFILE: ActiveChargingProfile,
        ObjectKind.ACTIVE_CHARGING_PROFILE_RESULT: ActiveChargingProfileResult,
        ObjectKind.CHARGING_PROFILE_RESULT: ChargingProfileResult,
        ObjectKind.CLEAR_PROFILE_RESULT: ClearProfileResult,
        ObjectKind.CHARGING_PROFILE_RESPONSE: ChargingProfileResponse,
        ObjectKind.CLIENT_INFO: ClientInfo,
        ObjectKind.CREDENTIALS: Credentials,
    }
)


def validate(kind: ObjectKind, body: object) -> None:
    """Accepts ``body`` (parsed JSON) as an OCPI ``kind`` or raises ``InvalidParameters``."""
    if not isinstance(body, dict):
        raise InvalidParameters(f"body: expected a JSON object, got {_json_type(body)}")
    try:
        MODELS[kind].model_validate(body)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise InvalidParameters(describe(first)) from None


def describe(error: ErrorDetails) -> str:
    """One line: the failing field's path, then what is wrong with it."""
    location = error["loc"]
    context = error.get("ctx") or {}
    if error["type"] == OCPI_RULE_ERROR and context.get("field"):
        location = (*location, context["field"])
    return f"{_path(location) or 'body'}: {_problem(error)}"


def _path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for step in location:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else step)
    return "".join(parts)


_PATTERNS: Final[Mapping[str, str]] = {
    PRINTABLE_ASCII: "not printable ASCII",
    PRINTABLE_TEXT: "contains non-printable characters",
    ABSOLUTE_URL: "not an absolute URL",
    TOKEN: "not printable non-whitespace ASCII",
}

_EXPECTED: Final[Mapping[str, str]] = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "dict_type": "a JSON object",
    "list_type": "a JSON array",
}


def _problem(error: ErrorDetails) -> str:
    kind, value = error["type"], error.get("input")
    context = error.get("ctx") or {}
    if kind == "missing":
        return "required field missing"
    if value is None:
        return "must not be null"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_json_type(value)}"
    if kind == OCPI_DATETIME_ERROR:
        return f"not an OCPI DateTime: {_show(value)}"
    if kind == "enum":
        return f"not one of {context['expected']}: {_show(value)}"
    if kind == "string_too_long":
        return f"longer than {context['max_length']} characters: {_show(value)}"
    if kind == "string_pattern_mismatch":
        pattern = str(context["pattern"])
        return f"{_PATTERNS.get(pattern, f'does not match {pattern}')}: {_show(value)}"
    if kind == "too_short":
        return f"needs at least {context['min_length']} element(s)"
    if kind == "greater_than_equal":
        return f"must be at least {context['ge']}: {_show(value)}"
    if kind == "less_than_equal":
        return f"must be at most {context['le']}: {_show(value)}"
    if isinstance(value, dict | list):
        return error["msg"]
    return f"{error['msg']}: {_show(value)}"


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
