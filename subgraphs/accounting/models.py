"""Tables of the accounting context."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime
from incar.documents import Document


class Cdr(Document, table=True):
    """A CPO's CDR; ``emsp_*`` is the party of its ``cdr_token``. CDRs are never changed.

    The query columns below are derived from the document in the same write
    (``subgraphs.accounting.rows``): the search pages on (party, start_date_time, pk)."""

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


class CdrTariff(SQLModel, table=True):
    """A tariff a CDR names (``rows.tariff_ids``): the search's tariff filter."""

    __tablename__ = "cdr_tariff"

    cdr_pk: int = Field(foreign_key="cdr.pk", primary_key=True)
    tariff_id: str = Field(max_length=36, primary_key=True, index=True)
