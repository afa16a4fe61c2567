"""cdr price check: the hub's price of each CDR beside the total_cost its CPO stated

Nullable columns on ``cdr`` (``models.Cdr``): ``price_check`` (ok, mismatch, unpriceable),
its reason, the calculated Price and the difference (the CDR's minus the hub's). CDRs stored
before this revision keep them NULL: they were not checked.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNTS = (
    "price_calculated_excl_vat",
    "price_calculated_incl_vat",
    "price_difference_excl_vat",
    "price_difference_incl_vat",
)


def upgrade() -> None:
    with op.batch_alter_table("cdr", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_check", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("price_check_reason", sa.String(length=500), nullable=True))
        for name in AMOUNTS:
            batch_op.add_column(sa.Column(name, sa.Numeric(18, 6), nullable=True))
        batch_op.create_index(batch_op.f("ix_cdr_price_check"), ["price_check"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cdr", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cdr_price_check"))
        for name in reversed(AMOUNTS):
            batch_op.drop_column(name)
        batch_op.drop_column("price_check_reason")
        batch_op.drop_column("price_check")
