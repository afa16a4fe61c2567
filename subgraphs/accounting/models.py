"""Tables of the accounting context."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field

from incar.documents import Document


class Cdr(Document, table=True):
    """A CPO's CDR; ``emsp_*`` is the party of its ``cdr_token``. CDRs are never changed."""

    __tablename__ = "cdr"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id"),)

    object_id: str = Field(max_length=39, index=True)  # a CDR id is a CiString(39)
    emsp_country_code: str | None = Field(default=None, max_length=2, index=True)
    emsp_party_id: str | None = Field(default=None, max_length=3, index=True)
