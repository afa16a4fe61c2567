"""ledger nodes: each entry keeps the roots of the subtrees its leaf completes; CDR ids indexed

An inclusion proof then reads O(log n) stored hashes instead of all the leaves (at a million
entries, some 40 of them). They are written with the entry, in the same statement, and the
entry's append-only triggers cover them. Entries appended before this revision (there are
none in production) keep an empty value, which ``incar ledger verify`` reports. The CDR id
alone is indexed too: ``incar ledger prove CDR_ID`` looks an entry up by it, without its party.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "'\\x'::bytea"
    op.add_column(
        "ledger_entry",
        sa.Column("nodes", sa.LargeBinary(), nullable=False, server_default=sa.text(empty)),
    )
    op.create_index("ix_ledger_entry_cdr_id", "ledger_entry", ["cdr_id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entry_cdr_id", table_name="ledger_entry")
    # Plain ALTER (SQLite 3.35 and later): a batch copy of the table would lose its triggers.
    op.execute("ALTER TABLE ledger_entry DROP COLUMN nodes")
