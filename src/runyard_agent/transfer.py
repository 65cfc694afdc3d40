"""Moving task files over signed URLs: inputs arrive by streamed GET, outputs leave by streamed PUT.

``download_inputs`` and ``upload_outputs`` do it for one task, asking the server through a
``ServerLink`` for fresh input URLs (when the first ones expired) and for one upload URL per output.
Signed URLs are short-lived capabilities (the signature is in the query string), so only
``redact_url(url)`` ever reaches a log line. A ``403`` is reported as ``UrlRefusedError`` because
the caller can fix it by asking the server for a fresh URL; everything else is a ``TransferError``.
Transient failures (connection errors, 5xx) are retried a few times with a short pause.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel

from runyard_agent.runtimes.base import ProducedOutput, TaskFailedError

if TYPE_CHECKING:
    from hashlib import _Hash
from runyard_protocol import (
    MAX_INLINE_TOTAL,
    AssignedInput,
    InputUrlGrant,
    InputUrlRequest,
    OutputSpec,
    OutputUrlGrant,
    OutputUrlRequest,
    TaskAssign,
)

__all__ = [
    "RequestFailedError",
    "ServerLink",
    "TransferError",
    "UrlRefusedError",
    "download_file",
    "download_inputs",
    "redact_url",
    "safe_name",
    "upload_file",
    "upload_outputs",
]

CHUNK_SIZE = 1024 * 1024
# Outputs up to this size are read whole, on the event loop, and sent as one body: a page-cache
# read of 64 KiB costs microseconds, where streaming costs two thread hops and an async
# generator per file (measured: ~11 % of the agent's busy time on no-op tasks).
SMALL_FILE = 64 * 1024
_Reply = TypeVar("_Reply", bound=BaseModel)


class RequestFailedError(Exception):
    """A request to the server got no usable answer (refused, timed out, connection lost)."""

    def __init__(self, message: str, code: str = "request_failed") -> None:
        super().__init__(message)
        self.code = code


class ServerLink(Protocol):
    """The agent's side of the socket, as tasks see it (implemented by ``Agent``)."""

    # The largest output the server takes inline in ``TaskComplete`` (0: none).
    inline_output_max: int

    async def send(self, frame: BaseModel) -> None:
        """Send a frame; task outcomes are kept and re-sent after a reconnect."""

    async def request(self, frame: BaseModel, reply_type: type[_Reply]) -> _Reply:
        """Send a request frame and wait for its reply; raises ``RequestFailedError``."""
        ...


class TransferError(Exception):
    """A download or upload failed; the message says what the store answered."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class UrlRefusedError(TransferError):
    """The store answered 403: the signed URL expired or its signature does not match."""


def redact_url(url: str) -> str:
    """The URL without its query string (where the signature lives)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


async def download_file(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    expected_size: int | None = None,
    retries: int = 2,
    retry_delay: float = 0.5,
) -> int:
    """Stream ``url`` into ``dest`` (created or truncated); return the number of bytes written."""
    for attempt in range(retries + 1):
        try:
            size = await _download_once(client, url, dest)
        except httpx.TransportError as exc:
            if attempt == retries:
                raise TransferError(f"download from {redact_url(url)} failed: {exc!r}") from exc
        except TransferError as exc:
            if exc.status_code is None or exc.status_code < 500 or attempt == retries:
                raise
        else:
            if expected_size is not None and size != expected_size:
                raise TransferError(
                    f"downloaded {size} bytes from {redact_url(url)} but expected {expected_size}"
                )
            return size
        await asyncio.sleep(retry_delay * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


async def _download_once(client: httpx.AsyncClient, url: str, dest: Path) -> int:
    async with client.stream("GET", url) as response:
        _raise_for_status(response, "GET", url)
        written = 0
        buffer = bytearray()
        with dest.open("wb") as sink:
            async for chunk in response.aiter_bytes():
                buffer += chunk
                if len(buffer) >= CHUNK_SIZE:
                    written += await asyncio.to_thread(sink.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                written += await asyncio.to_thread(sink.write, bytes(buffer))
        return written


async def upload_file(
    client: httpx.AsyncClient,
    url: str,
    path: Path,
    headers: Mapping[str, str],
    *,
    retries: int = 2,
    retry_delay: float = 0.5,
) -> str:
    """PUT ``path`` to ``url`` streaming, with exactly the granted ``headers``; the hex sha256
    of the bytes sent (hashed while they are read, in the same thread hop).

    ``Content-Length`` is added only when the grant lacks it, because object stores refuse
    chunked PUTs. A 412 on a retry means an earlier attempt did land, so it counts as success.
    """
    send_headers = dict(headers)
    size = path.stat().st_size
    if not any(name.lower() == "content-length" for name in send_headers):
        send_headers["Content-Length"] = str(size)
    whole = path.read_bytes() if size <= SMALL_FILE else None
    for attempt in range(retries + 1):
        digest = hashlib.sha256()
        try:
            if whole is not None:
                digest.update(whole)
                body: bytes | AsyncIterator[bytes] = whole
            else:
                body = _file_chunks(path, digest)
            response = await client.put(url, content=body, headers=send_headers)
        except httpx.TransportError as exc:
            if attempt == retries:
                raise TransferError(f"upload to {redact_url(url)} failed: {exc!r}") from exc
        else:
            if response.status_code == 412 and attempt > 0:
                return await asyncio.to_thread(file_sha256, path)
            if response.status_code < 500 or attempt == retries:
                _raise_for_status(response, "PUT", url)
                return digest.hexdigest()
        await asyncio.sleep(retry_delay * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file (blocking: run it in a thread)."""
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def _read_hashed(source: BinaryIO, digest: _Hash) -> bytes:
    chunk = source.read(CHUNK_SIZE)
    digest.update(chunk)
    return chunk


async def _file_chunks(path: Path, digest: _Hash) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(_read_hashed, source, digest):
            yield chunk


def _raise_for_status(response: httpx.Response, method: str, url: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{method} {redact_url(url)} answered HTTP {status}"
    if status == 403:
        raise UrlRefusedError(f"{where} (the signed URL expired or was refused)", status)
    raise TransferError(where, status)


# ---------------------------------------------------------------- one task's files


async def download_inputs(
    http: httpx.AsyncClient,
    link: ServerLink,
    assign: TaskAssign,
    directory: Path,
    log: logging.LoggerAdapter[logging.Logger],
) -> dict[str, Path]:
    """Download every file input to ``directory/<parameter>/<file name>``; parameter -> path."""
    files: dict[str, Path] = {}
    fresh: dict[str, AssignedInput] | None = None
    for item in assign.inputs:
        folder = directory / safe_name(item.parameter, "input")
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        dest = folder / safe_name(item.file_name, "file")
        try:
            try:
                await download_file(http, item.download_url, dest, expected_size=item.file_size)
            except UrlRefusedError:
                log.info("input %s: URL refused (expired?); asking for fresh URLs", item.parameter)
                if fresh is None:
                    fresh = await _fresh_inputs(link, assign)
                renewed = fresh.get(item.parameter)
                if renewed is None:
                    raise TaskFailedError(
                        f"the server gave no fresh URL for input {item.parameter!r}",
                        "input_download_failed",
                    ) from None
                await download_file(http, renewed.download_url, dest, expected_size=item.file_size)
        except TransferError as exc:
            raise TaskFailedError(
                f"could not download input {item.parameter!r} ({item.file_name}): {exc}",
                "input_download_failed",
            ) from None
        files[item.parameter] = dest
    return files


async def _fresh_inputs(link: ServerLink, assign: TaskAssign) -> dict[str, AssignedInput]:
    request = InputUrlRequest(
        request_id=uuid.uuid4().hex, task_id=assign.task_id, attempt=assign.attempt
    )
    try:
        grant = await link.request(request, InputUrlGrant)
    except RequestFailedError as exc:
        raise TaskFailedError(
            f"could not get fresh input URLs: {exc}", "input_download_failed"
        ) from None
    if grant.error_code:
        raise TaskFailedError(
            grant.error_message or "the server refused fresh input URLs", grant.error_code
        )
    return {item.parameter: item for item in grant.inputs}


async def upload_outputs(
    http: httpx.AsyncClient,
    link: ServerLink,
    assign: TaskAssign,
    produced: list[ProducedOutput],
    log: logging.LoggerAdapter[logging.Logger],
) -> list[OutputSpec]:
    """Upload each output through its own signed URL, in order; the specs for ``TaskComplete``.
    Small outputs go inline in the specs instead when the server offers it (no URL, no PUT)."""
    specs: list[OutputSpec] = []
    inline_left = MAX_INLINE_TOTAL
    for output in produced:
        size = output.path.stat().st_size  # a stat costs less than the hop to a thread
        name = safe_name(output.file_name or output.path.name, "output")
        content_type = output.content_type or "application/octet-stream"
        if size <= min(link.inline_output_max, inline_left):
            data = output.path.read_bytes()  # at most 64 KiB: cheaper than a thread hop
            if len(data) == size:
                inline_left -= size
                specs.append(
                    OutputSpec(
                        output_id=output.output_id,
                        file_name=name,
                        content_type=content_type,
                        file_size=size,
                        data=base64.b64encode(data).decode(),
                        sha256=hashlib.sha256(data).hexdigest(),
                    )
                )
                continue
        request = OutputUrlRequest(
            request_id=uuid.uuid4().hex,
            task_id=assign.task_id,
            attempt=assign.attempt,
            output_id=output.output_id,
            file_name=name,
            content_type=content_type,
            file_size=size,
        )
        try:
            try:
                url, headers = await _upload_grant(link, request)
                sha256 = await upload_file(http, url, output.path, headers)
            except UrlRefusedError:
                log.info("output %s: upload URL refused; asking for a new one", output.output_id)
                retry = request.model_copy(update={"request_id": uuid.uuid4().hex})
                url, headers = await _upload_grant(link, retry)
                sha256 = await upload_file(http, url, output.path, headers)
        except (TransferError, RequestFailedError) as exc:
            raise TaskFailedError(
                f"could not upload output {output.output_id!r}: {exc}", "output_upload_failed"
            ) from None
        specs.append(
            OutputSpec(
                output_id=output.output_id,
                file_name=name,
                content_type=request.content_type,
                file_size=size,
                sha256=sha256,
            )
        )
    return specs


async def _upload_grant(link: ServerLink, request: OutputUrlRequest) -> tuple[str, dict[str, str]]:
    grant = await link.request(request, OutputUrlGrant)
    if grant.error_code or not grant.upload_url:
        raise TaskFailedError(
            grant.error_message or f"the server refused an upload URL for {request.output_id}",
            grant.error_code or "output_upload_failed",
        )
    return grant.upload_url, grant.upload_headers


def safe_name(name: str, fallback: str) -> str:
    """One path component: no directories, control characters or leading dots."""
    cleaned = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return cleaned.strip().lstrip(".")[:255] or fallback
