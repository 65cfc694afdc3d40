"""WebSocket upgrades through a tunnel: the browser's socket is accepted here, and this
process speaks the WebSocket client side to the tunnelled app over a tunnel stream
(``websockets``' sans-I/O protocol), relaying messages both ways. An abnormal end (the agent
disconnected, the tunnel closed) closes the browser's socket with 4000 and the reason."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from runyard.tunnels.relay import ByteStream, TunnelRelays
from runyard.tunnels.service import TunnelTarget

MAX_MESSAGE = 16 * 1024 * 1024
CLOSED = "The tunnel was closed."
_FORWARDED = {"cookie", "user-agent", "accept-language"}


class _Upstream:
    def __init__(
        self, stream: ByteStream, protocol: ClientProtocol, relays: TunnelRelays, tunnel_id: str
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self._relays = relays
        self._tunnel_id = tunnel_id

    async def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                await self.stream.write(data)
                self._relays.count(self._tunnel_id, to_agent=len(data))

    async def events(self) -> list[object]:
        """The next events the app sent; [] at the end of the stream."""
        while True:
            data = await self.stream.read()
            if not data:
                self.protocol.receive_eof()
                return list(self.protocol.events_received())
            self._relays.count(self._tunnel_id, from_agent=len(data))
            self.protocol.receive_data(data)
            await self.flush()  # pongs, close answers
            events: list[object] = list(self.protocol.events_received())
            if events:
                return events


def _handshake(scope: Scope, target: TunnelTarget) -> ClientProtocol:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    uri = f"ws://127.0.0.1:{target.port}{path.decode('latin-1')}"
    if query:
        uri += "?" + query.decode("latin-1")
    return ClientProtocol(
        parse_uri(uri), subprotocols=scope.get("subprotocols") or None, max_size=MAX_MESSAGE
    )


async def proxy_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    stream: ByteStream,
    target: TunnelTarget,
    cookie: str,
    relays: TunnelRelays,
) -> None:
    browser = WebSocket(scope, receive, send)
    protocol = _handshake(scope, target)
    upstream = _Upstream(stream, protocol, relays, target.id)
    request = protocol.connect()
    for name, value in Headers(
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    ).raw_items():
        if name.lower() in _FORWARDED:
            request.headers[name] = value if name.lower() != "cookie" else cookie
    request.headers["Origin"] = f"http://127.0.0.1:{target.port}"
    protocol.send_request(request)
    await upstream.flush()
    response = None
    early: list[object] = []  # frames that came in the same read as the handshake's answer
    while response is None:
        events = await upstream.events()
        if not events:
            break
        response = next((e for e in events if isinstance(e, Response)), None)
        early = [e for e in events if not isinstance(e, Response)]
    if response is None or protocol.state is not State.OPEN:
        await stream.close()
        await browser.close(
            4000, (stream.reason or "The tunnelled app refused the WebSocket.")[:120]
        )
        return
    await browser.accept(subprotocol=response.headers.get("Sec-WebSocket-Protocol"))

    async def to_app() -> None:
        while True:
            message = await browser.receive()
            if message["type"] == "websocket.disconnect":
                protocol.send_close(1000)
                await upstream.flush()
                return
            if message.get("text") is not None:
                protocol.send_text(message["text"].encode())
            elif message.get("bytes") is not None:
                protocol.send_binary(message["bytes"])
            await upstream.flush()

    async def to_browser() -> None:
        parts: list[bytes] = []
        kind = Opcode.TEXT
        events = early
        while events or (events := await upstream.events()):
            batch, events = events, []
            for event in batch:
                if not isinstance(event, Frame):
                    continue
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    kind, parts = event.opcode, [bytes(event.data)]
                elif event.opcode is Opcode.CONT:
                    parts.append(bytes(event.data))
                elif event.opcode is Opcode.CLOSE:
                    return
                else:
                    continue
                if event.fin:
                    data = b"".join(parts)
                    if kind is Opcode.TEXT:
                        await browser.send_text(data.decode())
                    else:
                        await browser.send_bytes(data)

    tasks = {asyncio.create_task(to_app()), asyncio.create_task(to_browser())}
    reason = ""
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the tunnel was closed (TunnelRelays.end)
        reason = CLOSED
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        reason = reason or stream.reason
        await stream.close()
        if browser.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                code = 4000 if reason else (protocol.close_code or 1000)
                code = 1000 if code in (1005, 1006) else code
                await browser.close(code, (reason or protocol.close_reason or "")[:120])
