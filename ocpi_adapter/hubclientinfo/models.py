"""mod_hub_client_info.asciidoc: the ClientInfo object and the ConnectionStatus enum."""

from __future__ import annotations

from typing import Annotated

from ocpi_adapter.common_models import CiString, DateTime, OcpiModel
from ocpi_adapter.types import ConnectionStatus, Role

__all__ = ["ClientInfo", "ConnectionStatus"]


class ClientInfo(OcpiModel):
    party_id: Annotated[str, CiString(3)]
    country_code: Annotated[str, CiString(2)]
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
