"""A WebSocket proxy between a real agent and a real server, for fault tests that need a
precise moment: frames pass through unchanged, except the first frame of a watched type, which
the proxy *holds* (never forwards), then calls the test's hook (e.g. SIGKILL the server) and
drops the agent's connection. From the agent's side the frame was sent. It runs its own event
loop in a thread; ``url`` is what the agent dials instead of the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.support.fake_agent import kind
from tests.support.s3 import free_port

Hook = Callable[[dict[str, Any]], None]


class WsProxy:
    def __init__(self, upstream_url: str, *, on_first: dict[str, Hook]) -> None:
        self.upstream = upstream_url.replace("http", "ws", 1)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hooks = dict(on_first)
        self.held: list[dict[str, Any]] = []
        self.fired = threading.Event()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the WebSocket proxy did not start")

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server: Server = await serve(self._handle, "127.0.0.1", self.port, max_size=None)
        self._ready.set()
        await self._stop.wait()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)

    async def _handle(self, down: ServerConnection) -> None:
        self.connections += 1
        path = down.request.path if down.request is not None else "/api/v1/agent/ws"
        auth = down.request.headers.get("Authorization", "") if down.request else ""
        try:
            up = await connect(
                self.upstream + path,
                additional_headers={"Authorization": auth},
                open_timeout=5,
                max_size=None,
            )
        except Exception:
            await down.close(1011, "upstream unavailable")  # retryable for the agent
            return

        async def agent_to_server() -> None:
            async for raw in down:
                frame = json.loads(raw)
                hook = self.hooks.pop(kind(frame), None)
                if hook is not None:
                    self.held.append(frame)
                    # Called in the loop's thread, blocking it: nothing else may pass (or be
                    # cancelled) while the hook acts, e.g. kills the server.
                    hook(frame)
                    self.fired.set()
                    down.transport.abort()  # the agent sees its connection drop
                    up.transport.abort()
                    return
                await up.send(raw)

        async def server_to_agent() -> None:
            async for raw in up:
                await down.send(raw)

        pumps = [asyncio.create_task(agent_to_server()), asyncio.create_task(server_to_agent())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, Exception):
                    await pump
            code = up.close_code
            with contextlib.suppress(Exception):
                await up.close()
            with contextlib.suppress(Exception):
                # Pass the server's close code on (4000 on shutdown, 4001, ...), else 1011.
                await down.close(code if code and code >= 4000 else 1011)
