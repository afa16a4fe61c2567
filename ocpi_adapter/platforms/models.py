"""Tables of the hub's platform registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import Json, StrEnumColumn, UtcDateTime, utcnow
from ocpi_adapter.types import ConnectionStatus, Role


class Platform(SQLModel, table=True):
    """One OCPI connection: a peer platform with one or more roles.

    Tokens the hub issues (A, and C or the hub's B) are kept as digests; the token the hub uses
    towards the platform (its B or C) is kept as is, since the hub has to send it.
    """

    __tablename__ = "hub_platform"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    status: ConnectionStatus = Field(
        default=ConnectionStatus.PLANNED, sa_type=StrEnumColumn(ConnectionStatus), nullable=False
    )
    token_a_digest: str | None = Field(default=None, unique=True, index=True)
    token_c_digest: str | None = Field(default=None, unique=True, index=True)
    outgoing_token: str | None = None
    legacy_raw_token: bool = False
    versions_url: str | None = None
    version: str | None = None
    endpoints: list[dict[str, Any]] = Field(default_factory=list, sa_type=Json)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    registered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Party(SQLModel, table=True):
    """A CredentialsRole of a platform, which is also the hub's ClientInfo object for it."""

    __tablename__ = "hub_party"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="hub_platform.id", index=True)
    country_code: str = Field(max_length=2, index=True)
    party_id: str = Field(max_length=3, index=True)
    role: Role = Field(sa_type=StrEnumColumn(Role), nullable=False)
    business_details: dict[str, Any] | None = Field(default=None, sa_type=Json)
    status: ConnectionStatus = Field(
        default=ConnectionStatus.PLANNED, sa_type=StrEnumColumn(ConnectionStatus), nullable=False
    )
    last_updated: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
