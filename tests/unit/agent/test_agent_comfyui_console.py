"""ComfyUI's console split into prompts (``runtimes/comfyui/console.py``): each prompt that
started takes the segment it ran in, whichever of the console and the WebSocket came first."""

from __future__ import annotations

import asyncio
import time

from runyard_agent.runtimes.comfyui.console import ComfyUIConsole, PromptLog


class Sink:
    def __init__(self, room: int = 1000) -> None:
        self.got: list[str] = []
        self.dropped_count = 0
        self._room = room

    def room(self) -> int:
        return self._room

    def lines(self, stream: str, lines: list[str]) -> None:
        self.got.extend(lines)

    def dropped(self, count: int) -> None:
        self.dropped_count += count


def feed(console: ComfyUIConsole, *lines: str, at: float | None = None) -> None:
    for line in lines:
        console.feed("stderr", line, at)


END = "Prompt executed in 0.10 seconds"


async def test_a_prompt_gets_the_lines_between_its_start_and_its_end() -> None:
    console = ComfyUIConsole()
    a = Sink()
    feed(console, "got prompt")
    claim = console.claim(a)
    feed(console, "Requested to load SD1ClipModel", " 50%|█████     | 1/2", END, "after")
    assert claim.ended.is_set()
    assert a.got == ["got prompt", "Requested to load SD1ClipModel", " 50%|█████     | 1/2", END]


async def test_queued_prompts_each_get_their_own_segment() -> None:
    console = ComfyUIConsole()
    a, b = Sink(), Sink()
    feed(console, "got prompt")
    console.claim(a)
    feed(console, "a working", "got prompt")  # b posted while a runs
    feed(console, END, "b working")  # b runs before its execution_start is read
    console.claim(b)
    feed(console, "b more", END)
    assert a.got == ["got prompt", "a working", END]
    assert b.got == ["got prompt", "b working", "b more", END]


async def test_a_console_ahead_of_the_websocket_still_reaches_its_prompt() -> None:
    console = ComfyUIConsole()
    b = Sink()
    now = time.time()
    feed(console, "got prompt", "fast prompt", END, at=now)
    console.claim(b, started_at=now - 0.5)
    assert b.got == ["got prompt", "fast prompt", END]


async def test_a_segment_that_ended_before_the_prompt_started_is_not_its() -> None:
    console = ComfyUIConsole()
    warm = Sink()
    now = time.time()
    feed(console, "got prompt", "warm-up", END, at=now - 1)  # the supervisor's warm-up prompt
    claim = console.claim(warm, started_at=now - 0.5)
    feed(console, "mine", END, at=now)
    assert claim.ended.is_set()
    assert warm.got == ["got prompt", "mine", END]


async def test_a_released_prompt_takes_no_more_lines_and_a_restart_forgets_all() -> None:
    console = ComfyUIConsole()
    a, b = Sink(), Sink()
    claim = console.claim(a)
    feed(console, "one")
    console.release(claim)
    feed(console, "two")
    assert a.got == ["one"]
    console.reset()
    console.claim(b)
    assert b.got == []  # "two" was printed before the restart


async def test_a_full_sink_counts_what_it_cannot_take() -> None:
    console = ComfyUIConsole()
    a = Sink(room=0)
    console.claim(a)
    feed(console, "x", "y", END)
    assert a.got == [] and a.dropped_count == 3


async def test_prompt_log_waits_for_the_end_line_within_its_limit() -> None:
    console = ComfyUIConsole()
    a = Sink()
    prompt = PromptLog(console, a)
    prompt.started(1_000)
    asyncio.get_running_loop().call_later(0.05, feed, console, "late", END)
    await prompt.finish(5.0)
    assert a.got == ["late", END]
    never = PromptLog(console, Sink())
    never.started(None)
    await never.finish(0.05)  # no end line: it gives up
    silent = PromptLog(None, Sink())  # ComfyUI not supervised: nothing to read
    silent.started(None)
    await silent.finish(1.0)


async def test_an_old_unclaimed_segment_is_dropped() -> None:
    console = ComfyUIConsole(keep_seconds=5.0)
    a = Sink()
    feed(console, "someone else's prompt", END, at=time.time() - 10)
    claim = console.claim(a)  # no start time known: only the age counts
    assert not claim.ended.is_set() and a.got == []
