"""A supervised ComfyUI's console, split into the prompts it ran: each task's log gets the lines
ComfyUI printed while running its prompt.

ComfyUI runs one prompt at a time and prints, as it does (``server.py``, ``main.py``)::

    got prompt                       <- when a prompt is posted (it may wait in the queue)
    ...                              <- what the prompt's nodes print (loading, tqdm, errors)
    Prompt executed in 1.23 seconds  <- when it ends, whatever the outcome

So the console is a sequence of segments, each ended by a ``Prompt executed in`` line, and
prompts run in the order their ``execution_start`` reaches their WebSocket. A prompt that starts
(``claim``) takes the segment being printed: the lines printed since the last end, then the ones
that follow, up to its end line; a ``got prompt`` line goes to the next prompt that starts. The
console pipe can run ahead of the WebSocket: a segment that ended before any prompt claimed it
is kept for a few seconds, and goes to the next prompt that started before it ended (the warm-up
prompt, or one posted by someone else, is never claimed and is dropped). Lines reach a task's
log through its ``LogSink`` (bounded and counted like a deployed task's console).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from runyard_agent.runtimes.base import LogSink

__all__ = ["ComfyUIConsole", "PromptLog", "pump_console"]

log = logging.getLogger("runyard_agent.comfyui.console")

GOT_PROMPT = "got prompt"
PROMPT_EXECUTED = "Prompt executed in"
_KEEP_SECONDS = 5.0
_MAX_PENDING = 2000
_CHUNK = 64 * 1024
_MAX_LINE = 8 * 1024

Line = tuple[str, str]  # (stream, text)


def _give(sink: LogSink | None, lines: list[Line]) -> None:
    if sink is None or not lines:
        return
    room = sink.room()
    for stream, text in lines[:room]:
        sink.lines(stream, [text])
    if len(lines) > room:
        sink.dropped(len(lines) - room)


@dataclass(eq=False)
class _Claim:
    sink: LogSink | None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Segment:
    lines: list[Line]
    ended_at: float  # wall clock, when its end line was read


class ComfyUIConsole:
    def __init__(self, keep_seconds: float = _KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._claims: deque[_Claim] = deque()  # started prompts in order; the first owns now
        self._pending: list[Line] = []  # the segment being printed, while nobody owns it
        self._ended: deque[_Segment] = deque(maxlen=8)  # ended, not claimed (yet)
        self._got: deque[Line] = deque(maxlen=64)

    def feed(self, stream: str, text: str, now: float | None = None) -> None:
        if text.strip() == GOT_PROMPT:
            self._got.append((stream, text))
            return
        line = (stream, text)
        end = text.startswith(PROMPT_EXECUTED)
        if self._claims:
            owner = self._claims[0]
            _give(owner.sink, [line])
            if end:
                self._claims.popleft().ended.set()
            return
        if len(self._pending) < _MAX_PENDING:
            self._pending.append(line)
        if end:
            self._ended.append(_Segment(self._pending, time.time() if now is None else now))
            self._pending = []

    def claim(self, sink: LogSink | None, started_at: float | None = None) -> _Claim:
        """A prompt started (its ``execution_start``, ComfyUI's clock in seconds if known):
        from now on the segment it runs in goes to ``sink``."""
        claim = _Claim(sink)
        got = [self._got.popleft()] if self._got else []
        now = time.time()
        while self._ended and (
            now - self._ended[0].ended_at > self.keep_seconds
            or (started_at is not None and self._ended[0].ended_at < started_at)
        ):
            self._ended.popleft()  # ended before this prompt started: not its lines
        if not self._claims and self._ended:
            _give(sink, got + self._ended.popleft().lines)
            claim.ended.set()
            return claim
        if not self._claims:
            got, self._pending = got + self._pending, []
        _give(sink, got)
        self._claims.append(claim)
        return claim

    def release(self, claim: _Claim) -> None:
        with contextlib.suppress(ValueError):
            self._claims.remove(claim)

    def reset(self) -> None:
        """ComfyUI (re)started: nothing printed before belongs to a prompt still to come."""
        for claim in self._claims:
            claim.ended.set()
        self._claims.clear()
        self._pending = []
        self._ended.clear()
        self._got.clear()


class PromptLog:
    """One prompt's share of the console (nothing without a supervised ComfyUI or a sink)."""

    def __init__(self, console: ComfyUIConsole | None, sink: LogSink | None) -> None:
        self._console = console if sink is not None else None
        self._sink = sink
        self._claim: _Claim | None = None

    def started(self, timestamp_ms: object) -> None:
        if self._console is None or self._claim is not None:
            return
        at = timestamp_ms / 1000 if isinstance(timestamp_ms, int | float) else None
        self._claim = self._console.claim(self._sink, at)

    async def finish(self, wait: float) -> None:
        """Wait up to ``wait`` seconds for the prompt's end line, then let the console go."""
        claim, self._claim = self._claim, None
        if claim is None or self._console is None:
            return
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(claim.ended.wait(), wait)
        self._console.release(claim)


def _text(raw: bytes) -> str:
    # tqdm redraws its bar with \r: the line is what was drawn last
    parts = [part for part in raw[:_MAX_LINE].split(b"\r") if part.strip()]
    return (parts[-1] if parts else b"").decode("utf-8", "replace")


async def pump_console(
    stream: asyncio.StreamReader, name: str, feed: Callable[[str, str], None]
) -> None:
    """Read ComfyUI's ``stream`` to its end: each line to ``feed`` and to the agent's log."""
    pending = b""
    while chunk := await stream.read(_CHUNK):
        pending += chunk
        *raw_lines, pending = pending.split(b"\n")
        if len(pending) > _MAX_LINE:
            raw_lines.append(pending)
            pending = b""
        for raw in raw_lines:
            text = _text(raw)
            if text:
                log.info("%s", text)
                feed(name, text)
    if pending and (text := _text(pending)):
        feed(name, text)
