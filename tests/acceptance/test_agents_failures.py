"""Agents part 2: nothing accepted is lost, nothing runs twice at once, every end says why."""

from __future__ import annotations

import signal
import time

import httpx

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until


def running_on(stack: Stack, task_id: str, agent_id: str) -> None:
    wait_until(
        lambda: (
            (t := stack.task(task_id))["task_status"] == "running" and t["agent_id"] == agent_id
        ),
        20,
    )


def test_killed_agent_task_finishes_elsewhere(stack: Stack) -> None:
    a1 = stack.start_agent("a1")
    stack.wait_agent("a1")
    task_id = stack.run("sleep", {"seconds": 3})
    running_on(stack, task_id, "a1")
    stack.start_agent("a2")
    a1.signal(signal.SIGKILL)
    done = stack.wait_task(task_id, timeout=40)
    assert done["task_status"] == "completed" and done["agent_id"] == "a2"
    assert done["retry_count"] == 1


def test_paused_agent_cannot_complete_a_task_that_moved_on(stack: Stack) -> None:
    a1 = stack.start_agent("a1")
    stack.wait_agent("a1")
    task_id = stack.run("sleep", {"seconds": 2.5})
    running_on(stack, task_id, "a1")
    a1.signal(signal.SIGSTOP)
    stack.start_agent("a2")
    moved = wait_until(lambda: (t := stack.task(task_id))["agent_id"] == "a2" and t, 30)
    assert moved["retry_count"] == 1  # type: ignore[index]
    a1.signal(signal.SIGCONT)  # a1 wakes up and tries to finish attempt 1
    done = stack.wait_task(task_id, timeout=40)
    assert done["task_status"] == "completed" and done["agent_id"] == "a2"
    result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers()).json()
    assert f"/{task_id}/2/" in result["download_url"]  # attempt 2's output, never attempt 1's
    time.sleep(2)
    assert stack.task(task_id)["agent_id"] == "a2"


def test_retries_exhausted_fail_with_agent_lost(stack: Stack) -> None:
    a1 = stack.start_agent("doomed")
    stack.wait_agent("doomed")
    task_id = stack.run("sleep-once", {"seconds": 5})
    running_on(stack, task_id, "doomed")
    a1.signal(signal.SIGKILL)
    done = stack.wait_task(task_id, timeout=30)
    assert done["task_status"] == "failed" and done["task_error_code"] == "agent_lost"
    assert "doomed" in done["task_error"]


def test_timeout_fails_the_task_and_stops_the_work(stack: Stack) -> None:
    stack.start_agent("slow")
    stack.wait_agent("slow")
    task_id = stack.run("sleep-short", {"seconds": 30})
    done = stack.wait_task(task_id, timeout=30)
    assert done["task_status"] == "failed" and done["task_error_code"] == "timed_out"
    assert "timed out after 2 s" in done["task_error"]
    stack.wait_agent("slow", "idle", timeout=10)  # the agent dropped the work


def test_cancel_stops_running_work(stack: Stack) -> None:
    stack.start_agent("c1")
    stack.wait_agent("c1")
    task_id = stack.run("sleep", {"seconds": 30})
    running_on(stack, task_id, "c1")
    r = httpx.post(f"{stack.base}/tasks/{task_id}/cancel", headers=stack.headers())
    assert r.status_code == 200 and r.json()["is_success"] is True
    done = stack.wait_task(task_id, timeout=15)
    assert done["task_status"] == "cancelled"
    stack.wait_agent("c1", "idle", timeout=10)
    events = httpx.get(
        f"{stack.base}/tasks/{task_id}/events", headers=stack.headers(), timeout=10
    ).text
    assert "event: cancelled" in events


def test_reconnect_keeps_the_task(stack: Stack) -> None:
    stack.start_agent("steady")
    stack.wait_agent("steady")
    task_id = stack.run("sleep", {"seconds": 4})
    running_on(stack, task_id, "steady")
    assert stack.server is not None
    stack.server.stop()  # SIGTERM: sockets closed with a retryable code
    # A restart takes longer than this suite's shrunk 1.5 s silence window; give the agent's
    # reconnect backoff a realistic window, as the 15 s default does in production.
    stack.start_server(RUNYARD_SCHEDULER_HEARTBEAT_MISSES="20")
    done = stack.wait_task(task_id, timeout=40)
    assert done["task_status"] == "completed" and done["agent_id"] == "steady"
    assert done["retry_count"] == 0


def test_sigterm_drains_the_agent(stack: Stack) -> None:
    agent = stack.start_agent("drainer")
    stack.wait_agent("drainer")
    task_id = stack.run("sleep", {"seconds": 2})
    running_on(stack, task_id, "drainer")
    agent.signal(signal.SIGTERM)
    later = stack.run("sleep", {"seconds": 0.1})
    assert agent.wait(30) == 0
    done = stack.task(task_id)
    assert done["task_status"] == "completed" and done["retry_count"] == 0
    assert stack.task(later)["task_status"] in ("pending", "waiting")


def test_revoking_an_agent_key_closes_its_connection(stack: Stack) -> None:
    admin = stack.session_headers()
    created = httpx.post(
        f"{stack.url}/api/v1/credentials",
        headers=admin,
        json={"kind": "agent", "display_name": "to revoke"},
    ).json()
    agent = stack.start_agent("revoked", key=created["raw_key"])
    stack.wait_agent("revoked")
    r = httpx.delete(f"{stack.url}/api/v1/credentials/{created['id']}", headers=admin)
    assert r.status_code == 204
    assert agent.wait(10) != 0  # terminal close: the agent stops instead of retrying


def test_input_expired_before_an_agent_took_the_task(stack: Stack) -> None:
    assert stack.server is not None
    stack.server.stop()
    stack.start_server(RUNYARD_RETENTION_INPUTS="2")  # inputs kept 2 s instead of a day
    key = stack.upload(b"\x89PNG short-lived", "photo.png", "image/png")
    task_id = stack.run("img2img", {"input_image": key})  # accepted: the input is still there
    time.sleep(3)
    stack.start_agent("late")
    done = stack.wait_task(task_id, timeout=30)
    assert done["task_status"] == "failed" and done["task_error_code"] == "input_expired"
    assert "input_image" in done["task_error"]


def test_agent_key_rotation_keeps_the_agent_id(stack: Stack) -> None:
    admin = stack.session_headers()
    old = httpx.post(
        f"{stack.url}/api/v1/credentials",
        headers=admin,
        json={"kind": "agent", "display_name": "old"},
    ).json()
    new = httpx.post(
        f"{stack.url}/api/v1/credentials",
        headers=admin,
        json={"kind": "agent", "display_name": "new"},
    ).json()
    first = stack.start_agent("box-7", key=old["raw_key"])
    stack.wait_agent("box-7")
    first.stop()
    thief = stack.start_agent("box-7", key=new["raw_key"])
    assert thief.wait(20) == 3  # the id is bound to a key that is still valid
    assert (
        httpx.delete(f"{stack.url}/api/v1/credentials/{old['id']}", headers=admin).status_code
        == 204
    )
    stack.start_agent("box-7", key=new["raw_key"])
    stack.wait_agent("box-7")
