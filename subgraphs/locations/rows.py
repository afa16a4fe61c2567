"""The locations subgraph's query rows, derived from a stored Location document.

The hub keeps each Location as its CPO sent it; the graph searches EVSEs by position, status,
connector standard and power, which JSON cannot answer quickly. ``sync`` rewrites the rows of
one Location inside the transaction that stores its document, so the two never disagree, and
touches only the rows that changed: an EVSE status PATCH updates one row, not the Location's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar import direct
from incar.timestamps import parse_timestamp
from subgraphs.locations.models import ConnectorRow, EvseRow

_EVSES: Table = EvseRow.__table__  # type: ignore[attr-defined]
#: The hot path's statement, built once: SET takes the columns its parameters name.
_UPDATE_EVSE = update(_EVSES).where(
    _EVSES.c.location_pk == bindparam("b_location_pk"),
    _EVSES.c.evse_key == bindparam("b_evse_key"),
)

# EnergySourceCategory values that are renewable (mod_locations, EnergySourceCategory).
RENEWABLE = frozenset({"GENERAL_GREEN", "SOLAR", "WIND", "WATER"})
# How many phases carry the connector's amperage at max_voltage (line to neutral for AC).
PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}


@dataclass(frozen=True, slots=True)
class ConnectorFacts:
    connector_key: str
    connector_id: str
    standard: str
    format: str
    power_type: str
    max_power_kw: float
    tariff_ids: str


@dataclass(frozen=True, slots=True)
class EvseFacts:
    evse_key: str
    evse_uid: str
    evse_id: str | None
    latitude: float
    longitude: float
    status: str
    reservable: bool
    capabilities: str
    max_power_kw: float
    last_updated: Any
    published: bool
    operator_name: str | None
    renewable_percent: float | None
    always_open: bool
    time_zone: str | None
    connectors: tuple[ConnectorFacts, ...]

    def columns(self) -> dict[str, Any]:
        values = asdict(self)
        del values["connectors"]
        return values


def connector_power_kw(connector: Mapping[str, Any]) -> float:
    """The most a connector delivers: ``max_electric_power`` where the CPO gives it (it may be
    lower than volts * amps), else volts * amps * phases."""
    given = connector.get("max_electric_power")
    if isinstance(given, int | float) and given >= 0:
        return float(given) / 1000
    volts, amps = connector.get("max_voltage"), connector.get("max_amperage")
    if not isinstance(volts, int | float) or not isinstance(amps, int | float):
        return 0.0
    return float(volts) * float(amps) * PHASES.get(str(connector.get("power_type")), 1) / 1000


def _bars(values: Sequence[Any]) -> str:
    """``|A|B|``: a set in one indexed text column, where ``LIKE '%|A|%'`` finds a member."""
    members = [str(v).upper() for v in values if isinstance(v, str) and v]
    return f"|{'|'.join(members)}|" if members else ""


def renewable_percent(location: Mapping[str, Any]) -> float | None:
    mix = location.get("energy_mix")
    if not isinstance(mix, Mapping):
        return None
    if mix.get("is_green_energy") is True:
        return 100.0
    sources = mix.get("energy_sources")
    if not isinstance(sources, list) or not sources:
        return None
    return float(
        sum(
            float(s.get("percentage") or 0)
            for s in sources
            if isinstance(s, Mapping) and s.get("source") in RENEWABLE
        )
    )


def _coordinates(item: Mapping[str, Any]) -> tuple[float, float] | None:
    point = item.get("coordinates")
    if not isinstance(point, Mapping):
        return None
    try:
        return float(point["latitude"]), float(point["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def derive(location: Mapping[str, Any]) -> list[EvseFacts]:
    """The rows of a Location document: one per EVSE (REMOVED ones included: a search leaves
    them out, a lookup of the EVSE still finds it)."""
    position = _coordinates(location) or (0.0, 0.0)
    operator = location.get("operator")
    opening = location.get("opening_times")
    zone = location.get("time_zone")
    published = location.get("publish") is not False
    operator_name = operator.get("name") if isinstance(operator, Mapping) else None
    renewable = renewable_percent(location)
    always_open = isinstance(opening, Mapping) and opening.get("twentyfourseven") is True
    rows: list[EvseFacts] = []
    seen: set[str] = set()
    for evse in location.get("evses") or []:
        uid = evse.get("uid")
        if not isinstance(uid, str) or uid.upper() in seen:
            continue
        seen.add(uid.upper())
        connectors = tuple(
            ConnectorFacts(
                connector_key=str(c["id"]).upper(),
                connector_id=str(c["id"]),
                standard=str(c.get("standard", "")),
                format=str(c.get("format", "")),
                power_type=str(c.get("power_type", "")),
                max_power_kw=connector_power_kw(c),
                tariff_ids=_bars(c.get("tariff_ids") or []),
            )
            for c in _unique(evse.get("connectors") or [])
        )
        capabilities = evse.get("capabilities") or []
        latitude, longitude = _coordinates(evse) or position
        rows.append(
            EvseFacts(
                evse_key=uid.upper(),
                evse_uid=uid,
                evse_id=evse.get("evse_id") if isinstance(evse.get("evse_id"), str) else None,
                latitude=latitude,
                longitude=longitude,
                status=str(evse.get("status", "UNKNOWN")),
                reservable="RESERVABLE" in capabilities,
                capabilities=_bars(capabilities),
                max_power_kw=max((c.max_power_kw for c in connectors), default=0.0),
                last_updated=parse_timestamp(evse.get("last_updated") or location["last_updated"]),
                connectors=connectors,
                published=published,
                operator_name=operator_name,
                renewable_percent=renewable,
                always_open=always_open,
                time_zone=zone if isinstance(zone, str) else None,
            )
        )
    return rows


def _unique(connectors: Sequence[Any]) -> list[Mapping[str, Any]]:
    seen: set[str] = set()
    unique = []
    for connector in connectors:
        ident = connector.get("id") if isinstance(connector, Mapping) else None
        if isinstance(ident, str) and ident.upper() not in seen:
            seen.add(ident.upper())
            unique.append(connector)
    return unique


async def sync(
    tx: AsyncSession, *, location_pk: int, key: Mapping[str, str], document: Mapping[str, Any]
) -> None:
    """Brings the rows of one Location to what its stored document says: two reads (its EVSE
    rows, their connector rows), then writes only where a value differs."""
    wanted = {facts.evse_key: facts for facts in derive(document)}
    stored = {
        row.evse_key: row
        for row in (
            await tx.execute(select(EvseRow).where(col(EvseRow.location_pk) == location_pk))
        ).scalars()
    }
    connectors: dict[int, dict[str, ConnectorRow]] = {}
    if stored:
        pks = [row.pk for row in stored.values()]
        for connector in (
            await tx.execute(select(ConnectorRow).where(col(ConnectorRow.evse_pk).in_(pks)))
        ).scalars():
            connectors.setdefault(connector.evse_pk, {})[connector.connector_key] = connector
    gone = [row.pk for evse_key, row in stored.items() if evse_key not in wanted]
    if gone:  # EVSEs a PUT of the whole Location no longer lists; their connectors cascade
        await tx.execute(delete(ConnectorRow).where(col(ConnectorRow.evse_pk).in_(gone)))
        await tx.execute(delete(EvseRow).where(col(EvseRow.pk).in_(gone)))
    added = []
    for evse_key, facts in wanted.items():
        row = stored.get(evse_key)
        if row is None:
            row = EvseRow(
                location_pk=location_pk,
                country_code=key["country_code"],
                party_id=key["party_id"],
                location_id=key["object_id"],
                **facts.columns(),
            )
            tx.add(row)
            added.append((row, facts))
            continue
        _assign(row, facts.columns())
        assert row.pk is not None
        await _sync_connectors(tx, row.pk, connectors.get(row.pk, {}), facts.connectors)
    if added:
        await tx.flush()  # the new EVSE rows' keys, for their connectors
        for row, facts in added:
            assert row.pk is not None
            await _sync_connectors(tx, row.pk, {}, facts.connectors)
    await tx.flush()


async def sync_evse(
    tx: AsyncSession,
    *,
    location_pk: int,
    key: Mapping[str, str],
    document: Mapping[str, Any],
    evse_uid: str,
) -> None:
    """``sync`` after a change of one EVSE that left its connectors as they were (an EVSE
    PATCH without ``connectors``, the hot path of status updates): one UPDATE of that EVSE's
    row, by its unique key, with what the document says now.

    Falls back to the whole Location's ``sync`` where another row could have changed too: an
    EVSE without a last_updated of its own takes the Location's (which the change moved), and
    a row not there yet (the UPDATE found none) is made by ``sync`` with its connectors."""
    evses = document.get("evses") or []
    wanted = [facts for facts in derive(document) if facts.evse_key == evse_uid.upper()]
    own_stamps = all(isinstance(e.get("last_updated"), str) for e in evses)
    if wanted and own_stamps:
        columns = wanted[0].columns()
        where = {"b_location_pk": location_pk, "b_evse_key": columns["evse_key"]}
        # On the driver connection: the hot path of status PATCHes (incar.direct).
        if (await direct.execute(tx, _UPDATE_EVSE, {**where, **columns})).rowcount == 1:
            return
    await sync(tx, location_pk=location_pk, key=key, document=document)


def _assign(row: Any, values: Mapping[str, Any]) -> None:
    """Sets only what differs, so that an unchanged row costs no UPDATE."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


async def _sync_connectors(
    tx: AsyncSession,
    evse_pk: int,
    stored: Mapping[str, ConnectorRow],
    connectors: Sequence[ConnectorFacts],
) -> None:
    wanted = {c.connector_key: c for c in connectors}
    for connector_key, row in stored.items():
        if connector_key not in wanted:
            await tx.delete(row)
    for connector_key, facts in wanted.items():
        existing = stored.get(connector_key)
        if existing is None:
            tx.add(ConnectorRow(evse_pk=evse_pk, **asdict(facts)))
        else:
            _assign(existing, asdict(facts))
