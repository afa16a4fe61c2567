"""OCPI 2.2.1 vocabulary shared by every module. Imports nothing of the project."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """types.asciidoc, Role enum."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class InterfaceRole(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"

    @property
    def path(self) -> str:
        return self.value.lower()


class ModuleID(StrEnum):
    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"


OCPI_VERSION = VersionNumber.V2_2_1

FUNCTIONAL_MODULES: tuple[ModuleID, ...] = (
    ModuleID.LOCATIONS,
    ModuleID.SESSIONS,
    ModuleID.CDRS,
    ModuleID.TARIFFS,
    ModuleID.TOKENS,
    ModuleID.COMMANDS,
    ModuleID.CHARGING_PROFILES,
)
