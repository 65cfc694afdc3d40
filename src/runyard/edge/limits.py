"""Bounds on what a request may carry before any route looks at it: header count and size,
URL length and query parameter count, each answered in the contract's JSON error shape.

uvicorn's default HTTP parser (httptools) sets no limit on header size or count, so the check
is made here on the parsed request (``RUNYARD_HTTP_*`` settings); ``runyard serve`` also gives
the h11 parser the same header budget for deployments that select it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from runyard.errors import error_response


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_headers: int,
        max_header_bytes: int,
        max_query_params: int,
        max_url_bytes: int,
    ) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.max_query_params = max_query_params
        self.max_url_bytes = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        from starlette.requests import Request

        await error_response(Request(scope), status, code, message)(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = scope.get("headers", [])
        if len(headers) > self.max_headers:
            return (
                431,
                "headers_too_large",
                f"The request has {len(headers)} headers; at most {self.max_headers} are accepted.",
            )
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if size > self.max_header_bytes:
            return (
                431,
                "headers_too_large",
                f"The request headers take {size} bytes; at most {self.max_header_bytes} are "
                "accepted.",
            )
        query: bytes = scope.get("query_string", b"")
        url_size = len(scope.get("raw_path") or b"") + len(query)
        if url_size > self.max_url_bytes:
            return (
                414,
                "url_too_long",
                f"The URL is {url_size} bytes long; at most {self.max_url_bytes} are accepted.",
            )
        if query and query.count(b"&") + 1 > self.max_query_params:
            return (
                400,
                "too_many_query_parameters",
                f"At most {self.max_query_params} query parameters are accepted.",
            )
        return None
