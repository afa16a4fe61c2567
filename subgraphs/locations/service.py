"""The locations service: stores Locations (with EVSEs and Connectors) and Tariffs.

Children are kept inside their Location document. Pushing or patching a child also sets the
parents' ``last_updated`` to the child's, as mod_locations asks of a Receiver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from incar import documents, events
from incar.documents import Outcome, Page
from incar.timestamps import parse_timestamp
from subgraphs.locations import rows
from subgraphs.locations.models import Location, Tariff

TOPIC_LOCATION = "locations.location"
TOPIC_EVSE_STATUS = "locations.evse.status"
TOPIC_TARIFF = "locations.tariff"


_key = documents.key


def _find(items: list[dict[str, Any]], field: str, value: str) -> int | None:
    """The index of the child with this id; EVSE uids and Connector ids are CiStrings."""
    wanted = value.upper()
    for index, item in enumerate(items):
        if isinstance(item.get(field), str) and item[field].upper() == wanted:
            return index
    return None


def child(items: Any, field: str, value: str) -> dict[str, Any] | None:
    """The child (an EVSE by uid, a Connector by id) with this CiString id, if any."""
    children = [i for i in items or [] if isinstance(i, dict)]
    index = _find(children, field, value)
    return children[index] if index is not None else None


def _newer(stored: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """Whether the stored child is newer than the incoming one (out-of-order delivery)."""
    if "last_updated" not in stored:
        return False
    return parse_timestamp(stored["last_updated"]) > parse_timestamp(incoming["last_updated"])


def _evse_events(
    key: dict[str, str], before: dict[str, Any] | None, after: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """One event per EVSE whose status changed, with where it stands (subscribers watch a box
    on the map, and the event must be enough to decide)."""
    old = {e.get("uid"): e.get("status") for e in (before or {}).get("evses") or []}
    facts = {f.evse_uid: f for f in rows.derive(after)}
    found: list[tuple[str, dict[str, Any]]] = []
    for evse in after.get("evses") or []:
        if old.get(evse.get("uid")) != evse.get("status"):
            where = facts.get(evse.get("uid"))
            found.append(
                (
                    TOPIC_EVSE_STATUS,
                    {
                        "country_code": key["country_code"],
                        "party_id": key["party_id"],
                        "location_id": key["object_id"],
                        "evse_uid": evse.get("uid"),
                        "status": evse.get("status"),
                        "last_updated": evse.get("last_updated"),
                        "latitude": where.latitude if where else None,
                        "longitude": where.longitude if where else None,
                        # Who may see it: an unpublished Location is its CPO's own.
                        "published": after.get("publish") is not False,
                    },
                )
            )
    return found


async def _store(
    tx: AsyncSession,
    key: dict[str, str],
    last_updated: datetime,
    document: dict[str, Any],
    before: dict[str, Any] | None,
    *,
    only_evse: str | None = None,
) -> Outcome:
    """Stores the Location and brings its search rows along; ``only_evse`` says the change
    touched that EVSE alone and not its connectors (so only its row can differ)."""
    outcome, row = await documents.upsert(
        tx, Location, key=key, last_updated=last_updated, data=document
    )
    if outcome is not Outcome.STALE:
        assert row.pk is not None
        if only_evse is None:
            await rows.sync(tx, location_pk=row.pk, key=key, document=row.data)
        else:
            await rows.sync_evse(
                tx, location_pk=row.pk, key=key, document=row.data, evse_uid=only_evse
            )
        location = {
            **_payload(key),
            "last_updated": document.get("last_updated"),
            "change": outcome.value,
        }
        await events.publish_all(
            tx, [(TOPIC_LOCATION, location), *_evse_events(key, before, document)]
        )
    return outcome


def _payload(key: dict[str, str]) -> dict[str, str]:
    return {
        "country_code": key["country_code"],
        "party_id": key["party_id"],
        "location_id": key["object_id"],
    }


async def get_location(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    location_id: str,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The stored Location; ``for_update`` locks it until the transaction ends (read-modify-
    write: a concurrent PATCH of another EVSE must not overwrite this one's change)."""
    key = _key(country_code, party_id, location_id)
    return await documents.data_of(tx, Location, key=key, for_update=for_update)


def _parent_stamp(parent: dict[str, Any], child_stamp: str) -> str:
    """A parent's last_updated after a child's change: the newer of the two. Children of one
    Location may arrive out of order; each is judged by its own last_updated, never by the
    parent's, and the parent never goes back in time."""
    own = parent.get("last_updated")
    if isinstance(own, str) and parse_timestamp(own) > parse_timestamp(child_stamp):
        return own
    return child_stamp


async def put_location(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["id"])
    before = await get_location(
        tx,
        country_code=key["country_code"],
        party_id=key["party_id"],
        location_id=data["id"],
        for_update=True,
    )
    return await _store(tx, key, parse_timestamp(data["last_updated"]), data, before)


async def patch_location(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    location_id: str,
    patch: dict[str, Any],
) -> Outcome:
    key = _key(country_code, party_id, location_id)
    before = await get_location(
        tx,
        country_code=country_code,
        party_id=party_id,
        location_id=location_id,
        for_update=True,
    )
    if before is None:
        return Outcome.UNKNOWN
    return await _store(
        tx, key, parse_timestamp(patch["last_updated"]), documents.merge(before, patch), before
    )


async def upsert_evse(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    evse: dict[str, Any],
    replace: bool,
) -> Outcome:
    """PUT (``replace``) or PATCH of one EVSE; a PATCH of an EVSE the hub never saw is skipped."""
    key = _key(country_code, party_id, location_id)
    before = await get_location(
        tx,
        country_code=country_code,
        party_id=party_id,
        location_id=location_id,
        for_update=True,
    )
    if before is None:
        return Outcome.UNKNOWN
    evses = list(before.get("evses") or [])
    index = _find(evses, "uid", evse_uid)
    if index is None and not replace:
        return Outcome.UNKNOWN
    if index is not None and _newer(evses[index], evse):
        return Outcome.STALE
    new = evse if replace or index is None else documents.merge(evses[index], evse)
    if index is None:
        evses.append(new)
    else:
        evses[index] = new
    stamp = _parent_stamp(before, evse["last_updated"])
    document = {**before, "evses": evses, "last_updated": stamp}
    # A PATCH that names no connectors (a status update) changes this EVSE's row alone.
    only = evse_uid if index is not None and not replace and "connectors" not in evse else None
    return await _store(tx, key, parse_timestamp(stamp), document, before, only_evse=only)


async def upsert_connector(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    connector: dict[str, Any],
    replace: bool,
) -> Outcome:
    key = _key(country_code, party_id, location_id)
    before = await get_location(
        tx,
        country_code=country_code,
        party_id=party_id,
        location_id=location_id,
        for_update=True,
    )
    if before is None:
        return Outcome.UNKNOWN
    evses = list(before.get("evses") or [])
    evse_index = _find(evses, "uid", evse_uid)
    if evse_index is None:
        return Outcome.UNKNOWN
    connectors = list(evses[evse_index].get("connectors") or [])
    index = _find(connectors, "id", connector_id)
    if index is None and not replace:
        return Outcome.UNKNOWN
    if index is not None and _newer(connectors[index], connector):
        return Outcome.STALE
    stamp = connector["last_updated"]
    new = connector if replace or index is None else documents.merge(connectors[index], connector)
    if index is None:
        connectors.append(new)
    else:
        connectors[index] = new
    evse = evses[evse_index]
    evses[evse_index] = {
        **evse,
        "connectors": connectors,
        "last_updated": _parent_stamp(evse, stamp),
    }
    location_stamp = _parent_stamp(before, stamp)
    document = {**before, "evses": evses, "last_updated": location_stamp}
    return await _store(tx, key, parse_timestamp(location_stamp), document, before)


async def page_locations(
    tx: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    return await documents.page(
        tx, Location, date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )


async def put_tariff(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["id"])
    outcome, _ = await documents.upsert(
        tx, Tariff, key=key, last_updated=parse_timestamp(data["last_updated"]), data=data
    )
    if outcome is not Outcome.STALE:
        await events.publish(
            tx,
            TOPIC_TARIFF,
            {**_tariff_payload(key), "last_updated": data["last_updated"], "change": outcome.value},
        )
    return outcome


async def get_tariff(
    tx: AsyncSession, *, country_code: str, party_id: str, tariff_id: str
) -> dict[str, Any] | None:
    """The stored Tariff (its latest version: the hub keeps no history)."""
    return await documents.data_of(tx, Tariff, key=_key(country_code, party_id, tariff_id))


async def delete_tariff(
    tx: AsyncSession, *, country_code: str, party_id: str, tariff_id: str
) -> Outcome:
    key = _key(country_code, party_id, tariff_id)
    row = await documents.locked(tx, Tariff, key=key)
    if row is None:
        return Outcome.UNKNOWN
    await documents.delete(tx, Tariff, key=key)
    await events.publish(tx, TOPIC_TARIFF, {**_tariff_payload(key), "change": "deleted"})
    return Outcome.DELETED


def _tariff_payload(key: dict[str, str]) -> dict[str, str]:
    return {
        "country_code": key["country_code"],
        "party_id": key["party_id"],
        "tariff_id": key["object_id"],
    }


async def page_tariffs(
    tx: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    return await documents.page(
        tx, Tariff, date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )
