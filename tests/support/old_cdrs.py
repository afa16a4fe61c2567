"""A CDR's document as an older hub stored it: only the columns the ``cdr`` table has had
since its first revision, nothing derived (no ledger entry, query columns or price check), so
a test at any earlier revision can store one and watch a migration fill the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import UtcDateTime

_INSERT = text(
    "INSERT INTO cdr (country_code, party_id, object_id, last_updated, data, "
    "emsp_country_code, emsp_party_id) "
    "VALUES (:country_code, :party_id, :object_id, :stamp, :data, :emsp_cc, :emsp_pid)"
).bindparams(bindparam("stamp", type_=UtcDateTime()), bindparam("data", type_=sa.JSON()))


async def store_old_cdr(
    tx: AsyncSession,
    key: tuple[str, str, str],
    *,
    last_updated: datetime,
    data: dict[str, Any],
    emsp: tuple[str, str] | None = None,
) -> None:
    """Stores ``data`` under ``key`` (country code, party id, CDR id, as stored: upper case)."""
    country_code, party_id, object_id = key
    await tx.execute(
        _INSERT,
        {
            "country_code": country_code,
            "party_id": party_id,
            "object_id": object_id,
            "stamp": last_updated,
            "data": data,
            "emsp_cc": emsp[0] if emsp else None,
            "emsp_pid": emsp[1] if emsp else None,
        },
    )
