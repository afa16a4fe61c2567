"""Writing what is owed: one INSERT for all the copies of a change, in the change's transaction.

Once that transaction commits, the copies are handed to this process's sender at once (no
polling delay); had the process stopped before, the sender finds them in the table on start.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Integer, String, and_, bindparam, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from incar import direct, exactjson
from incar.columns import UtcDateTime
from incar.events.aftercommit import after_commit
from incar.timestamps import parse_timestamp
from ocpi_adapter.owed.models import Kind, OwedCopy, State

TABLE = OwedCopy.__table__  # type: ignore[attr-defined]
_UTC = UtcDateTime()
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
    whose lane has an earlier copy left in the table (or earlier in ``copies``) is written
    unclaimed instead, by the INSERT itself, and claimed by the sender once that one is gone.
    A change of one object locks its row until commit, so a second writer of that object
    runs this check after the first one's copies are committed and visible."""
    if not copies:
        return
    if sender is not None:
        for copy in copies:
            if sender.ready(copy):
                copy.state = State.SENDING
                copy.claimed_by = sender.member_id
    shared = sender is not None and sender.shared
    if tx.get_bind().dialect.name == "postgresql":
        await _insert_postgres(tx, copies, unclaim_behind=shared)
    else:
        assert not shared, "processes share PostgreSQL databases only"
        await _insert_sqlite(tx, copies)
    if sender is not None:
        ready = list(copies)
        hand = sender.hand
        after_commit(tx, lambda: hand(ready))


#: PostgreSQL: every copy of a change in one statement of fixed text (prepared once by the
#: driver, whatever the count of copies), which also writes unclaimed (``owed``) a claimed copy
#: that has an earlier copy of its lane: the separate UPDATE that did so cost a statement per
#: broadcast. Ids come from the serial in the SELECT's order (ORDER BY ord), as for
#: SQLAlchemy's own ordered INSERT, and RETURNING lists them in that order; sorting keeps the
#: pairing whatever order RETURNING uses.
_INSERT_POSTGRES = text(
    """
    INSERT INTO hub_owed_copy (
        receiver_platform_id, kind, object_key, owner_country_code, owner_party_id, method,
        url, headers, body, object_last_updated, created_at, state, attempts, next_attempt_at,
        claimed_by)
    SELECT v.receiver_platform_id, v.kind, v.object_key, v.owner_country_code,
        v.owner_party_id, v.method, v.url, CAST(v.headers AS json), v.body,
        v.object_last_updated, v.created_at,
        CASE WHEN b.behind THEN 'owed' ELSE v.state END, v.attempts, v.next_attempt_at,
        CASE WHEN b.behind THEN NULL ELSE v.claimed_by END
    FROM (
        SELECT u.*, row_number() OVER (
            PARTITION BY u.receiver_platform_id, u.object_key ORDER BY u.ord) AS nth
        FROM unnest(
            CAST(:receiver_platform_id AS integer[]), CAST(:kind AS varchar[]),
            CAST(:object_key AS varchar[]), CAST(:owner_country_code AS varchar[]),
            CAST(:owner_party_id AS varchar[]), CAST(:method AS varchar[]),
            CAST(:url AS varchar[]), CAST(:headers AS text[]), CAST(:body AS bytea[]),
            CAST(:object_last_updated AS timestamptz[]), CAST(:created_at AS timestamptz[]),
            CAST(:state AS varchar[]), CAST(:attempts AS integer[]),
            CAST(:next_attempt_at AS timestamptz[]), CAST(:claimed_by AS integer[])
        ) WITH ORDINALITY AS u(
            receiver_platform_id, kind, object_key, owner_country_code, owner_party_id,
            method, url, headers, body, object_last_updated, created_at, state, attempts,
            next_attempt_at, claimed_by, ord)
    ) AS v
    CROSS JOIN LATERAL (
        SELECT CAST(:unclaim_behind AS boolean) AND v.state = 'sending' AND (
            v.nth > 1 OR EXISTS (
                SELECT 1 FROM hub_owed_copy AS earlier
                WHERE earlier.receiver_platform_id = v.receiver_platform_id
                    AND earlier.object_key = v.object_key)) AS behind
    ) AS b
    ORDER BY v.ord
    RETURNING id, state
    """
).columns(id=Integer, state=String)


async def _insert_postgres(
    tx: AsyncSession, copies: Sequence[Owed], *, unclaim_behind: bool
) -> None:
    # The columns as Owed.row() gives them, each as an array; the JSON and the times as the
    # table's own column types write them (the statement is text: no column type applies).
    rows = [copy.row() for copy in copies]
    params: dict[str, Any] = {column: [row[column] for row in rows] for column in rows[0]}
    params["headers"] = [exactjson.dumps_text(headers) for headers in params["headers"]]
    for column in ("object_last_updated", "created_at", "next_attempt_at"):
        params[column] = [_UTC.process_bind_param(value, None) for value in params[column]]
    params["unclaim_behind"] = unclaim_behind
    # On the driver connection: one per broadcast (incar.direct).
    inserted = sorted((await direct.execute(tx, _INSERT_POSTGRES, params)).rows)
    for copy, (row_id, state) in zip(copies, inserted, strict=True):
        copy.id = row_id
        if state == State.OWED and copy.state is State.SENDING:
            copy.state, copy.claimed_by = State.OWED, None


async def _insert_sqlite(tx: AsyncSession, copies: Sequence[Owed]) -> None:
    """One multi-row INSERT ... RETURNING id per broadcast. SQLite has no form that ties the
    ids to the rows, but it gives each new row of an INTEGER PRIMARY KEY the next id above the
    largest, row by row in the VALUES' order, under the write lock this transaction holds: the
    ids sorted are in the copies' order, whatever order RETURNING lists them in."""
    rows = [copy.row() for copy in copies]
    ids: list[int] = []
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        statement = _insert_sqlite_statement(tuple(chunk[0]), len(chunk))
        values = {
            f"{name}_{n}": value for n, row in enumerate(chunk) for name, value in row.items()
        }
        # On the driver connection, one statement per broadcast (incar.direct).
        ids += sorted(row_id for (row_id,) in (await direct.execute(tx, statement, values)).rows)
    for copy, row_id in zip(copies, ids, strict=True):
        copy.id = row_id


#: Rows per INSERT on SQLite: 15 columns each stay far below its 32,766 parameters.
_SQLITE_ROWS = 500


@functools.lru_cache(maxsize=64)
def _insert_sqlite_statement(columns: tuple[str, ...], count: int) -> Any:
    """``count`` rows of ``columns`` in one multi-row INSERT ... RETURNING id, its parameters
    named ``<column>_<row>``: built and compiled once per count of copies."""
    return (
        insert(TABLE)
        .values(
            [
                {name: bindparam(f"{name}_{n}", type_=TABLE.c[name].type) for name in columns}
                for n in range(count)
            ]
        )
        .returning(TABLE.c.id)
    )
