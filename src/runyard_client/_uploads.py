"""Uploading a local file and getting its ``file_key``.

Up to the single-upload limit (524,288,000 bytes unless the client is told otherwise): presign,
then one PUT streamed from the file with exactly the signed ``upload_headers`` (contract
section 1). Above it: multipart (section 4), which the server allows to user session tokens
only: initiate, presign parts in batches, PUT parts in parallel (threads for ``Client``, tasks
for ``AsyncClient``) with per-part retries, complete. A failed multipart upload is left open so
``upload(path, resume_upload_id=...)`` can finish it, skipping the parts the server already has.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runyard_client._base import Call, ClientCore, FileSlice, api, store_error
from runyard_client._config import key_kind
from runyard_client._errors import FileTooLarge, RunyardError, TransportError, UploadError
from runyard_client._layout import (
    Source,
    check_layout,
    describe,
    failed,
    part_range,
    resumed,
)
from runyard_client._models import (
    MultipartStatus,
    MultipartUpload,
    PresignedPart,
    PresignedUpload,
)
from runyard_client._resources import model, presign_call, seg
from runyard_client._transport import AsyncExecutor, SyncExecutor

UploadProgress = Callable[[int, int], None]
"""Called with ``(bytes_sent, total_bytes)`` as the upload advances."""

RunProgress = Callable[[str, int, int], None]
"""Called with ``(parameter_key, bytes_sent, total_bytes)`` while ``run`` uploads files."""

PRESIGN_BATCH = 32
PART_ATTEMPTS = 4


@dataclass(frozen=True)
class Route:
    """Where a file goes: the seed's inputs (``/r/files/presign``, ``/uploads/multipart``), or
    the model library (``/models/presign``, ``/models/multipart``, a sha256 always sent, and
    multipart open to ``dk-`` keys too)."""

    presign: str = "/r/files/presign"
    multipart: str = "/uploads/multipart"
    sha256: str | None = None

    @property
    def for_models(self) -> bool:
        return self.multipart.startswith("/models/")


INPUTS = Route()


def model_route(sha256: str) -> Route:
    return Route("/models/presign", "/models/multipart", sha256)


def bundle_route(sha256: str) -> Route:
    """A workflow's code (always one PUT: bundles are smaller than the single-upload limit)."""
    return Route("/workflows/bundles/presign", "/uploads/multipart", sha256)


def declared_files(uploads: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each local file as ``POST …/validate`` takes it: name, size and type, as the upload
    will declare them to the presign."""
    declared = {}
    for key, path in uploads.items():
        src = describe(path, None)
        declared[key] = {
            "file_name": src.file_name,
            "file_size": src.size,
            "content_type": src.content_type,
        }
    return declared


def bind_progress(progress: RunProgress | None, key: str) -> UploadProgress | None:
    if progress is None:
        return None
    return lambda sent, total: progress(key, sent, total)


class Tracker:
    """Sums bytes from many parts (and threads) into one ``progress(sent, total)`` call."""

    def __init__(self, total: int, callback: UploadProgress | None) -> None:
        self.total, self.callback, self.sent = total, callback, 0
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.sent += n
            sent = self.sent
        if self.callback is not None:
            self.callback(sent, self.total)


def use_multipart(
    core: ClientCore, src: Source, resume_upload_id: str | None, route: Route = INPUTS
) -> bool:
    if resume_upload_id is None and src.size <= core.single_upload_limit:
        return False
    if not route.for_models and key_kind(core.api_key) != "session":
        raise FileTooLarge(
            f"{src.file_name} is {src.size} bytes, over the single-upload limit of "
            f"{core.single_upload_limit} bytes. Larger files need multipart upload, which the "
            "server allows only with a user session token (an access token from POST "
            "/api/v1/auth/login), not with sk-/dk- keys (what `runyard login` saves).",
            status_code=413,
            error_code="file_too_large",
        )
    return True


def put_call(
    url: str, headers: dict[str, str], body: FileSlice, core: ClientCore, *, retry: bool
) -> Call[str]:
    return Call(
        "PUT",
        url,
        lambda r: r.headers.get("ETag", "").strip(),
        headers=dict(headers),
        body=body,
        authenticated=False,
        retry=retry,
        timeout=core.upload_timeout,
        on_error=store_error,
    )


def initiate_call(src: Source, route: Route = INPUTS) -> Call[MultipartUpload]:
    body: dict[str, Any] = {"file_name": src.file_name, "file_size": src.size}
    if route.sha256 is not None:
        body["sha256"] = route.sha256
    if not route.for_models:
        body["content_type"] = src.content_type
    return Call("POST", api(f"{route.multipart}/initiate"), model(MultipartUpload), json=body)


def single_call(src: Source, route: Route) -> Call[PresignedUpload | str]:
    """The single presigned PUT of ``route``; with a sha256 the server may answer that these
    bytes are stored already: then the existing ``file_key`` (a ``str``)."""
    if route.sha256 is None:
        call = presign_call(src.file_name, src.size, src.content_type)
        return Call(call.method, call.url, call.parse, json=call.json)

    def parse(response: httpx.Response) -> PresignedUpload | str:
        body = response.json()
        if body.get("already_uploaded"):
            return str(body["file_key"])
        return PresignedUpload.model_validate(body)

    json = {"file_name": src.file_name, "file_size": src.size, "sha256": route.sha256}
    return Call("POST", api(route.presign), parse, json=json)


def presign_parts_call(
    mp: MultipartUpload, numbers: list[int], route: Route = INPUTS
) -> Call[list[PresignedPart]]:
    def parse(response: httpx.Response) -> list[PresignedPart]:
        return [PresignedPart.model_validate(p) for p in response.json()["parts"]]

    return Call(
        "POST",
        api(f"{route.multipart}/presign-parts"),
        parse,
        retry=True,
        json={"upload_id": mp.upload_id, "file_key": mp.file_key, "part_numbers": numbers},
    )


def complete_call(mp: MultipartUpload, etags: dict[int, str], route: Route = INPUTS) -> Call[str]:
    parts = [{"part_number": n, "etag": etags[n]} for n in sorted(etags)]
    return Call(
        "POST",
        api(f"{route.multipart}/complete"),
        lambda r: str(r.json()["file_key"]),
        json={"upload_id": mp.upload_id, "file_key": mp.file_key, "parts": parts},
    )


def abort_call(upload_id: str, file_key: str) -> Call[Any]:
    return Call(
        "POST",
        api("/uploads/multipart/abort"),
        lambda r: None,
        json={"upload_id": upload_id, "file_key": file_key},
    )


def status_call(upload_id: str, route: Route = INPUTS) -> Call[MultipartStatus]:
    return Call("GET", api(f"{route.multipart}/{seg(upload_id)}"), model(MultipartStatus))


def _retry_part(exc: Exception) -> tuple[bool, bool]:
    """(retry?, presign again?) after a failed part PUT."""
    if isinstance(exc, UploadError):
        return exc.status_code in (403, 408, 429, 500, 502, 503, 504), exc.status_code == 403
    return isinstance(exc, TransportError), False


def _batches(numbers: list[int]) -> list[list[int]]:
    return [numbers[i : i + PRESIGN_BATCH] for i in range(0, len(numbers), PRESIGN_BATCH)]


# -- sync ---------------------------------------------------------------------------------------


# Told the multipart upload (begun or resumed) and how many of its parts the store holds already,
# before any part is sent: a caller that may be killed records the upload_id to resume it.
MultipartStarted = Callable[[MultipartUpload, int], None]


def upload_sync(
    x: SyncExecutor,
    path: str | Path,
    content_type: str | None,
    progress: UploadProgress | None,
    resume_upload_id: str | None,
    route: Route = INPUTS,
    on_multipart: MultipartStarted | None = None,
) -> str:
    src = describe(path, content_type)
    tracker = Tracker(src.size, progress)
    if not use_multipart(x.core, src, resume_upload_id, route):
        presigned = x.execute(single_call(src, route))
        if isinstance(presigned, str):
            tracker.add(src.size)  # stored already: nothing to send
            return presigned
        body = FileSlice(src.path, 0, src.size, tracker.add)
        x.execute(
            put_call(presigned.upload_url, presigned.upload_headers, body, x.core, retry=False)
        )
        return presigned.file_key
    if resume_upload_id:
        mp, done = resumed(x.execute(status_call(resume_upload_id, route)), src)
    else:
        mp, done = x.execute(initiate_call(src, route)), {}
    check_layout(mp, src.size)
    if on_multipart is not None:
        on_multipart(mp, len(done))
    tracker.add(sum(part_range(mp, src.size, n)[1] for n in done))
    todo = [n for n in range(1, mp.part_count + 1) if n not in done]
    try:
        with ThreadPoolExecutor(x.core.part_concurrency, "runyard-upload") as pool:
            for batch in _batches(todo):
                parts = x.execute(presign_parts_call(mp, batch, route))
                jobs = [pool.submit(_put_part_sync, x, mp, src, p, tracker, route) for p in parts]
                for job in jobs:
                    number, etag = job.result()
                    done[number] = etag
        return x.execute(complete_call(mp, done, route))
    except RunyardError as exc:
        raise failed(mp, exc) from exc


def _put_part_sync(
    x: SyncExecutor,
    mp: MultipartUpload,
    src: Source,
    part: PresignedPart,
    tracker: Tracker,
    route: Route = INPUTS,
) -> tuple[int, str]:
    offset, length = part_range(mp, src.size, part.part_number)
    body = FileSlice(src.path, offset, length, tracker.add)
    for attempt in range(PART_ATTEMPTS):
        try:
            return part.part_number, x.execute(
                put_call(part.upload_url, part.upload_headers, body, x.core, retry=True)
            )
        except (UploadError, TransportError) as exc:
            again, represign = _retry_part(exc)
            if not again or attempt == PART_ATTEMPTS - 1:
                raise
            x.sleep(x.core.retry_backoff * (2**attempt))
            if represign:
                part = x.execute(presign_parts_call(mp, [part.part_number], route))[0]
    raise AssertionError("unreachable")


# -- async --------------------------------------------------------------------------------------


async def upload_async(
    x: AsyncExecutor,
    path: str | Path,
    content_type: str | None,
    progress: UploadProgress | None,
    resume_upload_id: str | None,
    route: Route = INPUTS,
    on_multipart: MultipartStarted | None = None,
) -> str:
    src = await asyncio.to_thread(describe, path, content_type)
    tracker = Tracker(src.size, progress)
    if not use_multipart(x.core, src, resume_upload_id, route):
        presigned = await x.execute(single_call(src, route))
        if isinstance(presigned, str):
            tracker.add(src.size)
            return presigned
        body = FileSlice(src.path, 0, src.size, tracker.add)
        await x.execute(
            put_call(presigned.upload_url, presigned.upload_headers, body, x.core, retry=False)
        )
        return presigned.file_key
    if resume_upload_id:
        mp, done = resumed(await x.execute(status_call(resume_upload_id, route)), src)
    else:
        mp, done = await x.execute(initiate_call(src, route)), {}
    check_layout(mp, src.size)
    if on_multipart is not None:
        on_multipart(mp, len(done))
    tracker.add(sum(part_range(mp, src.size, n)[1] for n in done))
    todo = [n for n in range(1, mp.part_count + 1) if n not in done]
    limit = asyncio.Semaphore(x.core.part_concurrency)
    try:
        for batch in _batches(todo):
            parts = await x.execute(presign_parts_call(mp, batch, route))
            # Let every part of the batch finish (as the thread pool does) before failing.
            results = await asyncio.gather(
                *(_put_part_async(x, mp, src, p, tracker, limit, route) for p in parts),
                return_exceptions=True,
            )
            for item in results:
                if isinstance(item, BaseException):
                    raise item
                done[item[0]] = item[1]
        return await x.execute(complete_call(mp, done, route))
    except RunyardError as exc:
        raise failed(mp, exc) from exc


async def _put_part_async(
    x: AsyncExecutor,
    mp: MultipartUpload,
    src: Source,
    part: PresignedPart,
    tracker: Tracker,
    limit: asyncio.Semaphore,
    route: Route = INPUTS,
) -> tuple[int, str]:
    offset, length = part_range(mp, src.size, part.part_number)
    body = FileSlice(src.path, offset, length, tracker.add)
    async with limit:
        for attempt in range(PART_ATTEMPTS):
            try:
                return part.part_number, await x.execute(
                    put_call(part.upload_url, part.upload_headers, body, x.core, retry=True)
                )
            except (UploadError, TransportError) as exc:
                again, represign = _retry_part(exc)
                if not again or attempt == PART_ATTEMPTS - 1:
                    raise
                await x.sleep(x.core.retry_backoff * (2**attempt))
                if represign:
                    part = (await x.execute(presign_parts_call(mp, [part.part_number], route)))[0]
    raise AssertionError("unreachable")
