"""The graph's view of OCPI credentials: a back-office querying the graph with the token the
hub gave it is the party (or parties) of its platform, while that platform is connected."""

from __future__ import annotations

from ocpi_adapter.context import Hub
from ocpi_adapter.platforms.service import TokenKind
from ocpi_adapter.types import ConnectionStatus
from subgraphs.common.auth import PartyTokens


def party_tokens(hub: Hub) -> PartyTokens:
    async def parties(authorization: str) -> list[tuple[str, str, str]] | None:
        caller = await hub.callers.lookup(authorization)
        if (
            caller is None
            or caller.kind is not TokenKind.CREDENTIALS
            or caller.platform.status is not ConnectionStatus.CONNECTED
            or caller.platform.id is None
        ):
            return None
        return [
            (p.country_code, p.party_id, p.role.value)
            for p in await hub.callers.parties_of(caller.platform.id)
        ]

    return parties
