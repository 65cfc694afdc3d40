"""HTTP over tunnel streams: an ``httpcore`` connection pool whose network backend opens
tunnel streams instead of sockets (the host of a URL is the tunnel's id), so requests reuse
kept-alive connections to the agent's port like any HTTP client's. Request and response
bodies are streamed, never held whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import httpcore

from runyard.tunnels.relay import ByteStream, TunnelRelays
from runyard.tunnels.service import TunnelTarget
from runyard_protocol import StreamClosed

# Headers of one hop only (RFC 9110 7.6.1), never forwarded either way.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class _TunnelNetStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: ByteStream, relays: TunnelRelays, tunnel_id: str) -> None:
        self._stream = stream
        self._relays = relays
        self._tunnel_id = tunnel_id
        self._left = b""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self._left:
            try:
                async with asyncio.timeout(timeout):
                    self._left = await self._stream.read()
            except TimeoutError:
                raise httpcore.ReadTimeout("the tunnelled app did not answer in time") from None
            if not self._left:
                if self._stream.reason:
                    raise httpcore.ReadError(self._stream.reason)
                return b""
            self._relays.count(self._tunnel_id, from_agent=len(self._left))
        data, self._left = self._left[:max_bytes], self._left[max_bytes:]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            await self._stream.write(buffer)
        except StreamClosed as exc:
            raise httpcore.WriteError(str(exc)) from None
        self._relays.count(self._tunnel_id, to_agent=len(buffer))

    async def aclose(self) -> None:
        await self._stream.close()

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":  # an idle kept-alive connection the peer closed
            return bool(self._left) or self._stream.at_eof
        return None


class _TunnelBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, relays: TunnelRelays) -> None:
        self.relays = relays
        self.targets: dict[str, TunnelTarget] = {}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.relays.connect(self.targets[host])
        return _TunnelNetStream(stream, self.relays, host)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("tunnels relay TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TunnelHttp:
    """The process's HTTP client into tunnels."""

    def __init__(self, relays: TunnelRelays, read_timeout: float = 300.0) -> None:
        self._backend = _TunnelBackend(relays)
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=self._backend,
            max_connections=256,
            keepalive_expiry=30.0,
        )
        self._read_timeout = read_timeout
        self._connect_timeout = relays.settings.tunnel.open_timeout

    async def request(
        self,
        target: TunnelTarget,
        method: str,
        target_path: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes],
    ) -> httpcore.Response:
        """Send; the caller iterates the response's ``stream`` and closes it (``aclose``)."""
        self._backend.targets[target.id] = target
        url = httpcore.URL(
            scheme=b"http", host=target.id.encode(), port=target.port, target=target_path
        )
        request = httpcore.Request(
            method.encode(),
            url,
            headers=headers,
            content=body,
            extensions={
                "timeout": {
                    "connect": self._connect_timeout,
                    "read": self._read_timeout,
                    "write": self._read_timeout,
                    "pool": self._connect_timeout,
                }
            },
        )
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
