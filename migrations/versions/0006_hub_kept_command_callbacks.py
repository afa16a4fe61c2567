"""hub-kept command callbacks: commands the hub sends itself, for the graph

A command the graph sends (``ocpi_adapter.commands.outbound``) goes to the CPO on behalf of a
driver's eMSP, but its result is for the graph: the hub URL is marked ``kept_by_hub``, so the
CPO's CommandResult is stored and answered by the hub, never forwarded. ``command.delivery``
says what became of sending such a command (answered, no_answer), so a row never reads as
waiting for an answer that will not come. Existing callbacks are the pipeline's (not kept),
existing commands were relayed (no delivery).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:17:17.024738
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))

    # sa.false(), not the text '0' autogenerate writes for SQLite: PostgreSQL wants a boolean.
    with op.batch_alter_table("hub_callback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kept_by_hub", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_callback", schema=None) as batch_op:
        batch_op.drop_column("kept_by_hub")

    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_column("delivery")
