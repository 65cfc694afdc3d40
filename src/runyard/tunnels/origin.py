"""The tunnel origin (``RUNYARD_TUNNEL_BASE_URL``): requests whose ``Host`` is the tunnel
origin's never reach the API; they are proxied into the tunnel their cookie names.

A tunnelled app such as ComfyUI calls absolute paths (``/api/prompt``, ``/ws``), so it must own
the root of an origin: a path prefix on the API's origin would break it. The browser arrives
with the one-time link of ``POST /agents/{id}/tunnels`` (``/_runyard/tunnel?token=…``); the
token is spent and exchanged for a cookie scoped to this origin and naming one tunnel
(HttpOnly, signed, ``RUNYARD_TUNNEL_COOKIE_TTL``), so the user's own token never travels in a
URL. The dashboard keeps its tokens in sessionStorage on the API's origin: the app behind the
tunnel can read neither them nor the tunnel cookie."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from runyard.errors import RunyardError
from runyard.tunnels.credentials import COOKIE_NAME, sign, verify
from runyard.tunnels.env import TunnelEnv
from runyard.tunnels.http_proxy import HOP_BY_HOP, TunnelHttp
from runyard.tunnels.repository import TunnelRepository
from runyard.tunnels.service import ENTRY_PATH, TunnelService, TunnelTarget, target_of
from runyard.tunnels.ws_proxy import proxy_websocket

log = logging.getLogger("runyard.tunnels")


class TunnelOriginMiddleware:
    def __init__(self, app: ASGIApp, services: TunnelEnv) -> None:
        self.app = app
        self.services = services
        base = services.settings.tunnel.base_url
        self.host = (urlsplit(base).netloc.lower() if base else "") or None
        self.secure = bool(base and base.startswith("https://"))
        self.http = TunnelHttp(services.tunnels)
        self._cache: dict[str, tuple[float, TunnelTarget | None, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.host is None:
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), b"").decode("latin-1")
        if host.lower() != self.host:
            await self.app(scope, receive, send)
            return
        try:
            if scope["type"] == "http" and scope["path"] == ENTRY_PATH:
                await self._enter(scope, send)
                return
            target, cookie = await self._target(scope)
        except RunyardError as exc:
            await _refuse(scope, receive, send, exc)
            return
        relays = self.services.tunnels
        async with relays.session(target.id):
            if scope["type"] == "websocket":
                try:
                    stream = await relays.connect(target)
                except RunyardError as exc:
                    await _refuse(scope, receive, send, exc)
                    return
                await proxy_websocket(scope, receive, send, stream, target, cookie, relays)
            else:
                await self._proxy_http(scope, receive, send, target, cookie)

    # ------------------------------------------------------------ entry and credential

    async def _enter(self, scope: Scope, send: Send) -> None:
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        services = self.services
        async with services.db.unit() as uow:
            tunnel = await TunnelService(uow, services.settings).redeem(token, services.clock.now())
            await TunnelRepository(uow.session).count_session(tunnel.id)
            tunnel_id = tunnel.id
        ttl = services.settings.tunnel.cookie_ttl
        value = sign(services.settings.secret_key, "cookie", tunnel_id, int(time.time() + ttl))
        cookie = f"{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={int(ttl)}"
        if self.secure:
            cookie += "; Secure"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", b"/"),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    (b"referrer-policy", b"no-referrer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _target(self, scope: Scope) -> tuple[TunnelTarget, str]:
        """The tunnel the request's cookie names, and the rest of its cookies (for the app)."""
        jar: SimpleCookie = SimpleCookie()
        for name, value in scope["headers"]:
            if name == b"cookie":
                with contextlib.suppress(Exception):
                    jar.load(value.decode("latin-1"))
        morsel = jar.get(COOKIE_NAME)
        tunnel_id = verify(
            self.services.settings.token_secrets,
            "cookie",
            morsel.value if morsel else "",
            time.time(),
        )
        if tunnel_id is None:
            raise RunyardError(
                "Open this tunnel from the agent's page in the dashboard (or POST "
                "/api/v1/agents/{agent_id}/tunnels): its link lets this browser in.",
                code="tunnel_not_authorized",
                status=401,
            )
        target = await self._lookup(tunnel_id)
        rest = "; ".join(f"{k}={m.value}" for k, m in jar.items() if k != COOKIE_NAME)
        return target, rest

    async def _lookup(self, tunnel_id: str) -> TunnelTarget:
        now = time.monotonic()
        cached = self._cache.get(tunnel_id)
        if cached is None or now - cached[0] > self.services.settings.tunnel.sweep_interval:
            async with self.services.db.unit() as uow:
                tunnel = await TunnelRepository(uow.session).by_id(tunnel_id)
                target = target_of(tunnel) if tunnel and tunnel.tunnel_status == "open" else None
                reason = (tunnel.close_reason or "") if tunnel else ""
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = self._cache[tunnel_id] = (now, target, reason)
        if cached[1] is None:
            raise RunyardError(
                f"This tunnel is closed ({cached[2] or 'closed'}): open a new one.",
                code="tunnel_closed",
                status=410,
            )
        return cached[1]

    # ------------------------------------------------------------ HTTP

    async def _proxy_http(
        self, scope: Scope, receive: Receive, send: Send, target: TunnelTarget, cookie: str
    ) -> None:
        headers = [(b"host", f"127.0.0.1:{target.port}".encode())]
        for name, value in scope["headers"]:
            if name in (b"host", b"cookie") or name.decode("latin-1") in HOP_BY_HOP:
                continue
            if name == b"origin":
                value = f"http://127.0.0.1:{target.port}".encode()
            headers.append((name, value))
        if cookie:
            headers.append((b"cookie", cookie.encode("latin-1")))

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body"):
                    return

        path = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        try:
            response = await self.http.request(target, scope["method"], path, headers, body())
        except RunyardError as exc:
            await _refuse(scope, receive, send, exc)
            return
        except Exception as exc:  # the stream broke before an answer (TunnelBroken, h11's)
            await _refuse(scope, receive, send, _broken(exc))
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        (k, v)
                        for k, v in response.headers
                        if k.decode("latin-1").lower() not in HOP_BY_HOP
                    ],
                }
            )
            async for chunk in response.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception as exc:  # cut mid-body: the browser sees a truncated answer
            log.info("tunnel %s: response cut: %s", target.id, exc)
        finally:
            await response.aclose()


def _broken(exc: Exception) -> RunyardError:
    return RunyardError(
        f"The tunnelled app could not be reached: {exc or type(exc).__name__}.",
        code="tunnel_open_failed",
        status=502,
    )


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: RunyardError) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4000, "reason": exc.message[:120]})
        return
    body = json.dumps(
        {"error_message": exc.message, "error_code": exc.code, "request_id": ""}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})
