"""Whether a CDR's total_cost follows the tariffs it names: the hub's check, kept with the CDR.

``check`` prices a CDR with the tariff calculator (``price_cdr``) and compares its stated
total; ``of`` finds what the check needs in the hub (the tariffs the CDR names but does not
carry, its Location's time zone) and never raises: a CDR is stored whatever its check says,
and a check that fails is "unpriceable" with the reason (docs/pricing.md, "Checking a CDR's
price").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.accounting.models import Amount, PriceCheck, PriceCheckStatus
from subgraphs.locations import service as locations
from subgraphs.locations.pricing import (
    CdrPrice,
    PricingError,
    minor_unit,
    named_tariffs,
    number,
    price_cdr,
    reads_local_time,
    timestamp,
)

log = logging.getLogger(__name__)

__all__ = ["Checked", "carried_tariffs", "check", "of", "tolerance"]


@dataclass(frozen=True)
class Checked:
    """A check with the price it compared (None when unpriceable), for a full breakdown."""

    result: PriceCheck
    price: CdrPrice | None


def tolerance(currency: str) -> Decimal:
    """The difference allowed for rounding: one minor unit (0.01 EUR, 1 JPY)."""
    return minor_unit(currency)


def _stated(cdr: Mapping[str, Any]) -> Amount:
    total = cdr.get("total_cost")
    if not isinstance(total, Mapping):
        raise PricingError("cdr: total_cost is missing")
    incl = total.get("incl_vat")
    return Amount(
        excl_vat=number(total.get("excl_vat"), "total_cost.excl_vat", of="cdr"),
        incl_vat=None if incl is None else number(incl, "total_cost.incl_vat", of="cdr"),
    )


def _compare(stated: Amount, price: CdrPrice) -> PriceCheck:
    calculated = Amount(price.total_excl_vat, price.total_incl_vat)
    excl = stated.excl_vat - calculated.excl_vat
    incl = (
        None
        if stated.incl_vat is None or calculated.incl_vat is None
        else stated.incl_vat - calculated.incl_vat
    )
    allowed = tolerance(price.currency)
    off = [
        f"total_cost.{side} {given} is {difference:+} from the calculated {hub}"
        for side, given, hub, difference in (
            ("excl_vat", stated.excl_vat, calculated.excl_vat, excl),
            ("incl_vat", stated.incl_vat, calculated.incl_vat, incl),
        )
        if difference is not None and abs(difference) > allowed
    ]
    # A period a price changes within often explains a difference: said with the mismatch.
    reason = f"{'; '.join(off)} (more than {allowed} {price.currency})"
    return PriceCheck(
        status=PriceCheckStatus.MISMATCH if off else PriceCheckStatus.OK,
        reason="; ".join([reason, *price.notes]) if off else None,
        calculated=calculated,
        difference=Amount(excl, incl),
    )


def check(
    cdr: Mapping[str, Any], tariffs: Mapping[str, Mapping[str, Any]], *, zone: ZoneInfo | None
) -> Checked:
    """The check of ``cdr`` against ``tariffs`` (by upper-cased id) in the Location's zone."""
    try:
        stated = _stated(cdr)
        price = price_cdr(cdr, tariffs, zone=zone)
    except PricingError as error:
        return Checked(PriceCheck(PriceCheckStatus.UNPRICEABLE, reason=str(error)), None)
    return Checked(_compare(stated, price), price)


def carried_tariffs(cdr: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The CDR's own ``tariffs``, by upper-cased id (ids are CiStrings)."""
    carried = cdr.get("tariffs")
    items = carried if isinstance(carried, list) else []
    return {str(t.get("id", "")).upper(): t for t in items if isinstance(t, Mapping)}


async def _stored_tariffs(
    tx: AsyncSession, cdr: Mapping[str, Any], missing: set[str]
) -> dict[str, Mapping[str, Any]]:
    """The tariffs the CDR's periods name and it does not carry, as the hub stores them."""
    start = timestamp(cdr.get("start_date_time"), "start_date_time", of="cdr")
    found: dict[str, Mapping[str, Any]] = {}
    for tariff_id in sorted(missing):
        stored = await locations.get_tariff(
            tx,
            country_code=str(cdr["country_code"]),
            party_id=str(cdr["party_id"]),
            tariff_id=tariff_id,
        )
        if stored is None:
            continue  # the calculator names it unknown
        updated = timestamp(stored.get("last_updated"), "last_updated")
        if start is not None and updated is not None and updated > start:
            raise PricingError(
                f"tariff {tariff_id} is stored as updated at {updated.isoformat()}, after the "
                "session started; the hub keeps only its latest version, perhaps not the one "
                "the driver accepted"
            )
        found[tariff_id] = stored
    return found


async def _zone(tx: AsyncSession, cdr: Mapping[str, Any]) -> ZoneInfo | None:
    location = cdr.get("cdr_location")
    if not isinstance(location, Mapping) or not isinstance(location.get("id"), str):
        return None
    stored = await locations.get_location(
        tx,
        country_code=str(cdr["country_code"]),
        party_id=str(cdr["party_id"]),
        location_id=location["id"],
    )
    name = (stored or {}).get("time_zone")
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


async def of(tx: AsyncSession, cdr: Mapping[str, Any]) -> PriceCheck:
    """The check of a CDR the hub is storing in ``tx``; never raises.

    Its reads (the tariffs the CDR names but does not carry; the Location's time_zone, when a
    tariff reads the local time) run in a savepoint: a failing query is rolled back to it, and
    the CDR's own transaction goes on.
    """
    try:
        carried = carried_tariffs(cdr)
        missing = named_tariffs(cdr) - set(carried)
        stored: dict[str, Mapping[str, Any]] = {}
        zone = None
        # Most CDRs carry their tariffs, without local-time restrictions: no read at all.
        if missing or reads_local_time(carried):
            async with tx.begin_nested():
                stored = await _stored_tariffs(tx, cdr, missing)
                if reads_local_time({**stored, **carried}):
                    zone = await _zone(tx, cdr)
        return check(cdr, {**stored, **carried}, zone=zone).result
    except PricingError as error:
        return PriceCheck(PriceCheckStatus.UNPRICEABLE, reason=str(error))
    except Exception as error:  # the check must never cost a CDR its place in the ledger
        log.exception("the price check of CDR %s failed", cdr.get("id"))
        return PriceCheck(
            PriceCheckStatus.UNPRICEABLE,
            reason=f"the check failed: {type(error).__name__}: {first_line(error)}",
        )
