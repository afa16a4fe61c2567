"""The KPI rows: one number per CPO, hour and measure, added to by the KPI consumer in the
transaction that moves its position (``subgraphs.kpis.consumer``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime


class KpiHour(SQLModel, table=True):
    """One measure of one CPO in one hour (UTC, the hour the event was committed in).

    ``measure`` is ``sessions_started``, ``cdrs``, ``energy_kwh`` or ``evse_status:<STATUS>``
    (one per OCPI EVSE status): one table and one upsert for every kind of number.
    """

    __tablename__ = "kpi_hour"

    country_code: str = Field(primary_key=True, max_length=2)
    party_id: str = Field(primary_key=True, max_length=3)
    hour: datetime = Field(sa_column=sa.Column(UtcDateTime, primary_key=True))
    measure: str = Field(primary_key=True, max_length=40)
    value: float
