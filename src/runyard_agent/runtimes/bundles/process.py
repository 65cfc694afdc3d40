"""Running tasks in a child process (``child.py``), from the parent's side.

A child is a fresh interpreter (spawned, never forked) that imports one entrypoint of one
bundle and then serves jobs one at a time: versions of one module never collide (a child serves
one bundle sha256), a crash ends only the task it was running (``runtime_crashed``), and a stop
is hard: ``cancel`` is written to the child's stdin, and a child still running when the caller
gives up (the executor cancels after its grace) is killed. A child that had a cancel, crashed,
went over a limit or said so is never given another task (``Outcome.reusable``).

stdout and stderr are read in large chunks for the child's whole life and routed to the sink of
the task it runs now; the child ends each task by writing an end marker to both streams, so a
line is attributed to the task that printed it before it returned, and what a process prints
between tasks is dropped. The sink bounds the lines it takes: a flooding task costs the event
loop a newline count per 64 KiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
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
from runyard_agent.runtimes.child import CHANNEL_ENV, ENTRYPOINT_ENV, ROOT_ENV, end_marker

__all__ = ["CallbackSink", "Child", "LogSink", "Outcome", "discard", "run_job", "spawn"]


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
_KEEP = 64  # bytes kept back from a line without end: a marker may begin in them
_CANCEL_POLL = 0.05
_STREAMS = ("stdout", "stderr")


def _decode(raw: bytes) -> str:
    return raw[:_MAX_LINE].decode("utf-8", "replace").rstrip("\r")


@dataclass(eq=False)
class _Route:
    """Where a child's console goes now: the running task's sink (None between tasks), the
    marker that ends the task's lines, and which streams have shown it (or ended)."""

    sink: LogSink | None = None
    marker: bytes | None = None
    tail: list[str] = field(default_factory=list)  # the task's last stderr lines
    ended: dict[str, asyncio.Event] = field(
        default_factory=lambda: {name: asyncio.Event() for name in _STREAMS}
    )

    def start(self, sink: LogSink, marker: bytes) -> None:
        self.sink, self.marker, self.tail = sink, marker, []
        for event in self.ended.values():
            event.clear()

    def deliver(self, name: str, data: bytes, *, flush: bool = False) -> bytes:
        """Hand the complete lines of ``data`` over; return what is left (a line not ended)."""
        cut = len(data) if flush else data.rfind(b"\n") + 1
        if not flush and len(data) - cut > _MAX_LINE:  # a line without end: in pieces
            cut = len(data) - _KEEP
        whole, rest = data[:cut], data[cut:]
        if not whole:
            return rest
        sink = self.sink
        room = sink.room() if sink is not None else 0
        if sink is None or room == 0:
            if sink is not None:
                sink.dropped(whole.count(b"\n") or 1)
            return rest
        raw_lines = whole.split(b"\n")
        if raw_lines[-1] == b"":
            raw_lines.pop()
        taken = [_decode(raw) for raw in raw_lines[:room]]
        sink.lines(name, taken)
        if len(raw_lines) > len(taken):
            sink.dropped(len(raw_lines) - len(taken))
        if name == "stderr":
            self.tail.extend(taken[-20:])
            del self.tail[:-20]
        return rest


async def _pump(stream: asyncio.StreamReader, name: str, route: _Route) -> None:
    pending = b""
    while chunk := await stream.read(_CHUNK):
        pending += chunk
        while route.marker is not None and (at := pending.find(route.marker)) >= 0:
            route.deliver(name, pending[:at], flush=True)
            pending = pending[at + len(route.marker) :]
            route.ended[name].set()
            route.sink = None if all(e.is_set() for e in route.ended.values()) else route.sink
        pending = route.deliver(name, pending)
    route.deliver(name, pending, flush=True)
    route.ended[name].set()


@dataclass(eq=False)
class Child:
    """A started child process: its entrypoint imported (or failed to), serving jobs."""

    process: asyncio.subprocess.Process
    channel: asyncio.StreamReader
    transport: asyncio.BaseTransport
    route: _Route
    pumps: list[asyncio.Task[None]]
    served: int = 0  # jobs given to it

    @property
    def alive(self) -> bool:
        # A process that died is seen by its console's end (EOF) as soon as by its exit status
        return self.process.returncode is None and not any(p.done() for p in self.pumps)


async def spawn(
    root: Path, entrypoint: str, python: str = sys.executable, site: Path | None = None
) -> Child:
    """Start a child for ``entrypoint`` of the code in ``root``; ``site``: a folder of the
    bundle's requirements, put first on its ``sys.path`` (``bundles/envs.py``)."""
    read_fd, write_fd = os.pipe()
    env = {
        **os.environ,
        CHANNEL_ENV: str(write_fd),
        ROOT_ENV: str(root),
        ENTRYPOINT_ENV: entrypoint,
        "PYTHONUNBUFFERED": "1",
    }
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
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
    assert process.stdout is not None and process.stderr is not None
    route = _Route()
    pumps = [
        asyncio.create_task(_pump(process.stdout, "stdout", route)),
        asyncio.create_task(_pump(process.stderr, "stderr", route)),
    ]
    return Child(process, channel, transport, route, pumps)


async def discard(child: Child) -> None:
    child.transport.close()
    if child.process.returncode is None:
        _kill(child.process)
        await child.process.wait()
    for pump in child.pumps:
        pump.cancel()
    await asyncio.gather(*child.pumps, return_exceptions=True)


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


class _CancelForwarder:
    """Polls ``ctx.cancel_event`` (a thread's event) on the loop's timer, no task per job, and
    writes ``cancel`` to the child once it is set."""

    def __init__(self, ctx: TaskContext, stdin: asyncio.StreamWriter) -> None:
        self._ctx, self._stdin = ctx, stdin
        self._handle = asyncio.get_running_loop().call_later(_CANCEL_POLL, self._check)

    def _check(self) -> None:
        if not self._ctx.cancel_event.is_set():
            self._handle = asyncio.get_running_loop().call_later(_CANCEL_POLL, self._check)
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._stdin.write(b"cancel\n")  # a line: the pipe takes it without waiting

    def stop(self) -> None:
        self._handle.cancel()


def _crash_message(returncode: int, tail: list[str]) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = f"the task's process was killed by {name}"
        if name == "SIGKILL":
            why += " (out of memory, or killed from outside)"
        elif name == "SIGXCPU":
            why += " (over its CPU time limit)"
    else:
        why = f"the task's process exited with status {returncode} before it finished"
    last = [line for line in tail if line.strip()][-3:]
    return why + (": " + " | ".join(last) if last else "")


def _job(ctx: TaskContext, seq: int, limits: dict[str, float | None]) -> dict[str, Any]:
    return {
        "seq": seq,
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "parameters": ctx.parameters,
        "input_files": {k: str(v) for k, v in ctx.input_files.items()},
        "input_names": ctx.input_names,
        "input_types": ctx.input_types,
        "work_dir": str(ctx.work_dir),
        "output_dir": str(ctx.output_dir),
        "limits": limits,
    }


@dataclass(frozen=True)
class Outcome:
    """How a task in a child ended: its outputs or its error, and whether the child may serve
    another task (not after a cancel, a crash, a limit, or when the child says no)."""

    outputs: list[ProducedOutput]
    error: Exception | None
    reusable: bool


async def run_job(
    child: Child, ctx: TaskContext, log: LogSink, limits: dict[str, float | None] | None = None
) -> Outcome:
    """Run the task of ``ctx`` in ``child``. Cancelled (the executor gave up), the caller
    discards the child."""
    process = child.process
    assert process.stdin is not None
    child.served += 1
    child.route.start(log, end_marker(child.served))
    canceller = _CancelForwarder(ctx, process.stdin)
    try:
        process.stdin.write(json.dumps(_job(ctx, child.served, limits or {})).encode() + b"\n")
        await process.stdin.drain()
        final = await _read_channel(child.channel, ctx)
    except ConnectionError:
        final = None  # the child died before it read the job
    finally:
        canceller.stop()
    if final is None:
        returncode = await process.wait()
    for event in child.route.ended.values():  # the task's last lines are handed over
        await event.wait()
    if final is None:
        if ctx.cancelled:
            return Outcome([], TaskCancelledError(), False)
        error = TaskFailedError(_crash_message(returncode, child.route.tail), "runtime_crashed")
        return Outcome([], error, False)
    reusable = bool(final.get("reuse", True)) and not ctx.cancelled
    if final["kind"] == "cancelled":
        return Outcome([], TaskCancelledError(), False)
    if final["kind"] == "failed":
        code = str(final.get("code") or "task_failed")
        return Outcome([], TaskFailedError(str(final.get("message")), code), reusable)
    ctx.values.update(final.get("values") or {})
    outputs = [
        ProducedOutput(o["output_id"], Path(o["path"]), o["content_type"], o.get("file_name"))
        for o in final.get("outputs") or []
    ]
    return Outcome(outputs, None, reusable)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
