"""The two I/O layers: ``SyncExecutor`` drives ``httpx.Client``, ``AsyncExecutor`` drives
``httpx.AsyncClient``. Both execute the same ``Call`` descriptions with the same retry rules
(``ClientCore``); nothing else differs between the sync and async SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx

from runyard_client._base import Call, ClientCore

T = TypeVar("T")


class SyncExecutor:
    def __init__(self, core: ClientCore, http: httpx.Client, *, owns_http: bool) -> None:
        self.core = core
        self.http = http
        self.owns_http = owns_http

    def execute(self, call: Call[T]) -> T:
        response = self.send(call)
        return self.core.finish(call, response)

    def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            content = call.body.iter_sync() if call.body is not None else None
            request = self.http.build_request(**self.core.request_args(call), content=content)
            try:
                response = self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self.core.retry_delay(call, attempt, exc=exc)
                if delay is None:
                    raise self.core.transport_error(call, exc) from exc
            else:
                delay = self.core.retry_delay(call, attempt, response=response)
                if delay is None:
                    if not stream:
                        response.read()
                    return response
                response.close()
            time.sleep(delay)
            attempt += 1

    @contextmanager
    def stream(self, call: Call[Any]) -> Iterator[httpx.Response]:
        """An open streaming response (SSE, downloads); error answers are read first so their
        JSON body can be mapped."""
        response = self.send(call, stream=True)
        try:
            if not response.is_success:
                response.read()
            yield response
        finally:
            response.close()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        if self.owns_http:
            self.http.close()


class AsyncExecutor:
    def __init__(self, core: ClientCore, http: httpx.AsyncClient, *, owns_http: bool) -> None:
        self.core = core
        self.http = http
        self.owns_http = owns_http

    async def execute(self, call: Call[T]) -> T:
        response = await self.send(call)
        return self.core.finish(call, response)

    async def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            content = call.body.iter_async() if call.body is not None else None
            request = self.http.build_request(**self.core.request_args(call), content=content)
            try:
                response = await self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self.core.retry_delay(call, attempt, exc=exc)
                if delay is None:
                    raise self.core.transport_error(call, exc) from exc
            else:
                delay = self.core.retry_delay(call, attempt, response=response)
                if delay is None:
                    if not stream:
                        await response.aread()
                    return response
                await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    @asynccontextmanager
    async def stream(self, call: Call[Any]) -> AsyncIterator[httpx.Response]:
        response = await self.send(call, stream=True)
        try:
            if not response.is_success:
                await response.aread()
            yield response
        finally:
            await response.aclose()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        if self.owns_http:
            await self.http.aclose()
