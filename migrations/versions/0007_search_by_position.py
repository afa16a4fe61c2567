"""search by position: the EVSE rows keep one index a search can always use

Every station search is bounded by a box, so the (latitude, longitude) index narrows every
search. The single-column indexes on status, reservable, max power and the operator's
country code and party id were used by nothing but the search, where they only misled
SQLite's planner (which keeps no statistics): ``status = 'AVAILABLE'`` by its index read some
40 % of all EVSE rows, at 100,000 EVSEs 15-22 ms a search against 3-5 ms through the position
index (bench/README.md). PostgreSQL's plan is as fast without them. And an EVSE status PATCH
no longer updates a status index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (
    ("ix_location_evse_status", "status"),
    ("ix_location_evse_reservable", "reservable"),
    ("ix_location_evse_max_power_kw", "max_power_kw"),
    ("ix_location_evse_country_code", "country_code"),
    ("ix_location_evse_party_id", "party_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("location_evse", schema=None) as batch_op:
        for name, _column in DROPPED:
            batch_op.drop_index(name)


def downgrade() -> None:
    with op.batch_alter_table("location_evse", schema=None) as batch_op:
        for name, column in DROPPED:
            batch_op.create_index(name, [column], unique=False)
