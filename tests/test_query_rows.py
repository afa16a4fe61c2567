"""The graph's query rows never disagree with the documents the hub stored.

A strict CPO (NL*CPA) changes its Locations through the real hub in every way mod_locations
allows (PUT and PATCH of a Location, of one EVSE, of one Connector; an EVSE removed by status
or left out of a new PUT; stale and orphan PATCHes), and a strict eMSP its Sessions; after each
change, the rows in the hub's database are compared with what its stored document says, read
here on its own terms (mod_locations: power from max_electric_power, else volts x amps x
phases; RESERVABLE capability; energy mix). A few values are checked as worked numbers too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, select

from incar import exactjson
from subgraphs.locations.models import ConnectorRow, EvseRow, Location
from subgraphs.sessions.models import Session
from tests.conformance.support import assert_envelope, charging_session, location
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}


def stamp(n: int) -> str:
    return f"2026-02-01T00:{n // 60:02d}:{n % 60:02d}Z"


def dc_connector(connector_id: str, n: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 920,
        "max_amperage": 400,
        "max_electric_power": 150000,
        "tariff_ids": ["fast"],
        "last_updated": stamp(n),
        **changes,
    }


def evse(uid: str, n: int, *connectors: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"NL*CPA*E{uid}",
        "status": "AVAILABLE",
        "capabilities": ["RESERVABLE", "REMOTE_START_STOP_CAPABLE"],
        "connectors": list(connectors),
        "last_updated": stamp(n),
        **changes,
    }


def expected(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the rows of a stored Location must say, read from the document."""
    lat = float(document["coordinates"]["latitude"])
    lon = float(document["coordinates"]["longitude"])
    mix = document.get("energy_mix") or {}
    if mix.get("is_green_energy"):
        renewable: float | None = 100.0
    elif mix.get("energy_sources"):
        renewable = sum(
            float(s["percentage"])
            for s in mix["energy_sources"]
            if s["source"] in ("GENERAL_GREEN", "SOLAR", "WIND", "WATER")
        )
    else:
        renewable = None
    rows: dict[str, dict[str, Any]] = {}
    for e in document.get("evses") or []:
        connectors = {}
        for c in e.get("connectors") or []:
            if "max_electric_power" in c:
                kw = c["max_electric_power"] / 1000
            else:
                kw = c["max_voltage"] * c["max_amperage"] * PHASES[c["power_type"]] / 1000
            ids = [t.upper() for t in c.get("tariff_ids") or []]
            connectors[c["id"].upper()] = {
                "standard": c["standard"],
                "format": c["format"],
                "power_type": c["power_type"],
                "max_power_kw": pytest.approx(kw),
                "tariff_ids": f"|{'|'.join(ids)}|" if ids else "",
            }
        point = e.get("coordinates") or {}
        rows[e["uid"].upper()] = {
            "evse_uid": e["uid"],
            "status": e["status"],
            "latitude": pytest.approx(float(point.get("latitude", lat))),
            "longitude": pytest.approx(float(point.get("longitude", lon))),
            "reservable": "RESERVABLE" in (e.get("capabilities") or []),
            "max_power_kw": pytest.approx(
                max((c["max_power_kw"].expected for c in connectors.values()), default=0.0)
            ),
            "published": document.get("publish") is not False,
            "operator_name": (document.get("operator") or {}).get("name"),
            "renewable_percent": renewable,
            "always_open": (document.get("opening_times") or {}).get("twentyfourseven") is True,
            "connectors": connectors,
        }
    return rows


@dataclass
class Net:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    async def send(
        self, peer: StrictPeer, method: str, path: str, body: Any, *, to: Any = None
    ) -> None:
        answer = await peer.call(
            method,
            f"{self.hub.url}/ocpi/2.2.1/{path}",
            to=to or peer.hub_party,
            content=exactjson.dumps(body),
        )
        assert answer.status_code == 200, answer.text
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        await self.hub.settle()

    async def cpo_sends(self, method: str, path: str, body: Any) -> None:
        await self.send(self.cpo, method, f"locations/receiver/NL/CPA/{path}", body)

    async def stored(self, location_id: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The stored document of a Location and its rows, as the comparison reads them."""
        async with self.hub.hub.db.transaction() as tx:
            doc = (
                await tx.execute(
                    select(Location).where(col(Location.object_id) == location_id.upper())
                )
            ).scalar_one()
            evses = (
                await tx.execute(select(EvseRow).where(col(EvseRow.location_pk) == doc.pk))
            ).scalars()
            rows: dict[str, dict[str, Any]] = {}
            for row in evses:
                connectors = (
                    await tx.execute(
                        select(ConnectorRow).where(col(ConnectorRow.evse_pk) == row.pk)
                    )
                ).scalars()
                rows[row.evse_key] = {
                    "evse_uid": row.evse_uid,
                    "status": row.status,
                    "latitude": row.latitude,
                    "longitude": row.longitude,
                    "reservable": row.reservable,
                    "max_power_kw": row.max_power_kw,
                    "published": row.published,
                    "operator_name": row.operator_name,
                    "renewable_percent": row.renewable_percent,
                    "always_open": row.always_open,
                    "connectors": {
                        c.connector_key: {
                            "standard": c.standard,
                            "format": c.format,
                            "power_type": c.power_type,
                            "max_power_kw": c.max_power_kw,
                            "tariff_ids": c.tariff_ids,
                        }
                        for c in connectors
                    },
                }
                assert (row.country_code, row.party_id, row.location_id) == (
                    "NL",
                    "CPA",
                    location_id.upper(),
                )
            return dict(doc.data), rows

    async def agree(self, location_id: str) -> dict[str, dict[str, Any]]:
        document, rows = await self.stored(location_id)
        assert rows == expected(document)
        return rows


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


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[Net]:
    async with network() as n:
        yield n


async def test_rows_follow_every_change_of_a_location(net: Net) -> None:
    base = location(*CPO, "QR1")
    base["last_updated"] = stamp(1)
    base["evses"] = [
        evse("E1", 1, dc_connector("1", 1)),
        {**base["evses"][0], "uid": "E2", "last_updated": stamp(1), "capabilities": []},
    ]
    await net.cpo_sends("PUT", "QR1", base)
    rows = await net.agree("QR1")
    # Worked numbers: 150 kW as the CPO capped it (not 920 V x 400 A); 230 V x 32 A x 3 phases.
    assert rows["E1"]["max_power_kw"] == 150.0
    assert rows["E2"]["max_power_kw"] == pytest.approx(22.08)
    assert (rows["E1"]["reservable"], rows["E2"]["reservable"]) == (True, False)

    # PATCH of the Location: where it is, who runs it, its energy and hours.
    await net.cpo_sends(
        "PATCH",
        "QR1",
        {
            "coordinates": {"latitude": "60.170500", "longitude": "24.941000"},
            "operator": {"name": "Helen"},
            "energy_mix": {
                "is_green_energy": False,
                "energy_sources": [
                    {"source": "WIND", "percentage": 40},
                    {"source": "SOLAR", "percentage": 12.5},
                    {"source": "NUCLEAR", "percentage": 47.5},
                ],
            },
            "opening_times": {"twentyfourseven": True},
            "last_updated": stamp(2),
        },
    )
    rows = await net.agree("QR1")
    assert rows["E2"]["latitude"] == pytest.approx(60.1705)
    assert rows["E1"]["renewable_percent"] == 52.5

    # PATCH of one EVSE (its status), of one Connector (power and tariffs).
    await net.cpo_sends("PATCH", "QR1/E1", {"status": "CHARGING", "last_updated": stamp(3)})
    await net.cpo_sends(
        "PATCH",
        "QR1/E1/1",
        {"max_electric_power": 50000, "tariff_ids": ["slow", "x"], "last_updated": stamp(4)},
    )
    rows = await net.agree("QR1")
    assert (rows["E1"]["status"], rows["E1"]["max_power_kw"]) == ("CHARGING", 50.0)

    # PATCH of one EVSE without connectors changes that EVSE's row alone (the hub reads and
    # writes only it), whatever of its facts the PATCH moves; one with connectors, all of it.
    await net.cpo_sends(
        "PATCH",
        "QR1/E2",
        {
            "capabilities": ["RESERVABLE"],
            "coordinates": {"latitude": "60.200000", "longitude": "25.000000"},
            "status": "BLOCKED",
            "last_updated": stamp(4),
        },
    )
    rows = await net.agree("QR1")
    assert (rows["E2"]["reservable"], rows["E2"]["status"]) == (True, "BLOCKED")
    assert rows["E2"]["latitude"] == pytest.approx(60.2)
    await net.cpo_sends(
        "PATCH",
        "QR1/E2",
        {"connectors": [dc_connector("9", 4, max_electric_power=60000)], "last_updated": stamp(4)},
    )
    rows = await net.agree("QR1")
    assert (set(rows["E2"]["connectors"]), rows["E2"]["max_power_kw"]) == ({"9"}, 60.0)

    # PUT of a new EVSE, PUT replacing one (its connectors replaced), PUT of a new Connector.
    await net.cpo_sends(
        "PUT",
        "QR1/E3",
        evse(
            "E3",
            5,
            dc_connector("A", 5),
            coordinates={"latitude": "60.100000", "longitude": "24.900000"},
        ),
    )
    await net.cpo_sends(
        "PUT", "QR1/E1", evse("E1", 6, dc_connector("2", 6, standard="CHADEMO"), capabilities=[])
    )
    await net.cpo_sends(
        "PUT", "QR1/E3/B", dc_connector("B", 7, max_electric_power=350000, format="SOCKET")
    )
    rows = await net.agree("QR1")
    assert set(rows) == {"E1", "E2", "E3"}
    assert set(rows["E1"]["connectors"]) == {"2"}
    assert rows["E3"]["max_power_kw"] == 350.0

    # Removal: an EVSE's status REMOVED (its row stays, marked), then a PUT without it.
    await net.cpo_sends("PATCH", "QR1/E2", {"status": "REMOVED", "last_updated": stamp(8)})
    rows = await net.agree("QR1")
    assert rows["E2"]["status"] == "REMOVED"
    document, _ = await net.stored("QR1")
    await net.cpo_sends(
        "PUT",
        "QR1",
        {**document, "evses": [document["evses"][0]], "publish": False, "last_updated": stamp(9)},
    )
    rows = await net.agree("QR1")
    assert set(rows) == {"E1"}
    assert rows["E1"]["published"] is False


async def test_stale_and_orphan_changes_leave_the_rows_as_they_were(net: Net) -> None:
    base = location(*CPO, "QR2")
    base["last_updated"] = stamp(10)
    base["evses"][0]["last_updated"] = stamp(10)
    await net.cpo_sends("PUT", "QR2", base)
    before = await net.agree("QR2")
    # Older than what is stored (relayed, not stored), and a PATCH of an EVSE never pushed.
    await net.cpo_sends("PATCH", "QR2/QR2-E1", {"status": "BLOCKED", "last_updated": stamp(5)})
    await net.cpo_sends("PATCH", "QR2/NOPE", {"status": "BLOCKED", "last_updated": stamp(11)})
    assert await net.agree("QR2") == before
    # One id of an owner in any spelling is one EVSE (CiString): no second row.
    await net.cpo_sends("PATCH", "qr2/qr2-e1", {"status": "OUTOFORDER", "last_updated": stamp(12)})
    rows = await net.agree("QR2")
    assert list(rows) == ["QR2-E1"]
    assert rows["QR2-E1"]["status"] == "OUTOFORDER"


async def test_session_columns_follow_the_session_document(net: Net) -> None:
    body = charging_session(CPO, "QS1", EMSP)
    body["cdr_token"]["uid"] = "drv-1"
    body["location_id"], body["evse_uid"], body["status"] = "qr1", "e1", "PENDING"
    sessions = "sessions/receiver/NL/CPA/QS1"
    await net.send(net.cpo, "PUT", sessions, body, to=EMSP)
    await net.send(
        net.cpo,
        "PATCH",
        sessions,
        {"status": "ACTIVE", "kwh": 3.5, "last_updated": "2026-03-01T00:00:00Z"},
        to=EMSP,
    )
    async with net.hub.hub.db.transaction() as tx:
        row = (
            await tx.execute(select(Session).where(col(Session.object_id) == "QS1"))
        ).scalar_one()
    document = row.data
    assert document["status"] == "ACTIVE"
    assert (row.emsp_country_code, row.emsp_party_id, row.token_uid) == ("DE", "EMA", "DRV-1")
    assert (row.status, row.location_key, row.evse_key) == ("ACTIVE", "QR1", "E1")
