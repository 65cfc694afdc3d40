"""Policies without I/O: reconnect backoff, option validation, progress throttling."""

from __future__ import annotations

import asyncio
import random

import pytest

from runyard_agent import AgentOptions, Backoff
from runyard_agent.executor import ProgressSender, TaskLog
from runyard_agent.runtimes.base import ProgressReport
from runyard_protocol import TaskProgress


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff = Backoff(initial=0.5, cap=30.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    for attempt, delay in enumerate(delays):
        base = min(30.0, 0.5 * 2**attempt)
        assert base / 2 <= delay <= base
    assert max(delays) <= 30.0
    assert delays[-1] >= 15.0  # capped, not stuck small
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered


def test_backoff_jitter_spreads_agents_apart():
    firsts = {round(Backoff(rng=random.Random(seed)).next_delay(), 4) for seed in range(20)}
    assert len(firsts) > 10


def test_backoff_reset_starts_over():
    backoff = Backoff(initial=1.0, cap=30.0, rng=random.Random(1))
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_backoff_survives_thousands_of_failures():
    backoff = Backoff(initial=0.5, cap=30.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert 15.0 <= delay <= 30.0


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/api/v1/agent/ws"),
        ("https://runyard.example.com/", "wss://runyard.example.com/api/v1/agent/ws"),
        ("http://host/prefix", "ws://host/prefix/api/v1/agent/ws"),
    ],
)
def test_the_server_root_url_becomes_the_websocket_url(server, expected):
    assert AgentOptions(agent_key="ak-x", agent_id="a", server_url=server).ws_url() == expected


@pytest.mark.parametrize(
    "overrides",
    [{"server_url": "ftp://host"}, {"capacity": 0}, {"capacity": 5000}, {"agent_id": ""}],
)
def test_bad_options_are_refused(overrides):
    with pytest.raises(ValueError):
        AgentOptions(**{"agent_key": "ak-x", "agent_id": "a", **overrides})


def test_the_key_is_not_in_the_options_repr():
    assert "ak-secret" not in repr(AgentOptions(agent_key="ak-secret", agent_id="a"))


class RecordingLink:
    def __init__(self) -> None:
        self.frames: list[TaskProgress] = []
        self.times: list[float] = []

    async def send(self, frame):
        self.frames.append(frame)
        self.times.append(asyncio.get_running_loop().time())

    async def request(self, frame, reply_type):  # pragma: no cover - not used here
        raise AssertionError


async def test_progress_is_throttled_and_the_last_report_always_goes_out():
    link = RecordingLink()
    loop = asyncio.get_running_loop()
    started = loop.time()
    sender = ProgressSender(link, "t-1", 2, interval=0.1)
    for step in range(1, 201):
        sender.report(ProgressReport(step / 200, message=f"step {step}"))
        await asyncio.sleep(0.0025)  # reports at up to 400/s
    await sender.close()
    elapsed = loop.time() - started

    assert 2 <= len(link.frames) <= elapsed / 0.1 + 2  # ~1 per interval, plus the last
    assert len(link.frames) < 100
    gaps = [b - a for a, b in zip(link.times, link.times[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps[:-1])
    assert link.frames[0].progress == pytest.approx(1 / 200)  # the first goes out at once
    last = link.frames[-1]
    assert (last.task_id, last.attempt, last.progress, last.message) == ("t-1", 2, 1.0, "step 200")


async def test_progress_from_worker_threads_arrives_in_order():
    link = RecordingLink()
    sender = ProgressSender(link, "t-1", 1, interval=0.02)

    def work() -> None:
        import time

        for step in range(1, 51):
            sender.report(ProgressReport(step / 50))
            time.sleep(0.002)

    await asyncio.to_thread(work)
    await sender.close()
    fractions = [frame.progress for frame in link.frames]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(fractions) < 50


async def test_progress_values_are_clamped_into_range():
    link = RecordingLink()
    sender = ProgressSender(link, "t-1", 1, interval=0.0)
    sender.report(ProgressReport(1.7))
    await sender.close()
    assert [frame.progress for frame in link.frames] == [1.0]


def test_log_lines_name_the_agent_task_and_attempt(caplog):
    import logging

    log = TaskLog(
        logging.getLogger("runyard_agent.test"), {"agent_id": "box", "task_id": "t9", "attempt": 3}
    )
    with caplog.at_level(logging.INFO):
        log.info("hello %s", "world")
    assert caplog.messages == ["[agent=box task=t9 attempt=3] hello world"]


def test_the_package_exports_exactly_its_public_api():
    import runyard_agent

    assert sorted(runyard_agent.__all__) == [
        "Agent",
        "AgentOptions",
        "AgentRejectedError",
        "Backoff",
        "ConnectionState",
        "File",
        "Param",
        "ProducedOutput",
        "TaskCancelledError",
        "TaskContext",
        "TaskFailedError",
        "WorkflowSignatureError",
        "agent_version",
        "workflow",
    ]
    for name in runyard_agent.__all__:
        assert getattr(runyard_agent, name) is not None
