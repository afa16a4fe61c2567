"""Tables of the sessions context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import Json, UtcDateTime, utcnow
from incar.documents import Document


class Session(Document, table=True):
    """A CPO's charging Session; ``emsp_*`` is the party of its ``cdr_token`` (who may see it).

    The query columns (token, status, where) are set from the document in the same write
    (``subgraphs.sessions.service``): the graph finds a driver's sessions and an EVSE's active
    one by index."""

    __tablename__ = "charging_session"
    __table_args__ = (
        sa.UniqueConstraint("country_code", "party_id", "object_id"),
        sa.Index("ix_charging_session_token", "emsp_country_code", "emsp_party_id", "token_uid"),
        sa.Index("ix_charging_session_evse", "location_key", "evse_key", "status"),
    )

    emsp_country_code: str | None = Field(default=None, max_length=2, index=True)
    emsp_party_id: str | None = Field(default=None, max_length=3, index=True)
    token_uid: str | None = Field(default=None, max_length=36)  # upper-cased: a CiString
    status: str | None = Field(default=None, max_length=16)
    location_key: str | None = Field(default=None, max_length=36)
    evse_key: str | None = Field(default=None, max_length=36)


class Token(Document, table=True):
    """An eMSP's Token; its uid is unique per type (mod_tokens)."""

    __tablename__ = "token"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "object_id", "token_type"),)

    token_type: str = Field(max_length=16, default="RFID")


class Command(SQLModel, table=True):
    """A command sent through the hub, with the CPO's answer and the charge point's result."""

    __tablename__ = "command"

    id: str = Field(primary_key=True, max_length=36)
    command: str = Field(max_length=24)
    emsp_country_code: str = Field(max_length=2)
    emsp_party_id: str = Field(max_length=3)
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    request: dict[str, Any] = Field(sa_type=Json)
    response: dict[str, Any] | None = Field(default=None, sa_type=Json)
    result: dict[str, Any] | None = Field(default=None, sa_type=Json)
    #: What became of sending it (``Delivery``: answered, no_answer), for a command the hub sent
    #: itself (the graph's); None for one it relayed, whose sender saw the answer for itself.
    delivery: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
