"""``Task.wait`` / ``AsyncTask.wait``: SSE parsing, ``Last-Event-ID`` reconnects without
duplicates, the polling fallback, timeouts and failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runyard_client import AuthenticationError, NotFoundError, TaskEvent, TaskFailed, WaitTimeout
from runyard_client._sse import SSEDecoder
from tests.unit.client.client_mocks import (
    ChunkStream,
    error,
    make_async_client,
    make_client,
    sse,
    task_json,
)

SSE_HEADERS = {"content-type": "text/event-stream"}


def stream(chunks: list[bytes], fail: bool = False) -> httpx.Response:
    return httpx.Response(200, headers=SSE_HEADERS, stream=ChunkStream(chunks, fail))


def status(seq: int, value: str) -> tuple[int, str, dict[str, Any]]:
    return (
        seq,
        value if value in ("completed", "failed", "cancelled") else "status",
        {"task_id": "t-1", "task_status": value, "timestamp": "2025-01-01T00:00:00Z"},
    )


def progress(seq: int, value: float) -> tuple[int, str, dict[str, Any]]:
    return (
        seq,
        "progress",
        {
            "task_id": "t-1",
            "progress": value,
            "message": f"{value:.0%}",
            "step_current": 1,
            "step_total": 2,
            "current_node": "3",
        },
    )


class EventServer:
    """Each connection gets the next script; records the Last-Event-ID it was sent."""

    def __init__(self, *connections: httpx.Response, final: str = "completed") -> None:
        self.connections = list(connections)
        self.last_ids: list[str | None] = []
        self.final = final

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            assert request.headers["Accept"] == "text/event-stream"
            self.last_ids.append(request.headers.get("Last-Event-ID"))
            return self.connections.pop(0)
        return httpx.Response(200, json=task_json(status=self.final, progress=1.0))


def test_decoder_follows_the_event_stream_rules() -> None:
    d = SSEDecoder()
    lines = [
        "retry: 2000",
        "",
        ": comment",
        "id: 4",
        "event: progress",
        'data: {"a":',
        "data: 1}",
        "",
        "data:no-space",
        "",
    ]
    events = [e for e in (d.feed(line) for line in lines) if e is not None]
    assert events[0].retry == 2000
    assert (events[1].id, events[1].event, events[1].data) == ("4", "progress", '{"a":\n1}')
    assert (events[2].event, events[2].data) == ("message", "no-space")


def test_wait_follows_sse_to_the_terminal_event() -> None:
    server = EventServer(
        stream(
            sse(status(1, "queued"), status(2, "running"), progress(3, 0.5), status(4, "completed"))
        )
    )
    got: list[TaskEvent] = []
    with make_client(server) as client:
        info = client.task("t-1").wait(on_progress=got.append)
    assert info.task_status == "completed"
    assert [(e.id, e.event) for e in got] == [
        (1, "status"),
        (2, "status"),
        (3, "progress"),
        (4, "completed"),
    ]
    assert got[2].progress == 0.5 and got[2].message == "50%"
    assert server.last_ids == [None]


def test_waiting_reasons_reach_the_callback_and_leave_the_last_event_id_alone() -> None:
    data = '{"task_id":"t-1","code":"agents_busy","message":"2 of 2 slots busy"}'
    reason = f"event: waiting_reason\ndata: {data}\n\n".encode()
    server = EventServer(
        stream([*sse(status(1, "waiting")), reason], fail=True),
        stream(sse(status(2, "running"), status(3, "completed"))),
    )
    got: list[TaskEvent] = []
    with make_client(server) as client:
        client.task("t-1").wait(on_progress=got.append)
    assert [(e.id, e.event) for e in got] == [
        (1, "status"),
        (None, "waiting_reason"),
        (2, "status"),
        (3, "completed"),
    ]
    assert got[1].message == "2 of 2 slots busy" and got[1].task_status is None
    assert server.last_ids == [None, "1"]  # resumed after the last stored event


def test_reconnects_with_last_event_id_and_skips_replayed_events() -> None:
    server = EventServer(
        stream(sse(status(1, "running"), progress(2, 0.25)), fail=True),
        stream(sse(progress(2, 0.25), progress(3, 0.75))),  # ends without a terminal event
        stream(sse(progress(3, 0.75), status(4, "completed"))),
    )
    got: list[TaskEvent] = []
    with make_client(server) as client:
        client.task("t-1").wait(on_progress=got.append)
    assert [e.id for e in got] == [1, 2, 3, 4]
    assert server.last_ids == [None, "2", "3"]


def test_falls_back_to_polling_when_the_server_has_no_events_route() -> None:
    records = iter(
        [
            task_json(status="queued"),
            task_json(status="running", progress=0.5),
            task_json(status="running", progress=0.5),
            task_json(status="completed", progress=1.0),
        ]
    )
    gets: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return error(404, "not_found", "No such endpoint.")
        gets.append(request.url.path)
        return httpx.Response(200, json=next(records))

    got: list[TaskEvent] = []
    sleeps: list[float] = []
    with make_client(handler) as client:
        client._executor.sleep = sleeps.append  # type: ignore[method-assign,assignment]
        info = client.task("t-1").wait(on_progress=got.append)
    assert info.task_status == "completed" and len(gets) == 4
    assert [(e.event, e.task_status or e.progress) for e in got] == [
        ("status", "queued"),
        ("status", "running"),
        ("progress", 0.5),
        ("progress", 1.0),
        ("completed", "completed"),
    ]
    assert sleeps[0] == sleeps[1] < sleeps[2]  # backs off while nothing changes


def test_an_unknown_task_is_not_a_missing_route() -> None:
    with (
        make_client(lambda r: error(404, "task_not_found")) as client,
        pytest.raises(NotFoundError),
    ):
        client.task("nope").wait()


def test_raise_on_failure() -> None:
    failed = (
        5,
        "failed",
        {
            "task_id": "t-1",
            "task_status": "failed",
            "task_error": "boom",
            "task_error_code": "agent_lost",
        },
    )
    server = EventServer(stream(sse(failed)), final="failed")
    with make_client(server) as client:
        assert client.task("t-1").wait().task_status == "failed"
        server.connections.append(stream(sse(failed)))
        with pytest.raises(TaskFailed):
            client.task("t-1").wait(raise_on_failure=True)


def test_a_revoked_credential_ends_the_wait() -> None:
    body = [b'event: error\ndata: {"error_code":"credential_revoked"}\n\n']
    with (
        make_client(EventServer(stream(body))) as client,
        pytest.raises(AuthenticationError, match="credential_revoked"),
    ):
        client.task("t-1").wait()


def test_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return error(404, "not_found")
        return httpx.Response(200, json=task_json(status="running"))

    with make_client(handler) as client, pytest.raises(WaitTimeout):
        client._executor.sleep = lambda s: None  # type: ignore[method-assign,assignment]
        client.task("t-1").wait(timeout=0.01)


async def test_async_wait_reconnects_without_duplicates() -> None:
    server = EventServer(
        stream(sse(status(1, "running"), progress(2, 0.5)), fail=True),
        stream(sse(progress(2, 0.5), status(3, "completed"))),
    )
    got: list[TaskEvent] = []
    async with make_async_client(server) as client:
        info = await client.task("t-1").wait(on_progress=got.append)
    assert info.task_status == "completed" and [e.id for e in got] == [1, 2, 3]
    assert server.last_ids == [None, "2"]


async def test_async_wait_polls_without_events_route() -> None:
    records = iter([task_json(status="running"), task_json(status="cancelled")])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return error(404, "not_found")
        return httpx.Response(200, json=next(records))

    async with make_async_client(handler) as client:
        with pytest.raises(TaskFailed):
            await client.task("t-1").wait(raise_on_failure=True)
