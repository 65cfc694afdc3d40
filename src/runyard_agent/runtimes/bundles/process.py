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
from collections.abc import Callable
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

__all__ = ["CHANNEL_ENV", "CallbackSink", "LogSink", "run_in_child"]

# The child's channel: the file descriptor it reports on (``child.py`` reads it).
CHANNEL_ENV = "RUNYARD_CHANNEL_FD"


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


async def run_in_child(
    ctx: TaskContext,
    root: Path,
    entrypoint: str,
    log: LogSink,
    *,
    python: str = sys.executable,
) -> list[ProducedOutput]:
    """Run ``entrypoint`` of the code in ``root`` for ``ctx`` in a new process."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, CHANNEL_ENV: str(write_fd), "PYTHONUNBUFFERED": "1"}
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "runyard_agent.runtimes.bundles.child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
            cwd=ctx.work_dir,
            start_new_session=True,  # a kill takes what the task started with it
        )
    finally:
        os.close(write_fd)
    loop = asyncio.get_running_loop()
    channel = asyncio.StreamReader(limit=16 * 1024 * 1024)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(channel), os.fdopen(read_fd, "rb", buffering=0)
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    job = {
        "root": str(root),
        "entrypoint": entrypoint,
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
        final = await _read_channel(channel, ctx)
        await asyncio.gather(*pumps)
        returncode = await process.wait()
    finally:
        canceller.cancel()
        transport.close()
        if process.returncode is None:
            _kill(process)
            await process.wait()
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
