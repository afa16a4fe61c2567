"""Paginated GETs: the query parameters in, the Link/X-Total-Count/X-Limit headers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from incar.timestamps import parse_timestamp
from ocpi_adapter.envelope import page_headers
from ocpi_adapter.errors import InvalidParameters


@dataclass(frozen=True, slots=True)
class PageRequest:
    date_from: datetime | None
    date_to: datetime | None
    offset: int
    limit: int
    raw_date_from: str | None
    raw_date_to: str | None

    @classmethod
    def parse(cls, query: QueryParams, *, max_limit: int) -> PageRequest:
        def when(name: str) -> datetime | None:
            value = query.get(name)
            if value is None or value == "":
                return None
            try:
                return parse_timestamp(value)
            except ValueError:
                raise InvalidParameters(f"{name} is not an OCPI DateTime: {value!r}") from None

        def count(name: str, default: int) -> int:
            value = query.get(name)
            if value is None or value == "":
                return default
            if not value.isdigit():
                raise InvalidParameters(f"{name} must be a non-negative integer, got {value!r}")
            return int(value)

        limit = count("limit", max_limit)
        return cls(
            date_from=when("date_from"),
            date_to=when("date_to"),
            offset=count("offset", 0),
            # The server may lower the limit; X-Limit then tells the client the maximum.
            limit=min(limit, max_limit) if limit > 0 else max_limit,
            raw_date_from=query.get("date_from") or None,
            raw_date_to=query.get("date_to") or None,
        )

    def headers(self, *, url: str, total: int, returned: int, max_limit: int) -> dict[str, str]:
        next_url = None
        if self.offset + returned < total and returned > 0:
            params: dict[str, str | int] = {"offset": self.offset + returned, "limit": self.limit}
            if self.raw_date_from:
                params["date_from"] = self.raw_date_from
            if self.raw_date_to:
                params["date_to"] = self.raw_date_to
            next_url = f"{url}?{urlencode(params)}"
        return page_headers(total=total, limit=max_limit, next_url=next_url)
