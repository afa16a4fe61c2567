"""The hub URLs handed out in place of a peer's own: response_url, CDR Location.

Kept in the database, so a callback still finds its way after a restart of the hub.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime, utcnow


class Callback(SQLModel, table=True):
    __tablename__ = "hub_callback"

    id: str = Field(primary_key=True, max_length=36)
    module: str = Field(max_length=24)
    # Who may call the hub URL (the CPO answering a command, the CPO that posted a CDR) ...
    caller_platform_id: int = Field(foreign_key="hub_platform.id", index=True)
    caller_country_code: str = Field(max_length=2)
    caller_party_id: str = Field(max_length=3)
    # ... and where the call goes: the peer URL it stands for, on behalf of whom.
    target_platform_id: int = Field(foreign_key="hub_platform.id")
    target_country_code: str = Field(max_length=2)
    target_party_id: str = Field(max_length=3)
    target_url: str  # "" when the hub keeps what comes through it (kept_by_hub)
    correlation_id: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    last_body_digest: str | None = Field(default=None, max_length=64)
    # A command the hub sent itself (for the graph): its result is stored and answered by the
    # hub, never forwarded; the target party is the eMSP on whose behalf it was sent.
    kept_by_hub: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
