"""Render an unexpected exception as the contract's 500 *without* re-raising it.

Starlette's outermost ``ServerErrorMiddleware`` re-raises after sending the 500, and uvicorn
then closes the connection: the client's next request on that keep-alive connection is reset.
Handled here, below it, the exception is logged once and the connection stays usable.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.errors import error_response, request_id_of

log = logging.getLogger("runyard.errors")


class CatchAllMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise  # half a response is out: only closing the connection tells the client
            request = Request(scope)
            log.exception("unhandled error request_id=%s", request_id_of(request))
            response = error_response(
                request,
                500,
                "internal_error",
                "Something went wrong on the server; retry, and report the request_id if it "
                "persists.",
            )
            await response(scope, receive, send)
