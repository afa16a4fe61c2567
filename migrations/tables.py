"""Imports every table module so ``SQLModel.metadata`` is complete (Alembic, and the test that
the migrated schema is the models'). Here, above every door, not in the foundation."""

from incar.events import models as events
from ocpi_adapter.owed import models as hub_owed
from ocpi_adapter.platforms import models as hub_platforms
from ocpi_adapter.routing import models as hub_routing
from subgraphs.accounting import models as accounting
from subgraphs.accounting.ledger import models as ledger
from subgraphs.bookings import models as bookings
from subgraphs.kpis import models as kpis
from subgraphs.locations import models as locations
from subgraphs.sessions import models as sessions

__all__ = [
    "accounting",
    "bookings",
    "events",
    "hub_owed",
    "hub_platforms",
    "hub_routing",
    "kpis",
    "ledger",
    "locations",
    "sessions",
]
