"""``incar tariff price --cdr FILE [--tariff FILE] [--time-zone ZONE] [--json]``: the hub's
price check of one CDR, offline.

The CDR is priced against the tariffs of ``--tariff`` (a file with one Tariff or a list), else
the ones it carries (its ``tariffs``), with the calculator the hub uses when it stores a CDR;
the output is the breakdown, total_cost excl. and incl. VAT (OCPI's Price), the CDR's stated
total and whether it matches. Exit status 0 when it was priced (matching or not), 1 when it
cannot be priced, 2 for a file that cannot be read: each failure is one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from subgraphs.accounting.models import Amount, PriceCheckStatus
from subgraphs.accounting.price_check import Checked, carried_tariffs, check
from subgraphs.locations.pricing import CdrPrice, decimals

PROG = "incar tariff price"
BAD_INPUT = 2
UNPRICEABLE = 1


class BadInput(Exception):
    """A file or option the command cannot use; the message is the line for stderr."""


def _read(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"cannot read {what} file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{what} file {path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"{what} file {path} is not JSON: {error}") from None


def _cdr(path: Path) -> dict[str, Any]:
    cdr = _read(path, "CDR")
    if not isinstance(cdr, dict):
        raise BadInput(f"CDR file {path} does not hold a JSON object (a CDR)")
    return cdr


def _tariffs(path: Path) -> dict[str, Mapping[str, Any]]:
    data = _read(path, "tariff")
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(t, dict) and isinstance(t.get("id"), str) for t in items):
        raise BadInput(f"tariff file {path} holds neither a Tariff nor a list of Tariffs")
    return {t["id"].upper(): t for t in items}


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"--time-zone {name!r} is not an IANA time zone") from None


def _price(value: Amount | None) -> dict[str, float | None] | None:
    if value is None:
        return None
    return {
        "excl_vat": float(value.excl_vat),
        "incl_vat": None if value.incl_vat is None else float(value.incl_vat),
    }


def _as_json(cdr: Mapping[str, Any], checked: Checked, price: CdrPrice) -> str:
    result = checked.result
    breakdown = {
        name: {
            "quantity": float(total.quantity),
            "excl_vat": float(total.excl_vat),
            "incl_vat": float(total.incl_vat),
        }
        for name, total in _dimensions(price)
    }
    return json.dumps(
        {
            "cdr": {key: cdr.get(key) for key in ("country_code", "party_id", "id")},
            "currency": price.currency,
            "credit": price.credit,
            "tariff_ids": list(price.tariff_ids),
            "breakdown": breakdown,
            "stated_breakdown": {name: cdr.get(field) for name, field in STATED.items()},
            "lines": [
                {
                    "dimension": str(line.dimension),
                    "reservation": line.reservation,
                    "start_date_time": line.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end_date_time": line.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "quantity": float(line.quantity),
                    "price": float(line.price),
                    "vat": None if line.vat is None else float(line.vat),
                    "excl_vat": float(line.excl_vat),
                    "incl_vat": float(line.incl_vat),
                }
                for line in price.lines
            ],
            "min_price_applied": price.min_price_applied,
            "max_price_applied": price.max_price_applied,
            "total_cost": _price(result.calculated),
            "stated_total_cost": cdr.get("total_cost"),
            "difference": _price(result.difference),
            "status": str(result.status),
            "matches": result.status is PriceCheckStatus.OK,
            "reason": result.reason,
            "notes": list(price.notes),
        }
    )


def _dimensions(price: CdrPrice) -> list[tuple[str, Any]]:
    return [
        ("energy", price.energy),
        ("time", price.time),
        ("parking", price.parking),
        ("flat", price.flat),
        ("reservation", price.reservation),
    ]


UNITS = {"energy": "kWh", "time": "h", "parking": "h", "flat": "", "reservation": "h"}
# The CDR's own cost of each part, shown beside the calculation (information only: the check
# compares total_cost). total_fixed_cost leaves out parking and reservation fees, which the
# breakdown's flat does too.
STATED = {
    "energy": "total_energy_cost",
    "time": "total_time_cost",
    "parking": "total_parking_cost",
    "flat": "total_fixed_cost",
    "reservation": "total_reservation_cost",
}


def _stated_part(cdr: Mapping[str, Any], name: str, places: int) -> str:
    stated = cdr.get(STATED[name])
    if not isinstance(stated, Mapping):
        return ""
    try:
        excl = _number(stated.get("excl_vat"), places)
        incl = _number(stated.get("incl_vat"), places)
    except (ArithmeticError, ValueError):
        return f"  {STATED[name]}: {stated}"
    return f"  {STATED[name]}: {excl} / {incl}"


def _number(value: Decimal | float | None, places: int = 0) -> str:
    """``value`` with at least ``places`` decimals, and all it has beyond (lines are exact)."""
    if value is None:
        return "unknown"
    number = Decimal(str(value)).normalize()
    quantum = Decimal(f"1e-{places}")
    return format(number.quantize(quantum) if number == number.quantize(quantum) else number, "f")


def _as_text(cdr: Mapping[str, Any], checked: Checked, price: CdrPrice) -> str:
    result = checked.result
    owner = f"{cdr.get('country_code')}*{cdr.get('party_id')} {cdr.get('id')}"
    kind = "credit CDR" if price.credit else "CDR"
    places = decimals(price.currency)
    rows = [
        f"{kind} {owner} in {price.currency}, tariffs {', '.join(price.tariff_ids)}",
        f"{'':<19}{'quantity':>12}  {'excl_vat':>12}  {'incl_vat':>12}",
    ]
    for name, total in _dimensions(price):
        quantity = f"{_number(total.quantity)} {UNITS[name]}".strip()
        rows.append(
            f"{name:<19}{quantity:>12}  {_number(total.excl_vat, places):>12}  "
            f"{_number(total.incl_vat, places):>12}" + _stated_part(cdr, name, places)
        )
    calculated, stated = result.calculated, cdr.get("total_cost") or {}
    assert calculated is not None  # priced
    bounds = [b for b, on in (("min_price", price.min_price_applied),
                              ("max_price", price.max_price_applied)) if on]  # fmt: skip
    rows += [
        f"{'total_cost':<19}{'':>12}  {_number(calculated.excl_vat, places):>12}  "
        f"{_number(calculated.incl_vat, places):>12}"
        + (f"  ({', '.join(bounds)})" if bounds else ""),
        f"{'stated total_cost':<19}{'':>12}  {_number(stated.get('excl_vat'), places):>12}  "
        f"{_number(stated.get('incl_vat'), places):>12}",
    ]
    if result.status is PriceCheckStatus.OK:
        rows.append("matches: yes (within one minor unit of the currency)")
    else:
        rows.append(f"matches: no: {result.reason}")
    rows += [f"note: {note}" for note in price.notes if note not in (result.reason or "")]
    return "\n".join(rows)


def run(cdr_file: Path, tariff_file: Path | None, *, time_zone: str | None, as_json: bool) -> int:
    try:
        cdr = _cdr(cdr_file)
        tariffs = _tariffs(tariff_file) if tariff_file else carried_tariffs(cdr)
        zone = _zone(time_zone)
    except BadInput as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return BAD_INPUT
    checked = check(cdr, tariffs, zone=zone)
    price = checked.price
    if price is None:
        reason = checked.result.reason or "unknown"
        hint = " (give --time-zone)" if "time_zone is unknown" in reason else ""
        if not tariffs:
            hint = " (the CDR carries no tariffs: give --tariff FILE)"
        print(f"{PROG}: cannot price the CDR: {reason}{hint}", file=sys.stderr)
        return UNPRICEABLE
    print(_as_json(cdr, checked, price) if as_json else _as_text(cdr, checked, price))
    return 0
