"""Task handles: ``Task`` (sync) and ``AsyncTask``. ``refresh``, ``result`` and ``cancel`` are
written once (``TaskHandle``); ``wait`` and ``download`` are the only I/O loops written twice,
both thin over the shared ``Follower`` (``_sse``) and ``download_plan``.

``wait`` follows ``GET /r/tasks/{id}/events`` (SSE), reconnecting with ``Last-Event-ID`` so no
event is delivered twice; against a server without that endpoint it polls ``GET /r/tasks/{id}``
with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar

import httpx

from runyard_client._base import Call, api
from runyard_client._errors import ChecksumMismatch, RunyardError, TaskFailed, TransportError
from runyard_client._models import CancelResult, TaskInfo, TaskResult
from runyard_client._resources import Resource, endpoint, model, seg
from runyard_client._sse import Deadline, Follower, ProgressCallback, SSEDecoder, stream_mode
from runyard_client._transport import AsyncExecutor, SyncExecutor

if TYPE_CHECKING:
    from hashlib import _Hash

X = TypeVar("X")
SSE_READ_TIMEOUT = 60.0  # the server sends a keep-alive every 15 s
FAILED = ("failed", "cancelled")


class TaskHandle(Resource[X]):
    def __init__(
        self, executor: X, task_id: str, *, info: TaskInfo | None = None, replayed: bool = False
    ) -> None:
        super().__init__(executor)
        self.id = task_id
        self.info = info
        self.replayed = replayed  # the run was answered from an earlier Idempotency-Key

    def __repr__(self) -> str:
        status = self.info.task_status if self.info else "?"
        return f"<{type(self).__name__} {self.id} {status}>"

    @endpoint
    def refresh(self) -> Call[TaskInfo]:
        """Fetch the task record again (also stored in ``.info``)."""

        def parse(response: httpx.Response) -> TaskInfo:
            self.info = TaskInfo.model_validate(response.json())
            return self.info

        return Call("GET", api(f"/r/tasks/{seg(self.id)}"), parse)

    @endpoint
    def result(self) -> Call[TaskResult]:
        """Outputs and fresh download URLs (``None`` until the task completes)."""
        return Call("GET", api(f"/r/tasks/{seg(self.id)}/result"), model(TaskResult))

    @endpoint
    def cancel(self) -> Call[CancelResult]:
        return Call("POST", api(f"/r/tasks/{seg(self.id)}/cancel"), model(CancelResult), retry=True)

    @endpoint
    def logs(self) -> Call[str]:
        """What the task's process printed so far (stdout, stderr, ``logging``), as text. Follow
        it live with ``wait(on_progress=...)``: each ``log`` event carries new lines
        (``runyard_client.log_lines(event.data)``)."""
        return Call("GET", api(f"/r/tasks/{seg(self.id)}/logs"), lambda r: r.text)


def events_call(task_id: str, last_id: int | None, deadline: Deadline) -> Call[Any]:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    read = deadline.cap(SSE_READ_TIMEOUT) + 0.5
    return Call(
        "GET",
        api(f"/r/tasks/{seg(task_id)}/events"),
        lambda r: r,
        headers=headers,
        timeout=httpx.Timeout(30.0, read=read),
    )


def finished(info: TaskInfo, raise_on_failure: bool) -> TaskInfo:
    if raise_on_failure and info.task_status in FAILED:
        raise TaskFailed(info)
    return info


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]+")


def safe_name(name: str, fallback: str) -> str:
    name = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return name or fallback


class Planned(NamedTuple):
    url: str
    target: Path
    size: int
    sha256: str | None


def download_plan(result: TaskResult, directory: Path) -> list[Planned]:
    """``(url, target, size, sha256)`` per output, in output order; refuses unfinished tasks and
    never lets two outputs (or a server-chosen name) write outside ``directory`` or over each
    other."""
    if result.task_status in FAILED:
        raise TaskFailed(result)
    if result.task_status != "completed" or result.task_output is None:
        raise RunyardError(
            f"task {result.id} is {result.task_status}; wait() for it to "
            "complete before downloading"
        )
    urls = result.download_urls or {}
    plan: list[Planned] = []
    taken: set[str] = set()
    for index, output in enumerate(result.task_output.outputs):
        url = urls.get(output.output_id)
        if not url:
            raise RunyardError(f"the server gave no download URL for output {output.output_id}")
        name = safe_name(output.file_name, f"output-{index}")
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        n = 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}{dot}{ext}"
        taken.add(name)
        plan.append(Planned(url, directory / name, output.file_size, output.sha256))
    return plan


def download_call(url: str) -> Call[Any]:
    # A presigned URL carries its own signature: never send our key to the object store.
    return Call("GET", url, lambda r: r, authenticated=False)


def _check(planned: Planned, written: int, digest: _Hash) -> None:
    """The download has the output's size and, when the server reports one, its sha256."""
    target, expected = planned.target, planned.size
    if expected and written != expected:
        raise TransportError(f"download of {target.name} stopped at {written} of {expected} bytes")
    if planned.sha256 and digest.hexdigest() != planned.sha256:
        raise ChecksumMismatch(
            f"download of {target.name} has sha256 {digest.hexdigest()}, not the output's "
            f"{planned.sha256}; it was not kept: download it again"
        )


def _write_hashed(fh: IO[bytes], digest: _Hash, chunk: bytes) -> None:
    fh.write(chunk)
    digest.update(chunk)


class Task(TaskHandle[SyncExecutor]):
    def wait(
        self,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        raise_on_failure: bool = False,
    ) -> TaskInfo:
        """Block until the task is ``completed``, ``failed`` or ``cancelled``; return its record.
        ``on_progress`` gets every ``TaskEvent`` once. Raises ``WaitTimeout`` after ``timeout``
        seconds and, with ``raise_on_failure``, ``TaskFailed``."""
        x, follower, deadline = self._executor, Follower(self.id, on_progress), Deadline(timeout)
        use_sse = True
        while not follower.done:
            deadline.check(self.id)
            if not use_sse:
                info = self.refresh()
                follower.on_poll(info)
                if follower.done:
                    return finished(info, raise_on_failure)
                x.sleep(deadline.cap(follower.poll_delay))
                continue
            try:
                with x.stream(events_call(self.id, follower.last_id, deadline)) as response:
                    if stream_mode(response) == "poll":
                        use_sse = False
                        continue
                    decoder = SSEDecoder()
                    for line in response.iter_lines():
                        sse = decoder.feed(line)
                        if sse is not None:
                            follower.on_sse(sse)
                        if follower.done:
                            break
                        deadline.check(self.id)
            except (httpx.TransportError, TransportError):
                pass  # dropped or idle: reconnect below with Last-Event-ID
            if not follower.done:
                x.sleep(deadline.cap(follower.reconnect_delay()))
        return finished(self.refresh(), raise_on_failure)

    def download(self, directory: str | Path) -> list[Path]:
        """Stream every output of a completed task into ``directory`` (created if missing),
        named by the outputs' file names; returns the paths in output order."""
        target_dir = Path(directory)
        target_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        for planned in download_plan(self.result(), target_dir):
            url, target = planned.url, planned.target
            part = target.with_name(target.name + ".part")
            digest = hashlib.sha256()
            try:
                with self._executor.stream(download_call(url)) as response:
                    self._executor.core.finish(Call("GET", url, lambda r: None), response)
                    written = 0
                    with part.open("wb") as fh:
                        for chunk in response.iter_bytes():
                            fh.write(chunk)
                            digest.update(chunk)
                            written += len(chunk)
                _check(planned, written, digest)
                part.replace(target)
            except httpx.TransportError as exc:
                raise TransportError(f"download of {target.name} failed: {exc}") from exc
            finally:
                with contextlib.suppress(OSError):
                    part.unlink()
            paths.append(target)
        return paths


class AsyncTask(TaskHandle[AsyncExecutor]):
    async def wait(
        self,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        raise_on_failure: bool = False,
    ) -> TaskInfo:
        """See ``Task.wait``."""
        x, follower, deadline = self._executor, Follower(self.id, on_progress), Deadline(timeout)
        use_sse = True
        while not follower.done:
            deadline.check(self.id)
            if not use_sse:
                info = await self.refresh()
                follower.on_poll(info)
                if follower.done:
                    return finished(info, raise_on_failure)
                await x.sleep(deadline.cap(follower.poll_delay))
                continue
            try:
                async with x.stream(events_call(self.id, follower.last_id, deadline)) as response:
                    if stream_mode(response) == "poll":
                        use_sse = False
                        continue
                    decoder = SSEDecoder()
                    async for line in response.aiter_lines():
                        sse = decoder.feed(line)
                        if sse is not None:
                            follower.on_sse(sse)
                        if follower.done:
                            break
                        deadline.check(self.id)
            except (httpx.TransportError, TransportError):
                pass
            if not follower.done:
                await x.sleep(deadline.cap(follower.reconnect_delay()))
        return finished(await self.refresh(), raise_on_failure)

    async def download(self, directory: str | Path) -> list[Path]:
        """See ``Task.download``."""
        target_dir = Path(directory)
        target_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        for planned in download_plan(await self.result(), target_dir):
            url, target = planned.url, planned.target
            part = target.with_name(target.name + ".part")
            digest = hashlib.sha256()
            try:
                async with self._executor.stream(download_call(url)) as response:
                    self._executor.core.finish(Call("GET", url, lambda r: None), response)
                    written = 0
                    fh = await asyncio.to_thread(part.open, "wb")
                    try:
                        async for chunk in response.aiter_bytes():
                            await asyncio.to_thread(_write_hashed, fh, digest, chunk)
                            written += len(chunk)
                    finally:
                        fh.close()
                _check(planned, written, digest)
                part.replace(target)
            except httpx.TransportError as exc:
                raise TransportError(f"download of {target.name} failed: {exc}") from exc
            finally:
                with contextlib.suppress(OSError):
                    part.unlink()
            paths.append(target)
        return paths
