"""Request ids and access logs, as plain ASGI middleware (no body buffering, streaming-safe).

Access log lines carry method, path (never the query string: it may hold a URL signature),
status, duration and request id; never the Authorization header.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("runyard.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# C0/C1 controls, DEL, the Unicode line and paragraph separators, and the backslash itself (so an
# escape in the log cannot be forged either): a decoded path may hold any of them.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_MAX_LOGGED_PATH = 2048


def loggable(text: str) -> str:
    """``text`` on one line: control characters escaped as ``\\xNN``/``\\uNNNN``, bounded."""
    if len(text) > _MAX_LOGGED_PATH:
        text = text[:_MAX_LOGGED_PATH] + "…"
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http" and log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %s %.1fms request_id=%s",
                    loggable(scope["method"]),
                    loggable(scope["path"]),
                    status["code"],
                    (time.perf_counter() - started) * 1000,
                    request_id,
                )
