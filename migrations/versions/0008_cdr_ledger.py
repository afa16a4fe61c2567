"""cdr ledger: the signed transactions of CDRs and the signed tree heads, append-only

Each CDR the hub stores is appended as a BigchainDB CREATE transaction (its bytes as signed)
at the next index of an RFC 9162 Merkle tree; each append also signs the new tree head (a C2SP
checkpoint) and keeps the tree's right edge for the next. Neither table takes an UPDATE or a
DELETE from anyone: a trigger refuses them (and TRUNCATE on PostgreSQL), on both databases.
CDRs stored before this revision have no entries (nothing here can sign them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:54:46.944209
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("ledger_entry", "ledger_tree_head")


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_id", sa.String(length=64), nullable=False),
        sa.Column("tx", sa.LargeBinary(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("party_id", sa.String(length=3), nullable=False),
        sa.Column("cdr_id", sa.String(length=39), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("appended_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
        sa.UniqueConstraint("country_code", "party_id", "cdr_id"),
        sa.UniqueConstraint("tx_id"),
    )
    op.create_table(
        "ledger_tree_head",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("compact_range", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("signed_at", incar.columns.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the CDR ledger is append-only: % on % refused',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
            )
    else:
        for table in TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the CDR ledger is append-only: {operation} on "
                    f"{table} refused'); END"
                )


def downgrade() -> None:
    # Dropping a table drops its triggers; the rows go with it, as any downgrade's would.
    op.drop_table("ledger_tree_head")
    op.drop_table("ledger_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_append_only()")
