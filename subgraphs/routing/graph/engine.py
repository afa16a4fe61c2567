"""The routing engine of the process, for resolvers: its pool, or the graph's error for why
it cannot answer yet."""

from __future__ import annotations

from incar.settings import Settings
from subgraphs.common.errors import Code, error
from subgraphs.routing.engine.pool import RoutePool
from subgraphs.routing.engine.running import NotReady, Unavailable, engine_for


def pool(settings: Settings) -> RoutePool:
    """The running pool (starting the map's opening or build on first use);
    ROUTING_NOT_READY while it opens, ROUTING_UNAVAILABLE when it could not."""
    try:
        return engine_for(settings).ready()
    except NotReady as waiting:
        raise error(Code.ROUTING_NOT_READY, f"{waiting}: ask again shortly") from None
    except Unavailable as failure:
        raise error(Code.ROUTING_UNAVAILABLE, f"routing has no map: {failure}") from None
