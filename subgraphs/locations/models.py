"""Tables of the locations context."""

from __future__ import annotations

import sqlalchemy as sa

from incar.documents import Document


class Location(Document, table=True):
    __tablename__ = "location"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id"),)


class Tariff(Document, table=True):
    __tablename__ = "tariff"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id"),)
