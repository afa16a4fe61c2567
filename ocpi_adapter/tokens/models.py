"""mod_tokens.asciidoc: the Token and AuthorizationInfo objects and their data types."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from ocpi_adapter.common_models import (
    Boolean,
    CiString,
    DateTime,
    DisplayText,
    LanguageCode,
    OcpiModel,
    ProfileType,
    String,
    TokenType,
)

__all__ = [
    "AllowedType",
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "Token",
    "TokenType",
    "WhitelistType",
]


class AllowedType(StrEnum):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class WhitelistType(StrEnum):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class EnergyContract(OcpiModel):
    supplier_name: Annotated[str, String(64)]
    contract_id: Annotated[str, String(64)] | None = None


class LocationReferences(OcpiModel):
    location_id: Annotated[str, CiString(36)]
    evse_uids: list[Annotated[str, CiString(36)]] | None = None


class Token(OcpiModel):
    country_code: Annotated[str, CiString(2)]
    party_id: Annotated[str, CiString(3)]
    uid: Annotated[str, CiString(36)]
    type: TokenType
    contract_id: Annotated[str, CiString(36)]
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)]
    group_id: Annotated[str, CiString(36)] | None = None
    valid: Boolean
    whitelist: WhitelistType
    language: LanguageCode | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None
    info: DisplayText | None = None
