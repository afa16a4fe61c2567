"""Writing owed copies: all the copies of a change in one INSERT, each copy given its own row's
id, on either database (the sender and the claims rely on that id)."""

from __future__ import annotations

from sqlalchemy import select

from incar.columns import utcnow
from ocpi_adapter.owed import record
from ocpi_adapter.owed.models import Kind, OwedCopy
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
