"""mod_commands.asciidoc: the command objects, their responses and results."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import model_validator

from ocpi_adapter.common_models import (
    URL,
    CiString,
    DateTime,
    DisplayText,
    Integer,
    OcpiModel,
    rule_error,
)
from ocpi_adapter.tokens.models import Token


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandType(StrEnum):
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: Annotated[str, CiString(36)]


class CommandResponse(OcpiModel):
    result: CommandResponseType
    timeout: Integer
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    result: CommandResultType
    message: list[DisplayText] | None = None


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: Annotated[str, CiString(36)]
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)] | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)] | None = None
    connector_id: Annotated[str, CiString(36)] | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None

    @model_validator(mode="after")
    def _connector_within_an_evse(self) -> Self:
        if self.connector_id is not None and self.evse_uid is None:
            raise rule_error("required when connector_id is set", "evse_uid")
        return self


class StopSession(OcpiModel):
    response_url: URL
    session_id: Annotated[str, CiString(36)]


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)]
    connector_id: Annotated[str, CiString(36)]
