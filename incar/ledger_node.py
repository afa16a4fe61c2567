"""Whether the CDR ledger is mirrored to a BigchainDB node (``INCAR_BIGCHAINDB_URL``): then the
ledger writes an outbox row beside each entry, in the entry's transaction; otherwise none (the
ledger is embedded). Attached to every tx of the process, as the hub key is."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_ATTACHED = "incar.ledger_node"


def attach_node(sessions: async_sessionmaker[AsyncSession], url: str) -> None:
    info: dict[Any, Any] = dict(sessions.kw.get("info") or {})
    info[_ATTACHED] = url
    sessions.configure(info=info)


def node_of(tx: AsyncSession) -> str:
    """The node's URL, or "" when the ledger is embedded."""
    url: str = tx.info.get(_ATTACHED, "")
    return url
