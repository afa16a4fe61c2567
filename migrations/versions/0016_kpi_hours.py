"""kpi hours: the KPI consumer's rows, one number per CPO, hour and measure

The consumer (``subgraphs.kpis.consumer``) adds to them in the transaction that moves its
position in ``event_consumer``; a fresh table with no position starts from the oldest event the
log keeps, so the numbers begin with what retention left.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_hour",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("party_id", sa.String(length=3), nullable=False),
        sa.Column("hour", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("country_code", "party_id", "hour", "measure"),
    )


def downgrade() -> None:
    op.drop_table("kpi_hour")
