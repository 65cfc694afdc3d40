"""Scripted servers for SDK unit tests: ``httpx.MockTransport`` handlers, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from runyard_client import AsyncClient, Client

BASE = "http://api.test"
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, api_key: str = "sk-test", **kwargs: Any) -> Client:
    client = Client(
        BASE,
        api_key,
        transport=httpx.MockTransport(handler),
        use_profile=False,
        retry_backoff=0.0,
        **kwargs,
    )
    client._executor.sleep = lambda seconds: None  # type: ignore[method-assign]
    return client


def make_async_client(handler: Handler, api_key: str = "sk-test", **kwargs: Any) -> AsyncClient:
    client = AsyncClient(
        BASE,
        api_key,
        transport=httpx.MockTransport(handler),
        use_profile=False,
        retry_backoff=0.0,
        **kwargs,
    )

    async def no_sleep(seconds: float) -> None:
        return None

    client._executor.sleep = no_sleep  # type: ignore[method-assign]
    return client


def error(status: int, code: str, message: str = "refused", **extra: Any) -> httpx.Response:
    return httpx.Response(
        status, json={"error_message": message, "error_code": code, "request_id": "req-1", **extra}
    )


def task_json(
    task_id: str = "t-1", status: str = "pending", progress: float = 0.0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": task_id,
        "workflow_id": "w-1",
        "workflow_slug": "echo",
        "workflow_version": 1,
        "task_status": status,
        "progress": progress,
        "parameters": {},
        "task_error": "",
        "task_error_code": None,
        "retry_count": 0,
        "agent_id": None,
        "created_at": "2025-01-01T00:00:00Z",
        "started_at": None,
        "completed_at": None,
        **extra,
    }


class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent in pieces, optionally failing (a dropped connection) at the end."""

    def __init__(self, chunks: list[bytes], fail: bool = False) -> None:
        self.chunks, self.fail = chunks, fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail:
            raise httpx.ReadError("connection dropped")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.fail:
            raise httpx.ReadError("connection dropped")


def sse(*events: tuple[int, str, dict[str, Any]], retry: int | None = 10) -> list[bytes]:
    import json

    out = [f"retry: {retry}\n\n".encode()] if retry is not None else []
    out.append(b": keep-alive\n\n")
    for seq, name, data in events:
        out.append(f"id: {seq}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode())
    return out
