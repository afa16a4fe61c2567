"""ids are CiStrings: document keys upper-cased; CDR ids up to 39 characters

OCPI ids are case-insensitive, so "loc9" and "LOC9" of one owner are one object. Keys were
stored as sent; from here on they are upper-cased (the documents keep the owner's spelling).
Where one owner had both spellings, the newer document stays (by last_updated, then by when it
was stored), as if the later push had replaced the earlier one, which the hub now does. A CDR
id is a CiString(39), wider than the other ids.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each document table, with the key columns besides (country_code, party_id, object_id).
TABLES: dict[str, tuple[str, ...]] = {
    "location": (),
    "tariff": (),
    "charging_session": (),
    "cdr": (),
    "token": ("token_type",),
}


def upgrade() -> None:
    with op.batch_alter_table("cdr", schema=None) as batch_op:
        batch_op.alter_column(
            "object_id", existing_type=sa.String(length=36), type_=sa.String(length=39)
        )
    for table, extra in TABLES.items():
        same = " ".join(f"AND older.{c} = newer.{c}" for c in extra)
        op.execute(
            f"""
            DELETE FROM {table} WHERE pk IN (
                SELECT older.pk FROM {table} AS older JOIN {table} AS newer
                  ON older.country_code = newer.country_code
                 AND older.party_id = newer.party_id
                 AND upper(older.object_id) = upper(newer.object_id)
                 AND older.pk <> newer.pk {same}
                WHERE older.last_updated < newer.last_updated
                   OR (older.last_updated = newer.last_updated AND older.pk < newer.pk)
            )
            """
        )
        op.execute(f"UPDATE {table} SET object_id = upper(object_id)")


def downgrade() -> None:
    # Upper-cased keys stay valid keys; only the CDR id width goes back.
    with op.batch_alter_table("cdr", schema=None) as batch_op:
        batch_op.alter_column(
            "object_id", existing_type=sa.String(length=39), type_=sa.String(length=36)
        )
