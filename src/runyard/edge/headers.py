"""Security headers on every HTTP response, unless the route set its own.

API answers are JSON that no browser should render, frame or sniff: ``nosniff``, no framing
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` for older browsers), no referrer,
and a CSP that allows nothing. The docs pages need their own scripts and styles (served by
this server, see ``docs.py``), so they get a CSP limited to ``'self'``. The dashboard (``/``,
``/pair`` and ``/ui/``) gets the policy ``runyard.dashboard.dashboard_csp`` builds from the
settings: its own scripts only (no inline script, no eval) and the object store's origin for
uploads and previews.
Embedded-store downloads set a sandboxing CSP of their own, which is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-site"),
)


DASHBOARD_ASSETS = "/ui/"
DASHBOARD_PAGES = ("/", "/pair")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, dashboard_csp: bytes = API_CSP) -> None:
        self.app = app
        self.dashboard_csp = dashboard_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in DASHBOARD_PAGES or path.startswith(DASHBOARD_ASSETS):
            csp = self.dashboard_csp
        elif path.startswith(DOCS_PATHS):
            csp = DOCS_CSP
        else:
            csp = API_CSP
        # Signed store URLs are fetched cross-origin by browsers uploading and downloading.
        corp = b"cross-origin" if path.startswith("/storage/") else b"same-site"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in _FIXED:
                    if name not in present:
                        if name == b"cross-origin-resource-policy":
                            value = corp
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
