"""The SDK against the real app, in-process.

``AsyncClient`` talks to the app through ``httpx.ASGITransport``. ``Client`` (sync, also used by
the CLI) needs a sync transport, so ``live`` runs the app's event loop in a thread and
``SyncASGIBridge`` forwards each request into it. The embedded store's URLs are
``http://testserver/storage/...``, served by the same app, so presigned PUTs take the same path.
Runs on SQLite only: these tests exercise the client, the server's own suite covers PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from runyard_client import AsyncClient, Client
from tests.support.app import Harness, Team, make_settings, running_app
from tests.support.databases import sqlite_copy

T = TypeVar("T")
BASE = "http://testserver"


class SyncASGIBridge(httpx.BaseTransport):
    """A sync transport that runs each request on the app's event loop (in another thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app: Any) -> None:
        self.loop = loop
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []
        self.drop: Callable[[httpx.Request], bool] = lambda request: False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.requests.append(request)
        if self.drop(request):
            raise httpx.ReadError("connection dropped (test)")

        async def forward() -> tuple[int, httpx.Headers, bytes]:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self.inner.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers, content

        future = asyncio.run_coroutine_threadsafe(forward(), self.loop)
        status, headers, content = future.result(timeout=60)
        return httpx.Response(status, headers=headers, content=content)


@dataclass
class Live:
    harness: Harness
    team: Team
    loop: asyncio.AbstractEventLoop
    transport: SyncASGIBridge

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def client(self, kind: str = "integration", **kwargs: Any) -> Client:
        key = kwargs.pop("api_key", None) or self.team.auth(kind)["Authorization"][7:]
        return Client(BASE, key, transport=self.transport, use_profile=False, **kwargs)


@pytest.fixture
def client_db(tmp_path: Path, _sqlite_template: Path) -> str:
    """A fresh SQLite database (a sync fixture: migrating the template runs its own loop)."""
    return sqlite_copy(_sqlite_template, tmp_path / "client.db")


@pytest.fixture
def live_settings() -> dict[str, Any]:
    """Overrides for the app's settings (parametrise this name to change them)."""
    return {}


@pytest.fixture
def live(tmp_path: Path, client_db: str, live_settings: dict[str, Any]) -> Iterator[Live]:
    settings = make_settings(client_db, tmp_path / "data", **live_settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="app-loop", daemon=True)
    thread.start()
    context = running_app(settings)

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    try:
        harness = run(context.__aenter__())
        team = run(harness.team("alpha", "alice@example.com"))
        yield Live(harness, team, loop, SyncASGIBridge(loop, harness.app))
        run(context.__aexit__(None, None, None))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
async def app_harness(tmp_path: Path, client_db: str) -> AsyncIterator[Harness]:
    async with running_app(make_settings(client_db, tmp_path / "data")) as h:
        yield h


@pytest.fixture
async def alpha(app_harness: Harness) -> Team:
    return await app_harness.team("alpha", "alice@example.com")


@pytest.fixture
async def aclient(app_harness: Harness, alpha: Team) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(
        BASE,
        alpha.p.integration_key,
        use_profile=False,
        transport=httpx.ASGITransport(app=app_harness.app),
    )
    async with client:
        yield client
