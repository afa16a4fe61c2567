"""One hub worker of ``incar serve --workers N`` (incar_cli/workers.py starts it).

``python -m incar_cli.worker FD``: serves the hub on the listening socket FD inherited from the
supervisor, with the settings of the environment, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import socket
import sys

from incar import server
from incar.settings import Settings
from incar_cli.main import _logging
from ocpi_adapter.app import create_app


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m incar_cli.worker FD (started by incar serve --workers)")
        return 2
    settings = Settings.from_env()
    _logging()
    sock = socket.socket(fileno=int(argv[0]))
    hub = server.hub_server(create_app(settings), settings)
    hub.run(sockets=[sock])
    return 0 if hub.started else server.STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
