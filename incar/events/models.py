"""The tables of the durable event log: the events, how far retention has cut, and where each
durable consumer stands."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime

#: A 64-bit position on PostgreSQL; SQLite's rowid alias must be spelled INTEGER.
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class EventRecord(SQLModel, table=True):
    """One committed event. Its position is ``(txid, seq)``: see ``incar.events.log``."""

    __tablename__ = "event_log"
    # AUTOINCREMENT: SQLite never hands out a seq again, even once retention deleted the newest.
    __table_args__ = (
        sa.Index("ix_event_log_txid_seq", "txid", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: int | None = Field(
        default=None, sa_column=sa.Column(POSITION, primary_key=True, autoincrement=True)
    )
    #: The writing transaction's id on PostgreSQL (``pg_current_xact_id``), 0 on SQLite.
    txid: int = Field(sa_type=sa.BigInteger)
    topic: str = Field(max_length=100)
    occurred_at: datetime = Field(sa_type=UtcDateTime, index=True)
    #: The event as every bus hands it over (``Event.to_json``).
    body: str


class EventLogHorizon(SQLModel, table=True):
    """The newest position retention deleted: a cursor at or before it cannot be resumed."""

    __tablename__ = "event_log_horizon"

    id: int = Field(default=1, primary_key=True)
    txid: int = Field(sa_type=sa.BigInteger)
    seq: int = Field(sa_type=sa.BigInteger)


class ConsumerPosition(SQLModel, table=True):
    """Where a durable consumer (a KPI, a projection) stands: the last event it applied, written
    in the transaction that applied it."""

    __tablename__ = "event_consumer"

    name: str = Field(primary_key=True, max_length=100)
    txid: int = Field(sa_type=sa.BigInteger)
    seq: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(sa_type=UtcDateTime)
