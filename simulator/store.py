"""In-memory object stores of a simulated back-office, and paginated GET lists over them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams

from simulator.protocol import parse_timestamp

DEFAULT_PAGE_LIMIT = 50

Key = tuple[str, ...]


class ObjectStore:
    """OCPI objects keyed by a tuple such as (cc, pid, id), kept as the JSON dicts sent."""

    def __init__(self) -> None:
        self._items: dict[Key, dict[str, Any]] = {}

    def put(self, key: Key, obj: dict[str, Any]) -> None:
        self._items[tuple(k.upper() for k in key)] = obj

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._items.get(tuple(k.upper() for k in key))

    def delete(self, key: Key) -> dict[str, Any] | None:
        return self._items.pop(tuple(k.upper() for k in key), None)

    def values(self) -> list[dict[str, Any]]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class BadQuery(ValueError):
    """A list query parameter that cannot be used (answered with OCPI 2001)."""


def page(
    objects: Iterable[dict[str, Any]], url: URL, *, max_limit: int = DEFAULT_PAGE_LIMIT
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of a GET list and its headers (transport_and_format, Pagination).

    ``date_from`` is inclusive and ``date_to`` exclusive on ``last_updated``; the order is
    stable (last_updated, then key fields), so walking the ``Link`` headers returns every
    object exactly once.
    """
    query = QueryParams(url.query)
    date_from = _moment(query, "date_from")
    date_to = _moment(query, "date_to")
    offset = _int(query, "offset", 0)
    limit = min(_int(query, "limit", max_limit), max_limit)
    if limit < 1:
        raise BadQuery("limit must be at least 1")
    selected = [
        obj
        for obj in objects
        if (date_from is None or parse_timestamp(obj["last_updated"]) >= date_from)
        and (date_to is None or parse_timestamp(obj["last_updated"]) < date_to)
    ]
    selected.sort(key=_order)
    chunk = selected[offset : offset + limit]
    headers = {"X-Total-Count": str(len(selected)), "X-Limit": str(limit)}
    if offset + limit < len(selected):
        params = dict(query)
        params.update({"offset": str(offset + limit), "limit": str(limit)})
        headers["Link"] = f'<{url.replace(query=urlencode(params))}>; rel="next"'
    return chunk, headers


def _order(obj: dict[str, Any]) -> tuple[Any, ...]:
    return (
        parse_timestamp(obj["last_updated"]),
        obj.get("country_code", ""),
        obj.get("party_id", ""),
        str(obj.get("id") or obj.get("uid") or ""),
    )


def _moment(query: QueryParams, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise BadQuery(f"{name} is not an OCPI DateTime") from None


def _int(query: QueryParams, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer") from None
    if value < 0:
        raise BadQuery(f"{name} must not be negative")
    return value
