"""event log: every event durable, with a position consumers resume from

``event_log`` holds each event from the transaction of its change (incar.events.log), with a
trigger on PostgreSQL that sends the empty NOTIFY waking the other processes' readers;
``event_log_horizon`` the newest position retention deleted (one row, from (0, 0));
``event_consumer`` where each durable consumer stands. All start empty: events published
before this revision were not kept.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# One notification per inserting statement, sent by PostgreSQL at commit (and, being equal,
# folded into one per transaction); the channel is incar.events.postgres.CHANNEL.
NOTIFY_FUNCTION = """
CREATE FUNCTION incar_event_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('incar_events', '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER event_log_notify AFTER INSERT ON event_log
FOR EACH STATEMENT EXECUTE FUNCTION incar_event_log_notify()
"""


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("seq", POSITION, autoincrement=True, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index("ix_event_log_txid_seq", ["txid", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_log_occurred_at"), ["occurred_at"], unique=False)
    horizon = op.create_table(
        "event_log_horizon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(horizon, [{"id": 1, "txid": 0, "seq": 0}])
    op.create_table(
        "event_consumer",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER event_log_notify ON event_log")
        op.execute("DROP FUNCTION incar_event_log_notify()")
    op.drop_table("event_consumer")
    op.drop_table("event_log_horizon")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_log_occurred_at"))
        batch_op.drop_index("ix_event_log_txid_seq")
    op.drop_table("event_log")
