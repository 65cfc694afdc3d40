"""Live progress over Server-Sent Events, against real processes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until


def read_events(
    stack: Stack, task_id: str, last_id: int | None = None, limit: int | None = None
) -> list[tuple[int, str, dict[str, Any]]]:
    headers = stack.headers()
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    events: list[tuple[int, str, dict[str, Any]]] = []
    current: dict[str, str] = {}
    with httpx.stream(
        "GET",
        f"{stack.base}/tasks/{task_id}/events",
        headers=headers,
        timeout=httpx.Timeout(30, read=30),
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line == "":
                # events with an id are the stored log; id-less ones (waiting_reason) are not
                if "event" in current and "id" in current:
                    events.append(
                        (int(current["id"]), current["event"], json.loads(current["data"]))
                    )
                    if limit is not None and len(events) >= limit:
                        return events
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = value
    return events


def test_follow_a_task_from_pending_to_completed_and_resume(stack: Stack) -> None:
    task_id = stack.run("sleep", {"seconds": 1})
    wait_until(lambda: stack.task(task_id)["task_status"] == "waiting", 10)
    first = read_events(stack, task_id, limit=2)  # disconnect midway
    stack.start_agent("sse-agent")
    rest = read_events(stack, task_id, last_id=first[-1][0])
    seen = first + rest
    ids = [e[0] for e in seen]
    assert ids == list(range(1, len(ids) + 1))  # nothing missing, nothing repeated
    statuses = [e[2]["task_status"] for e in seen if e[1] == "status"]
    assert statuses == ["pending", "waiting", "queued", "running"]
    assert seen[-1][1] == "completed"
    assert seen[-1][2]["task_output"]["outputs"][0]["output_id"]
    assert any(e[1] == "progress" and 0 <= e[2]["progress"] <= 1 for e in seen)
    for _, _, data in seen:
        assert data["task_id"] == task_id and data["timestamp"].endswith("Z")
    replay = read_events(stack, task_id)  # a finished task replays its history and ends
    assert replay == seen


def test_failed_stream_ends_with_the_error_code(stack: Stack) -> None:
    stack.start_agent("sse-fail")
    key = stack.upload(b"this is not an image", "photo.png", "image/png")
    task_id = stack.run("img2img", {"input_image": key})
    events = read_events(stack, task_id)
    assert events[-1][1] == "failed"
    assert events[-1][2]["task_error_code"] == "invalid_input"
    assert events[-1][2]["task_error"]


def test_revoking_the_key_closes_the_stream(stack: Stack) -> None:
    import time

    admin = stack.session_headers()
    created = httpx.post(
        f"{stack.url}/api/v1/credentials",
        headers=admin,
        json={"kind": "integration", "display_name": "streamer"},
    ).json()
    task_id = stack.run("sleep", {"seconds": 1})  # no agent: the task waits, the stream stays
    headers = {"Authorization": f"Bearer {created['raw_key']}"}
    with httpx.stream(
        "GET",
        f"{stack.base}/tasks/{task_id}/events",
        headers=headers,
        timeout=httpx.Timeout(30, read=30),
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        revoked = httpx.delete(f"{stack.url}/api/v1/credentials/{created['id']}", headers=admin)
        assert revoked.status_code == 204
        started = time.monotonic()
        rest = list(lines)  # ends when the server closes the stream
        assert time.monotonic() - started < 10
    assert any("credential_revoked" in line for line in rest)


@pytest.mark.parametrize("stack", ["e2e-postgres-s3"], indirect=True)
def test_two_server_processes_share_the_work_and_the_events(stack: Stack) -> None:
    """Scale-out shape (PostgreSQL + S3): the agent dials server 1; the client submits and
    follows the events on server 2."""
    from tests.support.processes import Proc, python_cmd, wait_http
    from tests.support.s3 import free_port

    port = free_port()
    second = f"http://127.0.0.1:{port}"
    proc = Proc(
        "server-2",
        python_cmd("-m", "runyard", "serve", "--port", str(port)),
        {**stack.env, "RUNYARD_PUBLIC_URL": second},
        stack.logs,
    )
    stack.procs.append(proc)
    wait_http(f"{second}/healthz", proc=proc)
    stack.start_agent("on-server-1")
    stack.wait_agent("on-server-1")
    r = httpx.post(
        f"{second}/api/v1/r/workflows/slug/sleep/run",
        headers=stack.headers(),
        json={"parameters": {"seconds": 0.5}},
    )
    assert r.status_code == 202
    task_id = r.json()["task_id"]
    other = Stack(leg=stack.leg, url=second, env=stack.env, team=stack.team, logs=stack.logs)
    events = read_events(other, task_id)
    assert events[-1][1] == "completed"
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    assert stack.task(task_id)["agent_id"] == "on-server-1"


def test_sigterm_ends_open_streams_with_a_reconnect_frame(stack: Stack) -> None:
    """Issue 15, defect 4: on SIGTERM an open stream ends with a clean final frame (an event
    telling the client to reconnect, with a ``retry:`` hint) and a terminated chunked body,
    instead of being cut when uvicorn's grace runs out."""
    import signal

    stack.start_agent("long-runner")
    stack.wait_agent("long-runner")
    task_id = stack.run("sleep", {"seconds": 60})
    assert stack.server is not None
    before: list[str] = []
    after: list[str] = []
    with httpx.stream(
        "GET",
        f"{stack.base}/tasks/{task_id}/events",
        headers=stack.headers(),
        timeout=httpx.Timeout(30, read=30),
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        for line in lines:
            before.append(line)
            if '"task_status":"running"' in line:
                break  # the task runs and reports progress: the stream is busy
        stack.server.signal(signal.SIGTERM)
        try:
            for line in lines:
                after.append(line)
        except httpx.HTTPError as exc:
            pytest.fail(
                f"the event stream of task {task_id} was cut on SIGTERM ({type(exc).__name__}: "
                f"{exc}) after {len(after)} more line(s); last lines: {after[-4:]}"
            )
    frames = "\n".join(after).split("\n\n")
    final = [f for f in frames if f.strip()][-1] if any(f.strip() for f in frames) else ""
    assert "event: reconnect" in final and "retry: " in final, (
        f"the stream of task {task_id} ended without a reconnect frame; last frame: {final!r}"
    )
    stack.server.wait(30)
    log = stack.server.log()
    assert "timeout graceful shutdown exceeded" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
