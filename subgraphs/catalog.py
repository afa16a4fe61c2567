"""The subgraphs of the platform, by name: what ``incar serve`` and ``incar subgraph NAME``
run, what ``incar schema`` writes to ``schema/``, and what the gateway composes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incar.runtime import Runtime

if TYPE_CHECKING:  # the command line starts without importing Strawberry
    from starlette.routing import BaseRoute

    from subgraphs.common.app import SubgraphSchema
    from subgraphs.common.auth import Authenticator

#: An HTTP route a subgraph serves beside its GraphQL endpoint (the accounting's CSV export,
#: the routing's probe traces), made with the process's runtime and its authenticator (the
#: same callers as the graph's).
type HttpRoute = Callable[[Runtime, Authenticator], BaseRoute]


@dataclass(frozen=True, slots=True)
class Subgraph:
    name: str
    schema: SubgraphSchema
    #: Work the subgraph runs beside its requests (the bookings' expiry sweep), started
    #: once per process that serves it.
    background: tuple[Callable[[Runtime], Coroutine[Any, Any, None]], ...] = field(default=())
    routes: tuple[HttpRoute, ...] = field(default=())

    @property
    def path(self) -> str:
        """Where one process serving several subgraphs mounts this one."""
        return f"/graphql/{self.name}"


def subgraphs() -> dict[str, Subgraph]:
    """Every subgraph, imported on demand (the command line starts fast without them)."""
    from subgraphs.accounting.graph.schema import schema as accounting
    from subgraphs.accounting.http import export_route
    from subgraphs.bookings import sweeper
    from subgraphs.bookings.graph.schema import schema as bookings
    from subgraphs.kpis import consumer as kpi_consumer
    from subgraphs.kpis.graph.schema import schema as kpis
    from subgraphs.locations.graph.schema import schema as locations
    from subgraphs.routing.engine import running
    from subgraphs.routing.graph.schema import schema as routing
    from subgraphs.routing.traffic import endpoint as probes
    from subgraphs.sessions.graph.schema import schema as sessions

    return {
        "locations": Subgraph("locations", locations),
        "sessions": Subgraph("sessions", sessions),
        "bookings": Subgraph("bookings", bookings, background=(sweeper.run,)),
        # The route pool opens (on first use builds) the map while the others serve.
        "routing": Subgraph("routing", routing, background=(running.run,), routes=(probes.route,)),
        "accounting": Subgraph("accounting", accounting, routes=(export_route,)),
        # The KPI consumer of the event log keeps the rows the graph reads.
        "kpis": Subgraph("kpis", kpis, background=(kpi_consumer.run,)),
    }
