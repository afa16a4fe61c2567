"""The hub's price check of the CDRs it stores, over real HTTP: a strict CPO (NL*CPL) posts
CDRs to a strict eMSP (DE*EML) through the hub, which prices each against the tariffs it
carries or names and keeps the outcome with the CDR.

- a total that follows the tariff is "ok", one beyond a cent is "mismatch": both accepted
  (1000) and forwarded unchanged, the flag is information only;
- a tariff the CDR only names is the one the CPO pushed to the hub; its local-time
  restrictions are read in the stored Location's time_zone;
- an unknown tariff is "unpriceable" with the reason, not a mismatch;
- a check that fails outright (its database read breaks) leaves the CDR stored and appended
  to the ledger, its check "unpriceable".
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from incar import documents
from subgraphs.accounting.models import Amount, Cdr, PriceCheck, PriceCheckStatus
from tests.conformance.support import assert_envelope, location
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.priced_cdrs import (
    HELSINKI,
    STEPS,
    component,
    element,
    priced_cdr,
    steps_cdr,
    tariff,
)

CPO = ("NL", "CPL")
EMSP = ("DE", "EML")
D = Decimal

# The worked CDR of tests/support/priced_cdrs.py: 4.89 excl., 6.06 incl. under STEPS.


@dataclass
class Net:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    async def post(self, body: dict[str, Any]) -> int:
        answer = await self.cpo.call(
            "POST", self.hub.endpoint("cdrs", "receiver"), to=EMSP, content=orjson.dumps(body)
        )
        code: int = assert_envelope(answer)["status_code"]
        return code

    async def push(self, module: str, path: str, body: dict[str, Any]) -> None:
        answer = await self.cpo.call(
            "PUT",
            f"{self.hub.endpoint(module, 'receiver')}/{path}",
            to=self.cpo.hub_party,
            content=orjson.dumps(body),
        )
        assert assert_envelope(answer)["status_code"] == 1000, answer.text

    async def checked(self, cdr_id: str) -> PriceCheck | None:
        async with self.hub.hub.db.transaction() as tx:
            row = await documents.find(tx, Cdr, key=documents.key(*CPO, cdr_id))
            assert row is not None, f"CDR {cdr_id} is not stored"
            return row.checked_price()

    async def ledger_size(self) -> int:
        async with self.hub.hub.db.transaction() as tx:
            counted = await tx.execute(sa.text("SELECT COUNT(*) FROM ledger_entry"))
            return int(counted.scalar_one())


@contextlib.asynccontextmanager
async def network() -> AsyncIterator[Net]:
    async with (
        running_hub() as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        yield Net(hub, cpo, emsp)


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    async with network() as n:
        yield n


async def test_a_total_that_follows_its_tariff_is_ok(net: Net) -> None:
    body = steps_cdr("PC1", total_cost={"excl_vat": 4.89, "incl_vat": 6.06})
    assert await net.post({**body, "tariffs": [STEPS]}) == 1000
    assert await net.checked("PC1") == PriceCheck(
        PriceCheckStatus.OK,
        calculated=Amount(D("4.89"), D("6.06")),
        difference=Amount(D(0), D(0)),
    )


async def test_a_mismatched_total_is_accepted_forwarded_and_stored_flagged(net: Net) -> None:
    # The CPO billed 5.39 / 6.68: 0.50 and 0.62 more than the tariff gives (4.89 / 6.06).
    body = {
        **steps_cdr("PC2", total_cost={"excl_vat": 5.39, "incl_vat": 6.68}),
        "tariffs": [STEPS],
    }
    assert await net.post(body) == 1000  # OCPI accepts it: the flag is information
    (forwarded,) = net.emsp.requests("POST", "/cdrs")
    assert orjson.loads(forwarded.body) == body  # unchanged
    check = await net.checked("PC2")
    assert check is not None
    assert check.status is PriceCheckStatus.MISMATCH
    assert check.calculated == Amount(D("4.89"), D("6.06"))
    assert check.difference == Amount(D("0.5"), D("0.62"))
    assert check.reason == (
        "total_cost.excl_vat 5.39 is +0.50 from the calculated 4.89; total_cost.incl_vat "
        "6.68 is +0.62 from the calculated 6.06 (more than 0.01 EUR)"
    )
    assert await net.ledger_size() == 1


async def test_a_cent_of_rounding_is_not_a_mismatch(net: Net) -> None:
    # 6.0636 incl. VAT rounds to 6.06; a CPO writing 6.07 (it rounded each line up) is one
    # cent off: within the tolerance of one minor unit.
    body = steps_cdr("PC3", total_cost={"excl_vat": 4.89, "incl_vat": 6.07})
    assert await net.post({**body, "tariffs": [STEPS]}) == 1000
    check = await net.checked("PC3")
    assert check is not None
    assert (check.status, check.difference) == (PriceCheckStatus.OK, Amount(D(0), D("0.01")))


async def test_a_named_tariff_is_the_one_the_cpo_pushed_in_the_locations_zone(net: Net) -> None:
    peak = tariff(
        "PEAK",
        element(component("ENERGY", 0.40, vat=25.5), start_time="17:00", end_time="20:00"),
        element(component("ENERGY", 0.20, vat=25.5)),
    )
    await net.push("tariffs", "NL/CPL/PEAK", peak)
    await net.push("locations", "NL/CPL/L1", location(*CPO, "L1"))  # Europe/Helsinki
    # 14:30Z and 15:00Z are 16:30 and 17:00 in Helsinki: 5 kWh x 0.20 = 1.00 + 6 kWh x 0.40 =
    # 2.40 = 3.40 excl.; x 1.255 = 4.267 -> 4.27 incl. (In UTC both would be off-peak: 2.20.)
    periods: list[tuple[str, dict[str, float], str | None]] = [
        ("2026-11-30T16:30", {"ENERGY": 5.0, "TIME": 0.5}, "peak"),  # ids are CiStrings
        ("2026-11-30T17:00", {"ENERGY": 6.0, "TIME": 0.5}, "PEAK"),
    ]
    body = priced_cdr(
        "PC4", periods, end="2026-11-30T17:30", total_cost={"excl_vat": 3.4}, zone=HELSINKI
    )
    assert await net.post(body) == 1000
    check = await net.checked("PC4")
    assert check is not None
    assert (check.status, check.calculated) == (PriceCheckStatus.OK, Amount(D("3.4"), D("4.27")))
    assert check.difference == Amount(D(0), None)  # the CDR states no incl_vat


async def test_a_credit_cdr_is_checked_with_negative_amounts(net: Net) -> None:
    body = steps_cdr(
        "PC5-C",
        {"excl_vat": -4.89, "incl_vat": -6.06},
        tariffs=[STEPS],
        credit=True,
        credit_reference_id="PC5",
    )
    assert await net.post(body) == 1000
    check = await net.checked("PC5-C")
    assert check is not None
    assert (check.status, check.calculated) == (
        PriceCheckStatus.OK,
        Amount(D("-4.89"), D("-6.06")),
    )


async def test_an_unknown_tariff_is_unpriceable_not_a_mismatch(net: Net) -> None:
    body = steps_cdr("PC6", total_cost={"excl_vat": 4.89})
    assert await net.post(body) == 1000  # names STEPS, which the hub was never sent
    assert await net.checked("PC6") == PriceCheck(
        PriceCheckStatus.UNPRICEABLE, reason="tariff STEPS is unknown"
    )


async def test_a_tariff_updated_after_the_session_is_not_judged(net: Net) -> None:
    await net.push("tariffs", "NL/CPL/STEPS", {**STEPS, "last_updated": "2026-12-01T00:00:00Z"})
    body = steps_cdr("PC7", total_cost={"excl_vat": 4.89})
    assert await net.post(body) == 1000
    check = await net.checked("PC7")
    assert check is not None
    assert check.status is PriceCheckStatus.UNPRICEABLE
    assert check.reason is not None
    assert "updated at 2026-12-01T00:00:00+00:00, after the session started" in check.reason


async def test_a_number_too_big_for_exact_arithmetic_is_unpriceable_at_once(net: Net) -> None:
    # 1E-99999999 is a valid OCPI number (0.0 as a float); exactly it is a hundred-million-
    # digit fraction: the check refuses it rather than hang the hub on it.
    text = orjson.dumps(steps_cdr("PC9", total_cost={"excl_vat": 4.89}, tariffs=[STEPS])).replace(
        b'"volume":8.25', b'"volume":1E-99999999'
    )
    answer = await net.cpo.call("POST", net.hub.endpoint("cdrs", "receiver"), to=EMSP, content=text)
    assert assert_envelope(answer)["status_code"] == 1000
    check = await net.checked("PC9")
    assert check is not None
    assert check.status is PriceCheckStatus.UNPRICEABLE
    assert check.reason == (
        "cdr: charging_periods[0].dimensions[0].volume 1E-99999999 has more than 30 digits or "
        "is beyond 1E+/-30"
    )


async def test_a_failing_check_never_costs_the_cdr_its_place(net: Net) -> None:
    # Behind the hub's back the tariff table goes away: the check's read fails in the
    # database. The CDR is still stored, forwarded and appended; its check says why not.
    async with net.hub.hub.db.transaction() as tx:
        await tx.execute(sa.text("ALTER TABLE tariff RENAME TO tariff_away"))
    try:
        body = steps_cdr("PC8", total_cost={"excl_vat": 4.89})
        assert await net.post(body) == 1000
        # One that carries its (plain) tariff needs no read, so its check still works.
        carried = steps_cdr("PC8-CARRIED", total_cost={"excl_vat": 4.89}, tariffs=[STEPS])
        assert await net.post(carried) == 1000
    finally:
        async with net.hub.hub.db.transaction() as tx:
            await tx.execute(sa.text("ALTER TABLE tariff_away RENAME TO tariff"))
    check = await net.checked("PC8")
    assert check is not None
    assert check.status is PriceCheckStatus.UNPRICEABLE
    assert check.reason is not None
    assert check.reason.startswith("the check failed: ")
    assert await net.ledger_size() == 2
    assert len(net.emsp.requests("POST", "/cdrs")) == 2
    carried_check = await net.checked("PC8-CARRIED")
    assert carried_check is not None
    assert carried_check.status is PriceCheckStatus.OK
