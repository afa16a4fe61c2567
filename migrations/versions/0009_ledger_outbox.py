"""ledger outbox: the CDR ledger's transactions owed to a BigchainDB node

When ``INCAR_BIGCHAINDB_URL`` is set, each ledger entry gets a row here in its own transaction;
the hub's outbox sender posts it to the node and marks it delivered (or refused, for a
transaction the node calls invalid). Unlike the ledger's own tables, rows here change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_outbox",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=9), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", incar.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["idx"], ["ledger_entry.idx"]),
        sa.PrimaryKeyConstraint("idx"),
    )
    op.create_index("ix_ledger_outbox_due", "ledger_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_outbox_due", table_name="ledger_outbox")
    op.drop_table("ledger_outbox")
