"""Tables of the bookings context."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime, utcnow


class BookingState(StrEnum):
    REQUESTED = "REQUESTED"  # RESERVE_NOW sent; the EVSE is held while the CPO decides
    CONFIRMED = "CONFIRMED"  # the charge point accepted it (CommandResult ACCEPTED)
    CANCELLING = "CANCELLING"  # CANCEL_RESERVATION sent; still held until the CPO confirms
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"  # the CPO or its charge point refused it
    FAILED = "FAILED"  # no answer, or no result in time: not held, never a phantom
    EXPIRED = "EXPIRED"  # its time ran out unused
    USED = "USED"  # its driver started charging on it


HOLDING = (BookingState.REQUESTED, BookingState.CONFIRMED, BookingState.CANCELLING)
_HOLDING_SQL = "state IN ('REQUESTED', 'CONFIRMED', 'CANCELLING')"


class Booking(SQLModel, table=True):
    """A driver's reservation of one EVSE, made through the graph.

    At most one booking holds an EVSE at a time: a partial unique index over the holding
    states, so two drivers booking at once cannot both win, on either database.
    """

    __tablename__ = "booking"
    __table_args__ = (
        sa.Index(
            "uq_booking_holding",
            "cpo_country_code",
            "cpo_party_id",
            "location_key",
            "evse_key",
            unique=True,
            sqlite_where=sa.text(_HOLDING_SQL),
            postgresql_where=sa.text(_HOLDING_SQL),
        ),
        sa.Index("ix_booking_evse_time", "location_key", "evse_key", "expires_at"),
        sa.Index("ix_booking_driver", "emsp_country_code", "emsp_party_id", "token_uid"),
    )

    id: str = Field(primary_key=True, max_length=36)
    reservation_id: str = Field(max_length=36, unique=True)  # the OCPI reservation_id sent
    state: BookingState = Field(
        sa_type=sa.Enum(
            BookingState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [s.value for s in states],
        ),
        index=True,
    )
    # The driver: their eMSP and OCPI token (upper-cased uid), and who logged in.
    emsp_country_code: str = Field(max_length=2)
    emsp_party_id: str = Field(max_length=3)
    token_uid: str = Field(max_length=36)
    subject: str | None = Field(default=None, max_length=255)
    # The EVSE, by its CPO and ids (upper-cased keys; the ids as the CPO spells them).
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    location_key: str = Field(max_length=36)
    evse_key: str = Field(max_length=36)
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
    reserve_command_id: str | None = Field(default=None, max_length=36, index=True)
    cancel_command_id: str | None = Field(default=None, max_length=36, index=True)
    #: Until when the charge point's result of the last command is awaited; after it, the
    #: booking fails (REQUESTED) or stays as it was (CANCELLING goes back to CONFIRMED).
    result_due: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str | None = None  # why it was rejected, failed or cancelled
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    @property
    def holds(self) -> bool:
        return self.state in HOLDING
