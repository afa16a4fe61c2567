"""Tables of what the hub owes: copies still to send, and receivers that missed some."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import Json, StrEnumColumn, UtcDateTime, utcnow


class Kind(StrEnum):
    COPY = "copy"  # a copy of a broadcast push
    CLIENT_INFO = "clientinfo"  # a ClientInfo push (a status change, a welcome)
    CUE = "cue"  # the OFFLINE ClientInfo that opens a resync cue
    CUE_END = "cue_end"  # the current ClientInfo that closes it: the receiver's signal to GET


class State(StrEnum):
    OWED = "owed"  # not attempted yet
    SENDING = "sending"  # claimed for an attempt whose outcome is not recorded yet
    RETRY = "retry"  # failed, to be attempted again (only with INCAR_OWED_RETRY_FOR > 0)


class OwedCopy(SQLModel, table=True):
    """One request the hub owes a receiver, exactly as it will go out (but the token, which is
    taken from the platform when it is sent: credentials may be renewed in between)."""

    __tablename__ = "hub_owed_copy"
    __table_args__ = (
        sa.Index("ix_hub_owed_copy_state_id", "state", "id"),
        # Whether an earlier copy of the lane is left (a claim across processes asks).
        sa.Index("ix_hub_owed_copy_lane", "receiver_platform_id", "object_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receiver_platform_id: int = Field(index=True)
    kind: Kind = Field(sa_type=StrEnumColumn(Kind), nullable=False)
    #: Copies of one object to one receiver go out one after the other, in id order.
    object_key: str = Field(max_length=200)
    #: The party whose data it carries: the one a failed copy makes the receiver resync from.
    owner_country_code: str = Field(max_length=2)
    owner_party_id: str = Field(max_length=3)
    method: str = Field(max_length=8)
    url: str
    headers: dict[str, Any] = Field(sa_type=Json)
    body: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    #: The carried object's own last_updated: a resync's date_from is never later than it.
    object_last_updated: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    state: State = Field(default=State.OWED, sa_type=StrEnumColumn(State), nullable=False)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    #: The member id (ocpi_adapter.membership) of the hub process that claimed it, where
    #: several share the database; NULL when unclaimed or claimed by an embedded hub.
    claimed_by: int | None = None


class ResyncMark(SQLModel, table=True):
    """A receiver that missed data of one owner since ``since``: it is cued to GET from then."""

    __tablename__ = "hub_resync_mark"
    __table_args__ = (
        sa.UniqueConstraint("receiver_platform_id", "owner_country_code", "owner_party_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receiver_platform_id: int = Field(index=True)
    owner_country_code: str = Field(max_length=2)
    owner_party_id: str = Field(max_length=3)
    #: The date_from that returns everything missed: the first failure, or the last_updated of
    #: a missed object if that is earlier (a party's clock is its own).
    since: datetime = Field(sa_type=UtcDateTime)
    first_failed_at: datetime = Field(sa_type=UtcDateTime)
    last_failed_at: datetime = Field(sa_type=UtcDateTime)
    failures: int = 1
    #: When the cue was queued; the mark ends when the cue is delivered and nothing failed since.
    cued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cues: int = 0
