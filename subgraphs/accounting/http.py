"""The CSV export over HTTP: ``GET /accounting/cdrs.csv?FILTERS`` with the caller's
``Authorization`` (a driver's access token or a party's OCPI credentials token, as the graph
takes them), streamed a page at a time. Same visibility as ``cdrs``; a refusal is JSON with
the graph's error code."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from incar.runtime import Runtime
from subgraphs.accounting import export, search
from subgraphs.accounting.graph.loaders import viewer_audience
from subgraphs.common.auth import Authenticator, AuthProblem
from subgraphs.common.errors import Code

PATH = "/accounting/cdrs.csv"
STATUS = {Code.UNAUTHENTICATED: 401, Code.FORBIDDEN: 403, Code.BAD_USER_INPUT: 400}


def refusal(code: Code, message: str) -> Response:
    return JSONResponse({"code": code.value, "message": message}, status_code=STATUS[code])


def export_route(runtime: Runtime, authenticator: Authenticator) -> Route:
    async def cdrs_csv(request: Request) -> Response:
        try:
            viewer = await authenticator.viewer(request.headers)
        except AuthProblem as problem:
            return refusal(problem.code, problem.message)
        audience = viewer_audience(viewer)
        if audience is None:
            return refusal(Code.UNAUTHENTICATED, "log in, or use your OCPI credentials token")
        try:
            chosen = export.filter_of(dict(request.query_params))
        except search.SearchError as problem:
            return refusal(Code.BAD_USER_INPUT, str(problem))
        return StreamingResponse(
            export.csv_chunks(runtime.db, audience=audience, filter=chosen),
            media_type=export.MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
        )

    return Route(PATH, cdrs_csv, methods=["GET"])
