"""``POST /routing/probes``: probe traces in, over plain HTTP beside the routing subgraph.

Vehicles (a driver's car, with the driver's access token) and fleets (a party's back-office,
with its OCPI credentials token) report where they drove; anonymous reports are refused, so
no one can paint a jam from outside. A trace is checked whole before it is matched, and a
refused one (HTTP 400, 413 or 415 with a JSON error code) leaves the live traffic as it was.
An accepted one answers 202 with what it measured.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from incar.runtime import Runtime
from subgraphs.common.auth import Authenticator, AuthProblem
from subgraphs.common.context import ViewerKind
from subgraphs.common.errors import Code
from subgraphs.routing.engine.pool import RouteError, RoutePool, RoutingBusy
from subgraphs.routing.engine.running import NotReady, Unavailable, engine_for
from subgraphs.routing.traffic import matching, probes
from subgraphs.routing.traffic.probes import ProbeRefused

PATH = "/routing/probes"


#: The status of a credentials problem (as the accounting's CSV export answers them).
AUTH_STATUS = {Code.FORBIDDEN: 403, Code.BAD_USER_INPUT: 400, Code.IDP_UNAVAILABLE: 503}


def _refused(code: str, message: str, status: int) -> JSONResponse:
    """The platform's refusal beside the graph: JSON with the code and a message."""
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _too_large() -> ProbeRefused:
    return ProbeRefused(
        "TOO_LARGE", f"a probe trace is at most {probes.MAX_BYTES} bytes", status=413
    )


async def _body(request: Request) -> bytes:
    """The body, read no further than the size limit (a huge upload is not buffered)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > probes.MAX_BYTES:
        raise ProbeRefused(
            "TOO_LARGE", f"a probe trace is at most {probes.MAX_BYTES} bytes", status=413
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > probes.MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def intake(pool: RoutePool, body: bytes, content_type: str) -> dict[str, object]:
    """Checks, matches and stores one trace; ProbeRefused if it is refused."""
    trace = probes.parse(body, content_type)
    manifest = await pool.active_map()
    probes.check(trace, contains=manifest.contains, now=pool.traffic.clock())
    try:
        answer = await pool.trace_attributes(matching.request(trace))
    except RouteError as failure:
        raise ProbeRefused("NO_MATCH", f"the trace matches no road: {failure.message}") from None
    speeds = matching.speeds(trace, answer)
    kept = pool.traffic.report(manifest.id, speeds)
    return {
        "vehicle": trace.vehicle,
        "points": len(trace.points),
        "edges": len(speeds),
        "kept": kept,
        "map": manifest.region,
    }


def route(runtime: Runtime, authenticator: Authenticator) -> Route:
    async def receive(request: Request) -> Response:
        try:
            viewer = await authenticator.viewer(request.headers)
        except AuthProblem as problem:
            return _refused(problem.code.value, problem.message, AUTH_STATUS.get(problem.code, 401))
        if viewer.kind is ViewerKind.ANONYMOUS:
            return _refused(
                Code.UNAUTHENTICATED.value, "probe traces need a driver's or a party's token", 401
            )
        try:
            body = await _body(request)
            pool = engine_for(runtime.settings).ready()
            report = await intake(pool, body, request.headers.get("content-type", ""))
        except ProbeRefused as refused:
            return _refused(refused.code, refused.message, refused.status)
        except NotReady as waiting:
            return _refused(Code.ROUTING_NOT_READY.value, str(waiting), 503)
        except Unavailable as failure:
            return _refused(Code.ROUTING_UNAVAILABLE.value, str(failure), 503)
        except RoutingBusy as busy:
            return _refused(Code.ROUTING_BUSY.value, str(busy), 503)
        return JSONResponse(report, status_code=202)

    return Route(PATH, receive, methods=["POST"])
