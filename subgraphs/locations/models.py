"""Tables of the locations context."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime
from incar.documents import Document


class Location(Document, table=True):
    __tablename__ = "location"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id"),)


class Tariff(Document, table=True):
    __tablename__ = "tariff"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id"),)


# Query tables: derived from each Location document in the transaction that writes it
# (``subgraphs.locations.rows``), so that the graph searches indexed columns, never JSON.


class EvseRow(SQLModel, table=True):
    """One EVSE of a stored Location, with what a search filters and sorts on.

    Indexed by position only: every search is bounded by a box, and an index on a filter
    column (status, power) misled SQLite's planner into reading a large share of all rows
    (migration 0007)."""

    __tablename__ = "location_evse"
    __table_args__ = (
        sa.UniqueConstraint("location_pk", "evse_key"),
        sa.Index("ix_location_evse_position", "latitude", "longitude"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    location_pk: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("location.pk", ondelete="CASCADE"), nullable=False
        )
    )
    # The owner (the CPO operating it) and the ids, upper-cased like document keys.
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)
    evse_key: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)  # as the CPO spells it
    evse_id: str | None = Field(default=None, max_length=48)
    latitude: float
    longitude: float
    status: str = Field(max_length=16)
    reservable: bool = False
    capabilities: str = ""  # "|RESERVABLE|REMOTE_START_STOP_CAPABLE|": a LIKE finds one
    max_power_kw: float = 0.0
    last_updated: datetime = Field(sa_type=UtcDateTime)
    # Of the Location, kept on each of its EVSEs: they change in the same document write.
    published: bool = True
    operator_name: str | None = Field(default=None, max_length=255)
    renewable_percent: float | None = None
    always_open: bool = False
    time_zone: str | None = Field(default=None, max_length=255)


class ConnectorRow(SQLModel, table=True):
    """One Connector of an EVSE row."""

    __tablename__ = "location_connector"
    __table_args__ = (
        sa.UniqueConstraint("evse_pk", "connector_key"),
        sa.Index("ix_location_connector_kind", "standard", "format", "max_power_kw"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    evse_pk: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("location_evse.pk", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    connector_key: str = Field(max_length=36)
    connector_id: str = Field(max_length=36)
    standard: str = Field(max_length=32)
    format: str = Field(max_length=8)
    power_type: str = Field(max_length=16)
    max_power_kw: float = 0.0
    tariff_ids: str = ""  # "|T1|T2|", upper-cased
