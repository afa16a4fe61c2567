"""stamps far in the future no longer block updates

Before INCAR_MAX_CLOCK_SKEW, the hub accepted any last_updated: an object stamped 9999-12-31
made every real update of it stale. Such stamps (more than a year ahead of the migration's
clock, which no working clock produces) are set to the epoch, in the column that decides
staleness and in the stored document, at any depth (an EVSE's or Connector's own stamp decides
its updates). The rest of each document's text is kept byte for byte.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:40:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("location", "tariff", "charging_session", "token", "cdr")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_TEXT = "1970-01-01T00:00:00Z"
STAMP = re.compile(r'("last_updated"\s*:\s*")([^"\\]*)(")')
# An OCPI DateTime without its optional parts, as far as the comparison needs it.
MOMENT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")


def _moment(text: str) -> datetime | None:
    match = MOMENT.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def upgrade() -> None:
    bind = op.get_bind()
    limit = datetime.now(UTC) + timedelta(days=366)
    cast = "CAST(:data AS JSON)" if bind.dialect.name == "postgresql" else ":data"
    for table in TABLES:
        rows = bind.execute(sa.text(f"SELECT pk, CAST(data AS TEXT) FROM {table}")).all()
        for pk, text in rows:

            def void(match: re.Match[str]) -> str:
                moment = _moment(match.group(2))
                if moment is None or moment <= limit:
                    return match.group(0)
                return match.group(1) + EPOCH_TEXT + match.group(3)

            repaired = STAMP.sub(void, text)
            if repaired == text:
                continue
            statement = sa.text(
                f"UPDATE {table} SET data = {cast}, last_updated = :epoch WHERE pk = :pk"
            ).bindparams(sa.bindparam("epoch", type_=sa.DateTime(timezone=True)))
            bind.execute(statement, {"data": repaired, "epoch": EPOCH, "pk": pk})


def downgrade() -> None:
    # The void stamps were not the owners' (no clock makes them); nothing to restore.
    pass
