"""One agent connection flooding frames for tasks it does not hold must not stall the API of
another team (issue 32, item 1): a real ``runyard serve`` process, a real WebSocket client with
the team's ``ak-`` key, 20,000 ``task.input_url.v1`` frames naming random tasks, and another
team listing its tasks meanwhile. The bound asserted is behavioural (the issue's): the other
team's p99 stays under 100 ms (it peaked at 7.4 s before the gateway bounded the work)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from runyard_protocol import CloseReason
from tests.acceptance.conftest import Stack
from tests.support.processes import python_cmd

FRAMES = 20_000
T = TypeVar("T")


def _latencies(stack: Stack, stop: threading.Event, out: list[float]) -> None:
    """Another team lists its tasks, one request after the other, until told to stop."""
    assert stack.other_team is not None
    headers = {"Authorization": f"Bearer {stack.other_team.integration_key}"}
    with httpx.Client(base_url=stack.base, headers=headers, timeout=30) as client:
        client.get("/tasks").raise_for_status()  # warm: connection, caches
        while not stop.is_set() or len(out) < 200:
            started = time.perf_counter()
            r = client.get("/tasks")
            out.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            time.sleep(0.005)


def _flood(stack: Stack) -> tuple[int, int | None]:
    """Flood from another process: (answers, close code)."""
    out = subprocess.run(
        python_cmd("-m", "tests.support.flood", stack.url, stack.team.agent_key, str(FRAMES)),
        capture_output=True,
        text=True,
        timeout=180,
        env=stack.env,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["answers"]), result["close_code"]


def _p99(stack: Stack, during: Callable[[], T]) -> tuple[float, T]:
    """The other team's p99 while ``during`` runs (at least 200 requests)."""
    latencies: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_latencies, args=(stack, stop, latencies), daemon=True)
    watcher.start()
    try:
        result = during()
    finally:
        stop.set()
        watcher.join(60)
    ordered = sorted(latencies)
    return ordered[int(len(ordered) * 0.99) - 1], result


def _flood_vs_quiet(stack: Stack) -> tuple[int, int | None]:
    """The flood's (answers, close code), once the other team's p99 during it was checked.

    The issue's bound is 100 ms on a quiet machine (baseline 5-8 ms; 7.4 s before the fix).
    Test machines are shared, so the same bound is applied to what the flood adds: the p99
    during the flood may exceed the p99 of a quiet moment just before by at most 100 ms."""
    quiet, _ = _p99(stack, lambda: time.sleep(1.0))
    loud, (answers, close_code) = _p99(stack, lambda: _flood(stack))
    print(f"p99 quiet {quiet * 1000:.1f} ms, during the flood {loud * 1000:.1f} ms")
    assert loud < quiet + 0.100, f"p99 {loud * 1000:.0f} ms, {quiet * 1000:.0f} ms when quiet"
    # The server still serves that team's agents afterwards.
    assert httpx.get(f"{stack.base}/agents", headers=stack.headers(), timeout=10).status_code == 200
    return answers, close_code


def test_a_flood_of_stray_frames_is_cut_off_with_a_typed_reason(stack: Stack) -> None:
    answers, close_code = _flood_vs_quiet(stack)
    assert close_code == CloseReason.TOO_MANY_FRAMES.code, (answers, close_code)
    assert 0 < answers < FRAMES


def test_stray_frames_are_answered_while_under_the_limit(stack: Stack) -> None:
    """With the stray limit out of the way every frame is still answered (``stale_attempt``,
    without a database unit), as the protocol says, and the server keeps serving."""
    assert stack.server is not None
    stack.server.stop()
    stack.start_server(RUNYARD_GATEWAY_STRAY_FRAMES="1000000/minute")
    answers, close_code = _flood(stack)
    assert answers == FRAMES, (answers, close_code)
    assert httpx.get(f"{stack.base}/agents", headers=stack.headers(), timeout=10).status_code == 200
