"""owed copies and resync marks: what the hub owes its parties, and who missed some

``hub_owed_copy`` holds each broadcast copy and ClientInfo push from the transaction of the
change it carries until it is sent; ``hub_resync_mark`` a receiver that missed data of an owner
since a moment, until it has been cued to GET it (ocpi_adapter/owed). Both start empty.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02 12:49:34.561917
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_owed_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receiver_platform_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("owner_country_code", sa.String(length=2), nullable=False),
        sa.Column("owner_party_id", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("object_last_updated", incar.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", incar.columns.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hub_owed_copy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_owed_copy_receiver_platform_id"),
            ["receiver_platform_id"],
            unique=False,
        )
        batch_op.create_index("ix_hub_owed_copy_state_id", ["state", "id"], unique=False)

    op.create_table(
        "hub_resync_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receiver_platform_id", sa.Integer(), nullable=False),
        sa.Column("owner_country_code", sa.String(length=2), nullable=False),
        sa.Column("owner_party_id", sa.String(length=3), nullable=False),
        sa.Column("since", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_failed_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("cued_at", incar.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cues", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receiver_platform_id", "owner_country_code", "owner_party_id"),
    )
    with op.batch_alter_table("hub_resync_mark", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_resync_mark_receiver_platform_id"),
            ["receiver_platform_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_resync_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_resync_mark_receiver_platform_id"))

    op.drop_table("hub_resync_mark")
    with op.batch_alter_table("hub_owed_copy", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_owed_copy_state_id")
        batch_op.drop_index(batch_op.f("ix_hub_owed_copy_receiver_platform_id"))

    op.drop_table("hub_owed_copy")
