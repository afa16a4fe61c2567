"""A CDR search as CSV, one row per CDR, streamed: keyset pages of 1,000 CDRs are read and
written out one after another, so an export of any size holds one page at a time.

The columns (docs/accounting.md, "CSV export") are what an accountant reconciles an invoice
and a ledger with: who (CPO, eMSP, token, contract), when and where, how much (energy, times,
every cost part with and without VAT, in the CDR's currency), which tariffs, whether it is a
credit CDR, and the CDR's ledger entry (index and transaction id). Times and ids are as the
CPO sent them; a number is written in its shortest decimal form.

The same filters serve ``incar cdrs export`` and the HTTP export (``filter_names.FILTERS``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import orjson
from sqlalchemy import Text, and_, cast, select
from sqlmodel import col

from incar.db import Database
from incar.timestamps import parse_timestamp
from subgraphs.accounting import search
from subgraphs.accounting.filter_names import FILTERS
from subgraphs.accounting.ledger.models import LedgerEntry
from subgraphs.accounting.models import Cdr, PriceCheckStatus, plain_amount

CHUNK: Final = 1000
MEDIA_TYPE: Final = "text/csv; charset=utf-8"


def _text(value: Any) -> str:
    # By exact type, not isinstance: orjson gives plain values, and this runs per cell.
    kind = type(value)
    if kind is str:
        return str(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return repr(value)
    return str(value)


def _tariffs(data: dict[str, Any]) -> Any:
    ids = {t.get("id") for t in data.get("tariffs") or () if isinstance(t, dict)}
    ids |= {p.get("tariff_id") for p in data.get("charging_periods") or () if isinstance(p, dict)}
    return " ".join(sorted(i for i in ids if isinstance(i, str)))


def _credit(data: dict[str, Any]) -> Any:
    return data.get("credit") is True


type Read = tuple[str, ...] | Callable[[dict[str, Any]], Any]


#: The CSV's columns: header and how each is read from the CDR document.
COLUMNS: Final[tuple[tuple[str, Read], ...]] = (
    ("cdr_id", ("id",)),
    ("cpo_country_code", ("country_code",)),
    ("cpo_party_id", ("party_id",)),
    ("emsp_country_code", ("cdr_token", "country_code")),
    ("emsp_party_id", ("cdr_token", "party_id")),
    ("start_date_time", ("start_date_time",)),
    ("end_date_time", ("end_date_time",)),
    ("session_id", ("session_id",)),
    ("token_uid", ("cdr_token", "uid")),
    ("token_type", ("cdr_token", "type")),
    ("contract_id", ("cdr_token", "contract_id")),
    ("auth_method", ("auth_method",)),
    ("authorization_reference", ("authorization_reference",)),
    ("location_id", ("cdr_location", "id")),
    ("evse_uid", ("cdr_location", "evse_uid")),
    ("evse_id", ("cdr_location", "evse_id")),
    ("connector_id", ("cdr_location", "connector_id")),
    ("currency", ("currency",)),
    ("total_energy_kwh", ("total_energy",)),
    ("total_time_h", ("total_time",)),
    ("total_parking_time_h", ("total_parking_time",)),
    ("total_cost_excl_vat", ("total_cost", "excl_vat")),
    ("total_cost_incl_vat", ("total_cost", "incl_vat")),
    ("total_fixed_cost_excl_vat", ("total_fixed_cost", "excl_vat")),
    ("total_fixed_cost_incl_vat", ("total_fixed_cost", "incl_vat")),
    ("total_energy_cost_excl_vat", ("total_energy_cost", "excl_vat")),
    ("total_energy_cost_incl_vat", ("total_energy_cost", "incl_vat")),
    ("total_time_cost_excl_vat", ("total_time_cost", "excl_vat")),
    ("total_time_cost_incl_vat", ("total_time_cost", "incl_vat")),
    ("total_parking_cost_excl_vat", ("total_parking_cost", "excl_vat")),
    ("total_parking_cost_incl_vat", ("total_parking_cost", "incl_vat")),
    ("total_reservation_cost_excl_vat", ("total_reservation_cost", "excl_vat")),
    ("total_reservation_cost_incl_vat", ("total_reservation_cost", "incl_vat")),
    ("tariff_ids", _tariffs),
    ("credit", _credit),
    ("credit_reference_id", ("credit_reference_id",)),
    ("invoice_reference_id", ("invoice_reference_id",)),
    ("last_updated", ("last_updated",)),
)
#: After the document's columns: the CDR's ledger entry, then the hub's price check of it
#: (docs/pricing.md), read from the row's own columns.
HEADER: Final = (
    *(name for name, _ in COLUMNS),
    "ledger_index",
    "ledger_tx_id",
    "price_check",
    "price_calculated_excl_vat",
    "price_difference_excl_vat",
)

ROWS = select(
    col(Cdr.start_date_time),
    col(Cdr.pk),
    cast(col(Cdr.data), Text),
    col(LedgerEntry.idx),
    col(LedgerEntry.tx_id),
    col(Cdr.price_check),
    col(Cdr.price_calculated_excl_vat),
    col(Cdr.price_difference_excl_vat),
).outerjoin(
    LedgerEntry,
    and_(
        col(LedgerEntry.country_code) == col(Cdr.country_code),
        col(LedgerEntry.party_id) == col(Cdr.party_id),
        col(LedgerEntry.cdr_id) == col(Cdr.object_id),
    ),
)


def _cells(data: dict[str, Any]) -> list[str]:
    found = []
    for _, read in COLUMNS:
        if type(read) is tuple:
            value: Any = data
            for name in read:
                value = value.get(name) if type(value) is dict else None
        else:
            assert callable(read)
            value = read(data)
        found.append(_text(value))
    return found


def _lines(rows: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: commas, quotes where needed, CRLF
    writer.writerows(rows)
    return out.getvalue()


async def csv_chunks(
    db: Database, *, audience: search.Audience, filter: search.CdrFilter, chunk: int = CHUNK
) -> AsyncIterator[str]:
    """The CSV text: the header, then a piece per page of ``chunk`` CDRs."""
    yield _lines([HEADER])
    columns = ROWS
    async for page in search.walk(db, columns, audience=audience, filter=filter, chunk=chunk):
        rows = []
        for _start, _pk, text, idx, tx_id, checked, calculated, difference in page:
            rows.append(
                [
                    *_cells(orjson.loads(text)),
                    _text(idx),
                    _text(tx_id),
                    "" if checked is None else PriceCheckStatus(checked).value,
                    _amount(calculated),
                    _amount(difference),
                ]
            )
        yield _lines(rows)


def _amount(value: Any) -> str:
    """A stored amount in its shortest decimal form (the column keeps 6 decimals)."""
    return "" if value is None else f"{plain_amount(value):f}"


def _statuses(value: str | None) -> frozenset[PriceCheckStatus] | None:
    if value is None:
        return None
    try:
        return frozenset(PriceCheckStatus(part.strip().lower()) for part in value.split(","))
    except ValueError:
        known = ", ".join(s.value for s in PriceCheckStatus)
        raise search.SearchError(
            f"price_check: comma-separated statuses of {known}, not {value!r}"
        ) from None


def _party(name: str, value: str | None) -> search.Party | None:
    if value is None:
        return None
    cc, star, pid = value.partition("*")
    if not star or len(cc) != 2 or len(pid) != 3:
        raise search.SearchError(f"{name}: a party is CC*PID (e.g. FI*CP1), not {value!r}")
    return cc.upper(), pid.upper()


def _moment(name: str, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise search.SearchError(
            f"{name}: not an OCPI DateTime (e.g. 2026-01-31T00:00:00Z): {value!r}"
        ) from None


def filter_of(given: Mapping[str, str | None]) -> search.CdrFilter:
    """The search named by ``FILTERS``' values (absent or empty: no such filter); a value the
    search cannot take raises SearchError, naming it."""
    known = {f.name for f in FILTERS}
    unknown = sorted(set(given) - known)
    if unknown:
        raise search.SearchError(
            f"unknown filter {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    values = {name: (value or None) for name, value in given.items()}
    cpo = _party("cpo", values.get("cpo"))
    location_id = values.get("location_id")
    if location_id is not None and cpo is None:
        raise search.SearchError("location_id: name its CPO too (cpo); ids are unique per CPO only")
    found = search.CdrFilter(
        start_from=_moment("start_from", values.get("start_from")),
        start_to=_moment("start_to", values.get("start_to")),
        location=search.LocationRef(cpo[0], cpo[1], location_id) if cpo and location_id else None,
        evse_uid=values.get("evse_uid"),
        token_uid=values.get("token_uid"),
        tariff_id=values.get("tariff_id"),
        cpo=cpo,
        emsp=_party("emsp", values.get("emsp")),
        price_check=_statuses(values.get("price_check")),
    )
    found.check()
    return found
