"""Serving subgraphs: each its own Strawberry app with the platform's context, several of them
in one process (the embedded default) or one alone (``incar subgraph NAME``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError

from incar.runtime import Runtime
from subgraphs.catalog import Subgraph
from subgraphs.common.app import subgraph_app
from subgraphs.common.auth import Authenticator, AuthProblem
from subgraphs.common.commands import CommandPort
from subgraphs.common.context import GraphContext, Viewer
from subgraphs.common.shared_subscriptions import SharingGraphQL


class _View(SharingGraphQL):
    runtime: Runtime
    authenticator: Authenticator
    commands: CommandPort | None

    async def get_context(self, request: Request | WebSocket, response: Any) -> GraphContext:
        context = GraphContext(
            runtime=self.runtime, commands=self.commands, request=request, response=response
        )
        if isinstance(request, Request):
            try:
                context.viewer = await self.authenticator.viewer(request.headers)
            except AuthProblem as problem:
                context.auth_problem = problem
        return context

    async def on_ws_connect(self, context: GraphContext) -> None:
        """A WebSocket's token comes in its connection_init payload (the gateway puts the
        client's there); wrong credentials close the connection (4403)."""
        params = context.connection_params or {}
        headers = {k.lower(): v for k, v in params.items() if isinstance(v, str)}
        try:
            context.viewer = await self.authenticator.viewer(headers)
        except AuthProblem as problem:
            raise ConnectionRejectionError(
                {"code": problem.code.value, "message": problem.message}
            ) from None

    def sharing_scope(self, context: Any) -> Viewer | None:
        """Resolvers read who asks only through ``context.viewer`` (the runtime and the
        command port are the view's own), so connections of equal viewers share their equal
        subscriptions: every anonymous dashboard one, each driver their own."""
        if not isinstance(context, GraphContext) or context.auth_problem is not None:
            return None
        return context.viewer

    def shared_context(self, context: Any) -> GraphContext:
        assert isinstance(context, GraphContext)
        return GraphContext(
            runtime=self.runtime,
            viewer=context.viewer,
            commands=self.commands,
            connection_params=context.connection_params,
        )


def view_class(
    runtime: Runtime, authenticator: Authenticator, commands: CommandPort | None
) -> type[_View]:
    return type(
        "SubgraphView",
        (_View,),
        {"runtime": runtime, "authenticator": authenticator, "commands": commands},
    )


def create_app(
    runtime: Runtime,
    chosen: Sequence[Subgraph],
    *,
    authenticator: Authenticator,
    commands: CommandPort | None = None,
    own_runtime: bool = False,
) -> Starlette:
    """The subgraphs of ``chosen`` at ``/graphql/<name>`` each, with the HTTP routes they
    serve beside (``Subgraph.routes``, authenticated by the same ``authenticator``), their
    background work run while the app runs; ``own_runtime`` starts and closes the runtime
    with the app."""
    view = view_class(runtime, authenticator, commands)
    routes: list[Any] = [Route("/healthcheck", _health, methods=["GET"])]
    for subgraph in chosen:
        # At the path itself, not under a Mount: a Mount answers /graphql/<name> with a
        # redirect to /graphql/<name>/, a round trip on every request of the gateway.
        app = subgraph_app(subgraph.schema, view=view)
        routes.append(Route(subgraph.path, app, methods=["GET", "POST"]))
        routes.append(WebSocketRoute(subgraph.path, app))
        routes += [route(runtime, authenticator) for route in subgraph.routes]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[Mapping[str, Any]]:
        if own_runtime:
            await runtime.start()
        tasks = [
            asyncio.create_task(work(runtime), name=f"{subgraph.name}:{work.__name__}")
            for subgraph in chosen
            for work in subgraph.background
        ]
        try:
            yield {}
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if own_runtime:
                await runtime.close()

    return Starlette(routes=routes, lifespan=lifespan)


async def _health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})
