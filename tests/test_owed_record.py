"""Writing owed copies: all the copies of a change in one INSERT, each copy given its own row's
id, on either database (the sender and the claims rely on that id)."""

from __future__ import annotations

from sqlalchemy import select

from incar.columns import utcnow
from ocpi_adapter.owed import record
from ocpi_adapter.owed.models import Kind, OwedCopy, State
from ocpi_adapter.owed.record import Owed
from ocpi_adapter.platforms.models import Platform
from tests.support.hub import HubUnderTest
from tests.support.statements import starting, statements


def copy(receiver: int, n: int) -> Owed:
    return Owed(
        receiver_platform_id=receiver,
        kind=Kind.COPY,
        object_key=f"locations/DE/AAA/LOC{n}",
        owner_country_code="DE",
        owner_party_id="AAA",
        method="PATCH",
        url=f"http://emsp-{receiver}.test/locations/DE/AAA/LOC{n}",
        headers={"X-Request-ID": f"copy-{receiver}-{n}"},
        body=b'{"n": %d}' % n,
        object_last_updated=None,
        created_at=utcnow(),
    )


async def test_the_copies_of_a_change_are_one_insert_and_each_gets_its_row(
    hub: HubUnderTest,
) -> None:
    for party in ("EMA", "EMB", "EMC"):
        await hub.onboard("EMSP", "NL", party)
    async with hub.hub.db.transaction() as tx:
        receivers = [p.id for p in (await tx.execute(select(Platform))).scalars() if p.id]
    assert len(receivers) == 3
    db = hub.hub.db
    for round_ in range(3):  # ids past deleted rows as well as on an empty table
        copies = [copy(receiver, n) for n in range(4) for receiver in reversed(receivers)]
        with statements(db, starting("INSERT INTO hub_owed_copy")) as inserts:
            async with db.transaction(write=True) as tx:
                await record.owe(tx, copies, None)
        assert len(inserts) == 1
        assert len({c.id for c in copies}) == len(copies)
        async with db.transaction(write=True) as tx:
            stored = {
                row.id: row
                for row in (await tx.execute(select(OwedCopy))).scalars()
                if row.id in {c.id for c in copies}
            }
            for written in copies:
                row = stored[written.id]
                assert (row.receiver_platform_id, row.url, row.headers, row.body) == (
                    written.receiver_platform_id,
                    written.url,
                    written.headers,
                    written.body,
                )
            if round_ == 1:
                for row in stored.values():
                    await tx.delete(row)


class _Sender:
    """A sender to whom every lane looks idle (as to a process that holds none of them)."""

    member_id = 7

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.handed: list[Owed] = []

    def ready(self, copy: Owed) -> bool:
        return True

    def hand(self, copies: list[Owed]) -> None:
        self.handed.extend(copies)


async def test_a_copy_behind_an_earlier_one_of_its_lane_is_written_unclaimed(
    hub: HubUnderTest,
) -> None:
    await hub.onboard("EMSP", "NL", "EMA")
    db = hub.hub.db
    async with db.transaction() as tx:
        (receiver,) = [p.id for p in (await tx.execute(select(Platform))).scalars() if p.id]
    shared = db.engine.dialect.name == "postgresql"  # processes share PostgreSQL only
    sender = _Sender(shared)
    first = [copy(receiver, 1)]
    async with db.transaction(write=True) as tx:
        await record.owe(tx, first, sender)
    assert [(c.state, c.claimed_by) for c in first] == [(State.SENDING, 7)]
    # Lane LOC1 has a copy left in the table; LOC2 twice in one change; LOC3 is idle.
    later = [copy(receiver, 1), copy(receiver, 2), copy(receiver, 2), copy(receiver, 3)]
    async with db.transaction(write=True) as tx:
        await record.owe(tx, later, sender)
    claimed = (State.SENDING, 7)
    expected = (
        [(State.OWED, None), claimed, (State.OWED, None), claimed]
        if shared
        else [claimed] * 4  # alone, the sender's memory of its lanes decides
    )
    assert [(c.state, c.claimed_by) for c in later] == expected
    assert sender.handed == first + later
    async with db.transaction() as tx:
        rows = {
            row.id: (row.state, row.claimed_by)
            for row in (await tx.execute(select(OwedCopy))).scalars()
        }
    assert [rows[c.id] for c in later] == expected
    assert [c.id for c in later] == sorted(c.id for c in later)
