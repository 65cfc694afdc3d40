"""``GET /metrics`` (Prometheus text format) and the HTTP middleware that feeds it.

The route is outside ``/api/v1`` and outside the OpenAPI document: it is for the operator's
Prometheus, authenticated by its own bearer token (``RUNYARD_METRICS_TOKEN``), never by a user's
credential. While the token is unset the route answers 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.db.engine import Database
from runyard.errors import NotFound, Unauthenticated
from runyard.events.feed import EventFeed
from runyard.gateway.registry import Gateway
from runyard.metrics.registry import Metrics
from runyard.providers import provided
from runyard.settings import Settings
from runyard.tunnels.relay import TunnelRelays

router = APIRouter(tags=["operations"], include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    token = provided(request, "settings", Settings).metrics.token
    if not token:
        raise NotFound()
    sent = request.headers.get("authorization", "")
    scheme, _, value = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        raise Unauthenticated(
            "Send `Authorization: Bearer <RUNYARD_METRICS_TOKEN>`.",
            code="invalid_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry: Metrics = request.app.state.metrics
    db, gateway = provided(request, "db", Database), provided(request, "gateway", Gateway)
    feed, clock = provided(request, "feed", EventFeed), request.app.state.services.clock
    tunnels = provided(request, "tunnels", TunnelRelays)
    await registry.refresh(db, gateway, feed, clock.now(), tunnels)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Times each HTTP request and labels it with the route *template* (so task ids never become
    label values). Plain ASGI: no body buffering, streaming-safe."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.request_done(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    """``/api/v1/r/tasks/{task_id}/events`` for ``/api/v1/r/tasks/01a2…/events``: the matched
    route's parameters put back in place of their values (public scope keys only; FastAPI's
    included routers keep only the relative path on the route object). Unmatched: one label."""
    if "route" not in scope:
        return "unmatched"
    path: str = scope["path"]
    params: dict[str, object] = scope.get("path_params") or {}
    for name, value in sorted(params.items(), key=lambda item: -len(str(item[1]))):
        text = f"/{value}"
        at = path.rfind(text)
        if text != "/" and at >= 0:
            path = f"{path[:at]}/{{{name}}}{path[at + len(text) :]}"
    return path


def install_metrics(app: FastAPI, db: Database) -> Metrics:
    """Build this app's registry, make it the observer of the app's transitions (``db``'s), add
    its middleware and its route."""
    registry = Metrics()
    db.observer = registry
    app.state.metrics = registry
    app.add_middleware(MetricsMiddleware, metrics=registry)
    app.include_router(router)
    return registry
