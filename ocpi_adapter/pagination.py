"""Paginated GETs: the query parameters in, the Link/X-Total-Count/X-Limit headers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from ocpi_adapter import query as query_params
from ocpi_adapter.envelope import page_headers


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
        limit = query_params.count(query, "limit", default=max_limit, maximum=10**10)
        return cls(
            date_from=query_params.moment(query, "date_from"),
            date_to=query_params.moment(query, "date_to"),
            offset=query_params.count(query, "offset", default=0, maximum=query_params.MAX_OFFSET),
            # The server may lower the limit; X-Limit then tells the client the maximum.
            limit=min(limit, max_limit) if limit > 0 else max_limit,
            raw_date_from=query_params.single(query, "date_from"),
            raw_date_to=query_params.single(query, "date_to"),
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
