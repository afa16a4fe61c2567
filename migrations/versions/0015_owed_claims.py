"""owed claims: which hub process attempts an owed copy, and the lane order index

Several hub processes may share one PostgreSQL database (``incar serve --workers N``, several
machines). A copy is claimed by one of them (``claimed_by``, its member id, see
``ocpi_adapter.membership``) only while no earlier copy of the same receiver and object is left,
which the new index answers; a copy left ``sending`` by a member that died is recovered by the
others. Existing rows are unclaimed (NULL), as an embedded hub leaves them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_owed_copy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_hub_owed_copy_lane", ["receiver_platform_id", "object_key", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_owed_copy", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_owed_copy_lane")
        batch_op.drop_column("claimed_by")
