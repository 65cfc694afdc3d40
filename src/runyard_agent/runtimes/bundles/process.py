"""Running one task in its own child process (``child.py``), from the parent's side.

A fresh interpreter per task (spawned, never forked): versions of one module never collide, a
crash ends only that task (``runtime_crashed``), and a stop is hard: ``cancel`` is written to the
child's stdin, and a child still running when the caller gives up (the executor cancels after
its grace) is killed. stdout and stderr are read in large chunks and handed to ``log`` line by
line; the sink bounds them, so a flooding task costs the event loop little.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard_agent.runtimes.base import (
    LogSink,
    ProducedOutput,
    ProgressReport,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.child import CHANNEL_ENV, ENTRYPOINT_ENV, ROOT_ENV

__all__ = ["CallbackSink", "Child", "LogSink", "WarmPool", "discard", "run_in_child", "spawn"]


class CallbackSink:
    """Every line to ``callback(stream, line)`` (``runyard workflows test`` prints them)."""

    def __init__(self, callback: Callable[[str, str], None] | None = None) -> None:
        self._callback = callback

    def room(self) -> int:
        return 1_000_000

    def lines(self, stream: str, lines: list[str]) -> None:
        if self._callback is not None:
            for line in lines:
                self._callback(stream, line)

    def dropped(self, count: int) -> None:
        return None


_CHUNK = 64 * 1024
_MAX_LINE = 8 * 1024
_CANCEL_POLL = 0.05


def _decode(raw: bytes) -> str:
    return raw[:_MAX_LINE].decode("utf-8", "replace").rstrip("\r")


async def _pump(stream: asyncio.StreamReader, name: str, log: LogSink, tail: list[str]) -> None:
    """Hand the lines of ``stream`` to ``log``; only as many as it has room for are split and
    decoded, the others are counted (a flood costs a newline count per 64 KiB)."""
    pending = b""
    while chunk := await stream.read(_CHUNK):
        room = log.room()
        if room == 0:
            log.dropped(chunk.count(b"\n"))
            pending = b""
            continue
        pending += chunk
        *raw_lines, pending = pending.split(b"\n")
        if len(pending) > _MAX_LINE:  # a line without end: hand it over in pieces
            raw_lines.append(pending)
            pending = b""
        taken = [_decode(raw) for raw in raw_lines[:room]]
        log.lines(name, taken)
        log.dropped(len(raw_lines) - len(taken))
        if name == "stderr":
            tail.extend(taken[-20:])
            del tail[:-20]
    if pending:
        log.lines(name, [_decode(pending)])


async def _read_channel(reader: asyncio.StreamReader, ctx: TaskContext) -> dict[str, Any] | None:
    """Progress goes to ``ctx``; the final message (done, failed, cancelled) is returned."""
    while line := await reader.readline():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        kind = message.pop("kind", None)
        if kind == "progress":
            ctx.report(ProgressReport(**message))
        elif kind in ("done", "failed", "cancelled"):
            return {"kind": kind, **message}
    return None


async def _forward_cancel(ctx: TaskContext, stdin: asyncio.StreamWriter) -> None:
    while not ctx.cancel_event.is_set():
        await asyncio.sleep(_CANCEL_POLL)
    with contextlib.suppress(ConnectionError, RuntimeError):
        stdin.write(b"cancel\n")
        await stdin.drain()


def _crash_message(returncode: int, tail: list[str]) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = f"the task's process was killed by {name}"
        if name == "SIGKILL":
            why += " (out of memory, or killed from outside)"
    else:
        why = f"the task's process exited with status {returncode} before it finished"
    last = [line for line in tail if line.strip()][-3:]
    return why + (": " + " | ".join(last) if last else "")


@dataclass(eq=False)
class Child:
    """A started child process: its entrypoint imported (or failed to), waiting for a job."""

    process: asyncio.subprocess.Process
    channel: asyncio.StreamReader
    transport: asyncio.BaseTransport


async def spawn(root: Path, entrypoint: str, python: str = sys.executable) -> Child:
    read_fd, write_fd = os.pipe()
    env = {
        **os.environ,
        CHANNEL_ENV: str(write_fd),
        ROOT_ENV: str(root),
        ENTRYPOINT_ENV: entrypoint,
        "PYTHONUNBUFFERED": "1",
    }
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "runyard_agent.runtimes.child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
            cwd=root,
            start_new_session=True,  # a kill takes what the task started with it
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    channel = asyncio.StreamReader(limit=16 * 1024 * 1024)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(channel), os.fdopen(read_fd, "rb", buffering=0)
    )
    return Child(process, channel, transport)


async def discard(child: Child) -> None:
    child.transport.close()
    if child.process.returncode is None:
        _kill(child.process)
        await child.process.wait()


class WarmPool:
    """One started process kept ready per (bundle, entrypoint) that ran lately: a task takes it
    and the next one starts in the background, so a task waits for neither the interpreter nor
    its imports. At most ``size`` are kept (the least lately used goes)."""

    def __init__(self, size: int = 8, python: str = sys.executable) -> None:
        self._size = size
        self._python = python
        self._idle: OrderedDict[tuple[str, str], Child] = OrderedDict()
        self._starting: set[asyncio.Task[None]] = set()
        self._closed = False

    async def take(self, root: Path, entrypoint: str) -> Child:
        key = (str(root), entrypoint)
        child = self._idle.pop(key, None)
        if child is not None and child.process.returncode is not None:
            await discard(child)
            child = None
        if child is None:
            child = await spawn(root, entrypoint, self._python)
        if not self._closed:
            refill = asyncio.create_task(self._keep_ready(root, entrypoint))
            self._starting.add(refill)
            refill.add_done_callback(self._starting.discard)
        return child

    async def _keep_ready(self, root: Path, entrypoint: str) -> None:
        key = (str(root), entrypoint)
        try:
            child = await spawn(root, entrypoint, self._python)
        except OSError:
            return  # the next task starts its own
        if self._closed or key in self._idle:
            await discard(child)
            return
        self._idle[key] = child
        while len(self._idle) > self._size:
            _, oldest = self._idle.popitem(last=False)
            await discard(oldest)

    async def close(self) -> None:
        self._closed = True
        for starting in list(self._starting):
            starting.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        while self._idle:
            _, child = self._idle.popitem()
            await discard(child)


async def run_in_child(
    ctx: TaskContext,
    root: Path,
    entrypoint: str,
    log: LogSink,
    *,
    pool: WarmPool | None = None,
) -> list[ProducedOutput]:
    """Run ``entrypoint`` of the code in ``root`` for ``ctx`` in a process of its own (a warm
    one from ``pool`` when it has one)."""
    child = await pool.take(root, entrypoint) if pool is not None else await spawn(root, entrypoint)
    process = child.process
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    job = {
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "parameters": ctx.parameters,
        "input_files": {k: str(v) for k, v in ctx.input_files.items()},
        "input_names": ctx.input_names,
        "input_types": ctx.input_types,
        "work_dir": str(ctx.work_dir),
        "output_dir": str(ctx.output_dir),
    }
    tail: list[str] = []
    pumps = [
        asyncio.create_task(_pump(process.stdout, "stdout", log, tail)),
        asyncio.create_task(_pump(process.stderr, "stderr", log, tail)),
    ]
    canceller = asyncio.create_task(_forward_cancel(ctx, process.stdin))
    try:
        process.stdin.write(json.dumps(job).encode() + b"\n")
        await process.stdin.drain()
        final = await _read_channel(child.channel, ctx)
        await asyncio.gather(*pumps)
        returncode = await process.wait()
    finally:
        canceller.cancel()
        await discard(child)
        for pump in pumps:
            pump.cancel()
    if final is None:
        if ctx.cancelled:
            raise TaskCancelledError()
        raise TaskFailedError(_crash_message(returncode, tail), "runtime_crashed")
    if final["kind"] == "cancelled":
        raise TaskCancelledError()
    if final["kind"] == "failed":
        raise TaskFailedError(str(final.get("message")), str(final.get("code") or "task_failed"))
    ctx.values.update(final.get("values") or {})
    return [
        ProducedOutput(o["output_id"], Path(o["path"]), o["content_type"], o.get("file_name"))
        for o in final.get("outputs") or []
    ]


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
