"""The one place that builds the hub's HTTP server: uvicorn under the limits of the settings.

``incar serve``, ``incar demo`` and the in-process hub of the tests all serve through here, so
what the tests exercise is what an operator runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn

from incar.http_limits import HttpLimits, LimitedConfig
from incar.settings import Settings

# uvicorn.run's exit status when the server could not start.
STARTUP_FAILURE = 3


def limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_head_bytes=settings.max_head_bytes,
        head_timeout=settings.head_timeout,
        body_timeout=settings.body_timeout,
        idle_timeout=settings.idle_timeout,
    )


def hub_config(app: Callable[..., Any], settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration of the hub; ``options`` are uvicorn.Config's own."""
    # The hub logs what it needs itself; uvicorn's access log would be a line per request.
    defaults: dict[str, Any] = dict(
        host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    return LimitedConfig(app, limits=limits(settings), **(defaults | options))


def hub_server(app: Callable[..., Any], settings: Settings, **options: Any) -> uvicorn.Server:
    """The hub's server; start it with ``serve(sockets=...)`` or ``run()``."""
    return uvicorn.Server(hub_config(app, settings, **options))


def run(app: Callable[..., Any], settings: Settings) -> int:
    """Serves on the settings' host and port until SIGINT or SIGTERM; the exit status."""
    server = hub_server(app, settings)
    server.run()
    return 0 if server.started else STARTUP_FAILURE
