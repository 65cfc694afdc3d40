"""Issue 18 with real processes: a webhook event survives the server being killed (SIGKILL)
after the task ended and before the first delivery attempt (the outbox row was committed with
the terminal state, and the restarted server delivers it, signed, with the event's webhook-id);
and a task completed by a real agent is delivered as soon as its status is seen."""

from __future__ import annotations

import json
import signal
import time

import httpx

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until
from tests.support.receiver import receiver
from tests.support.webhook_docs import verify_both

FIRST_DELAY = 3.0
WEBHOOK_ENV = {
    "RUNYARD_WEBHOOK_ALLOW_PRIVATE": "true",
    "RUNYARD_WEBHOOK_ALLOW_HTTP": "true",
    # The first attempt waits FIRST_DELAY s after the event: the kill lands before it.
    "RUNYARD_WEBHOOK_RETRY_SCHEDULE": f"[{FIRST_DELAY}, 1, 1, 1]",
    "RUNYARD_WEBHOOK_RETRY_JITTER": "0",
    "RUNYARD_WEBHOOK_POLL_INTERVAL": "0.3",
}


def test_the_server_killed_before_the_first_attempt_still_delivers_after_restart(
    stack: Stack,
) -> None:
    assert stack.server is not None
    stack.server.stop()
    stack.start_server(**WEBHOOK_ENV)
    admin = stack.session_headers()
    with receiver() as rx:
        created = httpx.post(
            f"{stack.url}/api/v1/webhooks",
            headers=admin,
            json={"webhook_url": rx.url, "webhook_events": ["task.cancelled"]},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        task_id = stack.run("sleep", {"seconds": 0})  # no agent: it stays pending
        r = httpx.post(f"{stack.base}/tasks/{task_id}/cancel", headers=stack.headers(), timeout=10)
        assert r.status_code == 200 and r.json()["task_status"] == "cancelled", r.text
        ended = time.monotonic()
        killed = stack.server
        assert killed is not None
        killed.signal(signal.SIGKILL)
        killed.wait(10)
        killed_after = time.monotonic() - ended
        assert killed_after < FIRST_DELAY, f"the kill came {killed_after:.1f} s after the cancel"
        killed.stop()
        time.sleep(max(0.0, FIRST_DELAY + 0.5 - (time.monotonic() - ended)))
        assert rx.received == []  # nothing was sent before the crash

        stack.start_server(**WEBHOOK_ENV)
        (got,) = rx.wait_for(1, timeout=15)
        delivered_after_restart = got.at - ended
    event = json.loads(got.body)
    assert event["event_type"] == "task.cancelled" and event["task_id"] == task_id
    assert verify_both(hook["webhook_secret"], got.headers, got.body)
    log = wait_until(
        lambda: (
            (
                d := httpx.get(
                    f"{stack.url}/api/v1/webhooks/{hook['id']}/deliveries",
                    headers=admin,
                    timeout=10,
                ).json()["deliveries"]
            )
            and d[0]["delivery_status"] == "succeeded"
            and d
        ),
        10,
    )
    assert isinstance(log, list) and len(log) == 1
    assert log[0]["event_id"] == got.headers["webhook-id"] and log[0]["attempt_count"] == 1
    print(f"{stack.leg}: delivered {delivered_after_restart:.1f} s after the cancel (killed)")


def test_a_task_completed_by_a_real_agent_is_delivered_within_a_second(stack: Stack) -> None:
    assert stack.server is not None
    stack.server.stop()
    stack.start_server(**{**WEBHOOK_ENV, "RUNYARD_WEBHOOK_RETRY_SCHEDULE": "[0, 1, 1]"})
    stack.start_agent("wh-agent")
    stack.wait_agent("wh-agent")
    with receiver() as rx:
        created = httpx.post(
            f"{stack.url}/api/v1/webhooks",
            headers=stack.session_headers(),
            json={"webhook_url": rx.url, "webhook_events": ["task.completed", "task.failed"]},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        task_id = stack.run("sleep", {"seconds": 0})
        task = stack.wait_task(task_id)
        seen_done = time.monotonic()
        (got,) = rx.wait_for(1, timeout=10)
    assert task["task_status"] == "completed"
    event = json.loads(got.body)
    assert event["event_type"] == "task.completed" and event["task_id"] == task_id
    assert event["task_output"] == task.get("task_output", event["task_output"])
    assert verify_both(created.json()["webhook_secret"], got.headers, got.body)
    # Polled by the test every 0.1 s: the event arrives about when the status is seen.
    assert got.at - seen_done < 1.0
