"""Writing what is owed: one INSERT for all the copies of a change, in the change's transaction.

Once that transaction commits, the copies are handed to this process's sender at once (no
polling delay); had the process stopped before, the sender finds them in the table on start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, exists, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from incar.events.aftercommit import after_commit
from incar.timestamps import parse_timestamp
from ocpi_adapter.owed.models import Kind, OwedCopy, State

TABLE = OwedCopy.__table__  # type: ignore[attr-defined]
_INSERT = insert(TABLE).returning(TABLE.c.id)
_INSERT_IN_ORDER = insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True)
EARLIER = TABLE.alias("earlier")
#: Copies with an earlier copy of their lane left in the table (rows of other processes).
BEHIND = and_(
    EARLIER.c.receiver_platform_id == TABLE.c.receiver_platform_id,
    EARLIER.c.object_key == TABLE.c.object_key,
    EARLIER.c.id < TABLE.c.id,
)


@dataclass(slots=True)
class Owed:
    """One owed request as the sender holds it (a row of ``hub_owed_copy``)."""

    receiver_platform_id: int
    kind: Kind
    object_key: str
    owner_country_code: str
    owner_party_id: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    object_last_updated: datetime | None
    created_at: datetime
    id: int = 0
    attempts: int = 0
    state: State = State.OWED
    next_attempt_at: datetime | None = None
    claimed_by: int | None = None

    @property
    def lane(self) -> tuple[int, str]:
        return (self.receiver_platform_id, self.object_key)

    def row(self) -> dict[str, Any]:
        return {
            "receiver_platform_id": self.receiver_platform_id,
            "kind": self.kind,
            "object_key": self.object_key,
            "owner_country_code": self.owner_country_code,
            "owner_party_id": self.owner_party_id,
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "object_last_updated": self.object_last_updated,
            "created_at": self.created_at,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "claimed_by": self.claimed_by,
        }

    @classmethod
    def of(cls, row: OwedCopy) -> Owed:
        assert row.id is not None
        return cls(
            id=row.id,
            receiver_platform_id=row.receiver_platform_id,
            kind=row.kind,
            object_key=row.object_key,
            owner_country_code=row.owner_country_code,
            owner_party_id=row.owner_party_id,
            method=row.method,
            url=row.url,
            headers=dict(row.headers),
            body=row.body,
            object_last_updated=row.object_last_updated,
            created_at=row.created_at,
            attempts=row.attempts,
            state=row.state,
            next_attempt_at=row.next_attempt_at,
            claimed_by=row.claimed_by,
        )


def last_updated_of(body: Any) -> datetime | None:
    """The pushed object's own last_updated, if it has a readable one."""
    value = body.get("last_updated") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


class Sender(Protocol):
    """The process's sender, as the writers of owed copies see it (owed/sender.py)."""

    @property
    def member_id(self) -> int:
        """Its process's member id (membership.py), written into the copies it claims."""

    @property
    def shared(self) -> bool:
        """Whether other processes may hold copies of its lanes."""

    def ready(self, copy: Owed) -> bool: ...

    def hand(self, copies: list[Owed]) -> None: ...


async def owe(tx: AsyncSession, copies: Sequence[Owed], sender: Sender | None) -> None:
    """Records ``copies`` in ``tx``; ``sender`` gets them (with their ids) once it commits.

    A copy the sender will attempt at once (its lane idle) is written as claimed already
    (``sending``): that saves the claim's write before the attempt. Should the process die
    between the commit and that attempt, its receiver is cued, as for any copy whose attempt
    may have begun.

    Where other processes share the database their lanes are not in this one's memory: a copy
    written claimed whose lane has an earlier copy left in the table is unclaimed again in the
    same transaction (one indexed UPDATE), and claimed by the sender once that one is gone.
    A change of one object locks its row until commit, so a second writer of that object
    runs this check after the first one's copies are committed and visible."""
    if not copies:
        return
    if sender is not None:
        for copy in copies:
            if sender.ready(copy):
                copy.state = State.SENDING
                copy.claimed_by = sender.member_id
    for copy, row_id in zip(copies, await _insert(tx, copies), strict=True):
        copy.id = row_id
    if sender is not None and sender.shared:
        await _unclaim_behind(tx, copies)
    if sender is not None:
        ready = list(copies)
        hand = sender.hand
        after_commit(tx, lambda: hand(ready))


async def _insert(tx: AsyncSession, copies: Sequence[Owed]) -> list[int]:
    """The new rows' ids, in the order of ``copies``, from one INSERT statement.

    PostgreSQL: SQLAlchemy's ordered form (one statement). SQLite has no form that ties the
    ids to the rows, so SQLAlchemy would fall back to one INSERT per copy; but SQLite gives
    each new row of an INTEGER PRIMARY KEY the next id above the largest, row by row in the
    VALUES' order, under the write lock this transaction holds: the ids sorted are in the
    copies' order, whatever order RETURNING lists them in."""
    rows = [copy.row() for copy in copies]
    if tx.get_bind().dialect.name == "postgresql":
        return list((await tx.execute(_INSERT_IN_ORDER, rows)).scalars().all())
    return sorted((await tx.execute(_INSERT, rows)).scalars().all())


#: Built once (every broadcast PATCH on PostgreSQL runs it): a statement made anew per call
#: cost more in SQLAlchemy's construction and cache-key work than in PostgreSQL.
_UNCLAIM_BEHIND = (
    update(TABLE)
    .where(TABLE.c.id.in_(bindparam("ids", expanding=True)), exists().where(BEHIND))
    .values(state=State.OWED, claimed_by=None)
    .returning(TABLE.c.id)
)


async def _unclaim_behind(tx: AsyncSession, copies: Sequence[Owed]) -> None:
    claimed = {copy.id: copy for copy in copies if copy.state is State.SENDING}
    if not claimed:
        return
    behind = await tx.execute(_UNCLAIM_BEHIND, {"ids": list(claimed)})
    for row_id in behind.scalars():
        copy = claimed[row_id]
        copy.state, copy.claimed_by = State.OWED, None
