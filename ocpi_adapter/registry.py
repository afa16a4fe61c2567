"""What a module mounts: its hub endpoints (for version details) and its Starlette routes.

The version details endpoint is derived from the mounted modules, so a module that is mounted
is advertised and one that is not, is not (STYLE 7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route

from ocpi_adapter.types import InterfaceRole, ModuleID


@dataclass(frozen=True, slots=True)
class HubEndpoint:
    identifier: ModuleID
    role: InterfaceRole
    path: str  # relative to the version base URL, e.g. "locations/receiver"


@dataclass(frozen=True, slots=True)
class ModuleMount:
    endpoints: tuple[HubEndpoint, ...]
    routes: tuple[BaseRoute, ...]


def routes(path: str, endpoint: Callable[..., Any], methods: Sequence[str]) -> list[Route]:
    """A route that answers with and without a trailing slash (check 9), never redirecting."""
    path = path.rstrip("/")
    return [
        Route(path, endpoint, methods=list(methods)),
        Route(path + "/", endpoint, methods=list(methods)),
    ]
