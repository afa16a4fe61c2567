"""cdr search: the query columns of CDRs, the tariffs they name, and the search's indexes

The accounting subgraph searches CDRs by party, period (``start_date_time``), place, token,
session and tariff, and adds up their energy, times and costs, from columns derived from each
document (``subgraphs.accounting.rows``) in the same write. This migration creates them and
derives them for every CDR already stored, with that one derivation.

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-02 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import incar.columns
from incar.exactjson import parse_stored
from subgraphs.accounting.rows import query_columns, tariff_ids

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXTS = {
    "token_uid": 36,
    "location_id": 36,
    "evse_uid": 36,
    "session_id": 36,
    "currency": 3,
}
TIMES = ("start_date_time", "end_date_time")
NUMBERS = ("total_energy", "total_time", "total_parking_time", "cost_excl_vat", "cost_incl_vat")
INDEXES = {
    "ix_cdr_cpo_start": ["country_code", "party_id", "start_date_time", "pk"],
    "ix_cdr_emsp_start": ["emsp_country_code", "emsp_party_id", "start_date_time", "pk"],
    "ix_cdr_token": ["emsp_country_code", "emsp_party_id", "token_uid"],
    "ix_cdr_location": ["country_code", "party_id", "location_id", "evse_uid"],
    "ix_cdr_session": ["country_code", "party_id", "session_id"],
    "ix_cdr_start": ["start_date_time", "pk"],
}


def upgrade() -> None:
    for name, length in TEXTS.items():
        op.add_column("cdr", sa.Column(name, sa.String(length=length), nullable=True))
    for name in TIMES:
        op.add_column(
            "cdr", sa.Column(name, incar.columns.UtcDateTime(timezone=True), nullable=True)
        )
    for name in NUMBERS:
        op.add_column("cdr", sa.Column(name, sa.Float(), nullable=True))
    for name, columns in INDEXES.items():
        op.create_index(name, "cdr", columns, unique=False)
    op.create_table(
        "cdr_tariff",
        sa.Column("cdr_pk", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["cdr_pk"], ["cdr.pk"]),
        sa.PrimaryKeyConstraint("cdr_pk", "tariff_id"),
    )
    op.create_index("ix_cdr_tariff_tariff_id", "cdr_tariff", ["tariff_id"], unique=False)
    _derive()


def _derive() -> None:
    bind = op.get_bind()
    cdr = sa.table(
        "cdr",
        sa.column("pk", sa.Integer()),
        *(sa.column(name, sa.String()) for name in (*TEXTS, "emsp_country_code", "emsp_party_id")),
        *(sa.column(name, incar.columns.UtcDateTime(timezone=True)) for name in TIMES),
        *(sa.column(name, sa.Float()) for name in NUMBERS),
    )
    tariff = sa.table("cdr_tariff", sa.column("cdr_pk"), sa.column("tariff_id"))
    rows = bind.execute(sa.text("SELECT pk, CAST(data AS TEXT) FROM cdr ORDER BY pk")).all()
    for pk, text in rows:
        data = parse_stored(text)
        bind.execute(sa.update(cdr).where(cdr.c.pk == pk).values(**query_columns(data)))
        for tariff_id in sorted(tariff_ids(data)):
            bind.execute(sa.insert(tariff).values(cdr_pk=pk, tariff_id=tariff_id))


def downgrade() -> None:
    op.drop_index("ix_cdr_tariff_tariff_id", table_name="cdr_tariff")
    op.drop_table("cdr_tariff")
    with op.batch_alter_table("cdr") as batch:
        for name in INDEXES:
            batch.drop_index(name)
        for name in (*NUMBERS, *TIMES, *TEXTS):
            batch.drop_column(name)
