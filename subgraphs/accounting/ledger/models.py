"""Tables of the CDR ledger: its entries and its signed tree heads, both append-only (the
migration's triggers refuse UPDATE and DELETE on either database)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from incar.columns import UtcDateTime, utcnow


class LedgerEntry(SQLModel, table=True):
    """The ``idx``-th leaf of the tree: a CDR's signed transaction, as signed, byte for byte."""

    __tablename__ = "ledger_entry"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "cdr_id"),)

    idx: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    tx_id: str = Field(max_length=64, unique=True)  # hex SHA3-256 of the transaction's body
    tx: bytes = Field(sa_type=sa.LargeBinary)  # as signed; leaf_hash is leaves.entry_hash(idx, tx)
    # The CDR's key, upper-cased like its document's (CiStrings): one entry per CDR.
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    cdr_id: str = Field(max_length=39, index=True)  # `incar ledger prove CDR_ID` finds it
    leaf_hash: bytes = Field(sa_type=sa.LargeBinary)
    # The roots of the complete subtrees this leaf completes, height 1 upwards (one per trailing
    # set bit of idx; merkle.CompactRange.append_nodes): an inclusion proof reads O(log n) of
    # them instead of hashing the leaves again (proofs.py).
    nodes: bytes = Field(default=b"", sa_type=sa.LargeBinary)
    appended_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LedgerTreeHead(SQLModel, table=True):
    """The tree after ``size`` leaves, signed: one for each append or batch of appends (so
    the sizes may have gaps)."""

    __tablename__ = "ledger_tree_head"

    size: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_type=sa.LargeBinary)
    # The right edge of the tree (merkle.CompactRange): what the next append starts from.
    compact_range: bytes = Field(sa_type=sa.LargeBinary)
    checkpoint: str = Field(sa_type=sa.Text)  # the C2SP signed note, as signed
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LedgerOutbox(SQLModel, table=True):
    """An entry owed to the BigchainDB node (``INCAR_BIGCHAINDB_URL``), written in the entry's
    transaction; the outbox's sender (``outbox.py``) posts it and records how that went."""

    __tablename__ = "ledger_outbox"
    __table_args__ = (sa.Index("ix_ledger_outbox_due", "state", "next_attempt_at"),)

    idx: int = Field(
        sa_column=sa.Column(
            sa.BigInteger(),
            sa.ForeignKey("ledger_entry.idx"),
            primary_key=True,
            autoincrement=False,
        )
    )
    state: str = Field(max_length=9)  # pending, delivered or refused (the node's 400)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
