"""``GET /metrics``: the owed-copy figures (ocpi_adapter/owed/report.py) in Prometheus's text
exposition format, for an operator's scraper only (docs/policies.md, "Metrics").

Who may read it: with ``INCAR_METRICS_TOKEN`` set, a request carrying
``Authorization: Bearer <that token>`` from anywhere; without it, a client connected from a
loopback address only. The figures name every receiving platform, so they are not for peers.
"""

from __future__ import annotations

import hmac
import ipaddress
import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocpi_adapter.context import Hub
from ocpi_adapter.owed import report

#: What Prometheus asks for and parses as the text format (exposition format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PATH = "/metrics"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    # A platform's name is the operator's free text: quotes and line breaks must not end it.
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() else repr(value)


def exposition(found: list[report.Receiver]) -> bytes:
    """Every metric of report.METRICS with its HELP and TYPE, one sample per receiver that
    has the figure; a metric without samples still has its HELP and TYPE (Prometheus accepts
    that, and a dashboard can tell "none owed" from "not exposed")."""
    by_name: dict[str, list[str]] = {name: [] for name, _, _ in report.METRICS}
    for name, _, labels, value in report.samples(found):
        rendered = ",".join(f'{key}="{_escape_label(val)}"' for key, val in labels.items())
        by_name[name].append(f"{name}{{{rendered}}} {_number(value)}")
    lines = []
    for name, text, _ in report.METRICS:
        kind = "counter" if name.endswith("_total") else "gauge"
        lines.append(f"# HELP {name} {_escape_help(text)}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(by_name[name])
    return ("\n".join(lines) + "\n").encode()


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=headers)


def refusal(request: Request, token: str) -> Response | None:
    """Why this request may not read the metrics, or None if it may."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return _plain(
            401,
            "metrics need Authorization: Bearer INCAR_METRICS_TOKEN",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return _plain(403, "metrics are served to loopback clients only (or set INCAR_METRICS_TOKEN)")


async def metrics(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    refused = refusal(request, hub.settings.metrics_token)
    if refused is not None:
        return refused
    return Response(exposition(await report.of_hub(hub)), media_type=CONTENT_TYPE)


ROUTES = [Route(PATH, metrics, methods=["GET"])]
