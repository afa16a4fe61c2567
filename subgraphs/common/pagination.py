"""Relay-style pages, shared by every subgraph that pages a list: composition merges the
subgraphs' ``PageInfo`` into one type, so each declares it shareable and all declare it alike."""

from __future__ import annotations

import strawberry


@strawberry.federation.type(shareable=True, description="Where a page of a list stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    end_cursor: str | None = strawberry.field(description="The last item's cursor.")
