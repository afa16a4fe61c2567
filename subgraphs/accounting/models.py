"""Tables of the accounting context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import StrEnumColumn, UtcDateTime
from incar.documents import Document

MONEY = sa.Numeric(18, 6)
"""Amounts the hub calculates (rounded to the currency's minor unit, which 6 decimals hold)."""


class PriceCheckStatus(StrEnum):
    OK = "ok"
    """total_cost is the calculated price, within one minor unit of the currency."""
    MISMATCH = "mismatch"
    """total_cost differs from the calculated price by more than that."""
    UNPRICEABLE = "unpriceable"
    """The hub could not price the CDR (an unknown tariff, ...): ``reason`` says why."""


@dataclass(frozen=True)
class Amount:
    """An OCPI Price: ``incl_vat`` is None when unknown (not stated, or not calculable)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True)
class PriceCheck:
    """Whether a CDR's total_cost follows the tariffs it names (docs/pricing.md, "Checking a
    CDR's price"): information kept with the CDR, never a reason to refuse it."""

    status: PriceCheckStatus
    reason: str | None = None
    """Why unpriceable, or what differs in a mismatch; None when ok."""
    calculated: Amount | None = None
    """The hub's price of the CDR; None when unpriceable."""
    difference: Amount | None = None
    """The CDR's total_cost minus ``calculated``, on each side both state."""

    def columns(self) -> dict[str, Any]:
        """The values of the ``price_check*`` columns of ``Cdr``."""
        calculated, difference = self.calculated, self.difference
        return {
            "price_check": self.status,
            "price_check_reason": None if self.reason is None else self.reason[:REASON_LENGTH],
            "price_calculated_excl_vat": calculated and calculated.excl_vat,
            "price_calculated_incl_vat": calculated and calculated.incl_vat,
            "price_difference_excl_vat": difference and difference.excl_vat,
            "price_difference_incl_vat": difference and difference.incl_vat,
        }


REASON_LENGTH = 500


class Cdr(Document, table=True):
    """A CPO's CDR; ``emsp_*`` is the party of its ``cdr_token``. CDRs are never changed.

    The query columns below are derived from the document in the same write
    (``subgraphs.accounting.rows``): the search pages on (party, start_date_time, pk). The
    ``price_check*`` columns keep the hub's check of its price (``price_check``, from
    ``subgraphs.accounting.price_check``), written once with the CDR; all NULL for CDRs stored
    before migration 0010.
    """

    __tablename__ = "cdr"
    __table_args__ = (
        sa.UniqueConstraint("country_code", "party_id", "object_id"),
        sa.Index("ix_cdr_cpo_start", "country_code", "party_id", "start_date_time", "pk"),
        sa.Index(
            "ix_cdr_emsp_start", "emsp_country_code", "emsp_party_id", "start_date_time", "pk"
        ),
        sa.Index("ix_cdr_token", "emsp_country_code", "emsp_party_id", "token_uid"),
        sa.Index("ix_cdr_location", "country_code", "party_id", "location_id", "evse_uid"),
        sa.Index("ix_cdr_session", "country_code", "party_id", "session_id"),
        sa.Index("ix_cdr_start", "start_date_time", "pk"),
    )

    object_id: str = Field(max_length=39, index=True)  # a CDR id is a CiString(39)
    emsp_country_code: str | None = Field(default=None, max_length=2, index=True)
    emsp_party_id: str | None = Field(default=None, max_length=3, index=True)
    token_uid: str | None = Field(default=None, max_length=36)
    location_id: str | None = Field(default=None, max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    session_id: str | None = Field(default=None, max_length=36)
    start_date_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_date_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    currency: str | None = Field(default=None, max_length=3)
    total_energy: float | None = Field(default=None)  # kWh
    total_time: float | None = Field(default=None)  # hours
    total_parking_time: float | None = Field(default=None)  # hours
    cost_excl_vat: float | None = Field(default=None)
    cost_incl_vat: float | None = Field(default=None)

    price_check: PriceCheckStatus | None = Field(
        default=None, sa_type=StrEnumColumn(PriceCheckStatus), index=True
    )
    price_check_reason: str | None = Field(default=None, max_length=REASON_LENGTH)
    price_calculated_excl_vat: Decimal | None = Field(default=None, sa_type=MONEY)
    price_calculated_incl_vat: Decimal | None = Field(default=None, sa_type=MONEY)
    price_difference_excl_vat: Decimal | None = Field(default=None, sa_type=MONEY)
    price_difference_incl_vat: Decimal | None = Field(default=None, sa_type=MONEY)

    def checked_price(self) -> PriceCheck | None:
        """The stored check, amounts as calculated (trailing zeros of the column dropped)."""
        if self.price_check is None:
            return None

        def amount(excl: Decimal | None, incl: Decimal | None) -> Amount | None:
            if excl is None:
                return None
            return Amount(plain_amount(excl), None if incl is None else plain_amount(incl))

        return PriceCheck(
            status=self.price_check,
            reason=self.price_check_reason,
            calculated=amount(self.price_calculated_excl_vat, self.price_calculated_incl_vat),
            difference=amount(self.price_difference_excl_vat, self.price_difference_incl_vat),
        )


def plain_amount(value: Decimal) -> Decimal:
    # A float from SQLite's REAL, or 6 decimals from the column: back to the amount's digits.
    number = Decimal(str(value)).normalize()
    return number.quantize(Decimal(1)) if number == number.to_integral() else number


class CdrTariff(SQLModel, table=True):
    """A tariff a CDR names (``rows.tariff_ids``): the search's tariff filter."""

    __tablename__ = "cdr_tariff"

    cdr_pk: int = Field(foreign_key="cdr.pk", primary_key=True)
    tariff_id: str = Field(max_length=36, primary_key=True, index=True)
