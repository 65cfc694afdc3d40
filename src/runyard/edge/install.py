"""``install_edge(app, settings)``: add the edge middleware in the right order and the docs."""

from __future__ import annotations

from fastapi import FastAPI

from runyard.dashboard.csp import dashboard_csp
from runyard.edge.catch import CatchAllMiddleware
from runyard.edge.cors import JsonCORSMiddleware
from runyard.edge.docs import mount_offline_docs
from runyard.edge.headers import SecurityHeadersMiddleware
from runyard.edge.limits import RequestLimitsMiddleware
from runyard.settings import Settings

# Headers a browser client sends (beyond the CORS-safelisted ones) and may read back.
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Team-ID",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-Request-ID",
    "If-None-Match",
    "Range",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Content-Range",
    "Content-Disposition",
]


def install_edge(app: FastAPI, settings: Settings) -> None:
    """Call before adding the request-id middleware: ``add_middleware`` wraps outward, so the
    request id stays outermost and every answer below (a 431, a 500) carries it."""
    http = settings.http
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_headers=http.max_headers,
        max_header_bytes=http.max_header_bytes,
        max_query_params=http.max_query_params,
        max_url_bytes=http.max_url_bytes,
    )
    if http.cors_allowed_origins:
        app.add_middleware(
            JsonCORSMiddleware,
            allow_origins=http.cors_allowed_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, dashboard_csp=dashboard_csp(settings))
    mount_offline_docs(app)
