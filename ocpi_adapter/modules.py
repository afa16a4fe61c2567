"""The functional modules the hub routes; mounting one here advertises it in version details."""

from __future__ import annotations

from ocpi_adapter.cdrs.routes import ROUTES as CDRS
from ocpi_adapter.chargingprofiles.routes import ROUTES as CHARGING_PROFILES
from ocpi_adapter.commands.routes import ROUTES as COMMANDS
from ocpi_adapter.locations.routes import ROUTES as LOCATIONS
from ocpi_adapter.registry import ModuleMount
from ocpi_adapter.routing.handler import mount
from ocpi_adapter.routing.operations import ModuleRoutes
from ocpi_adapter.sessions.routes import ROUTES as SESSIONS
from ocpi_adapter.tariffs.routes import ROUTES as TARIFFS
from ocpi_adapter.tokens.routes import ROUTES as TOKENS

FUNCTIONAL: tuple[ModuleRoutes, ...] = (
    LOCATIONS,
    SESSIONS,
    CDRS,
    TARIFFS,
    TOKENS,
    COMMANDS,
    CHARGING_PROFILES,
)

FUNCTIONAL_MOUNTS: tuple[ModuleMount, ...] = tuple(mount(m) for m in FUNCTIONAL)
