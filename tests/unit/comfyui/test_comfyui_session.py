"""Following a prompt's messages, with a scripted socket and client (no I/O)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pytest
from websockets.exceptions import ConnectionClosedError

from runyard_agent.runtimes.base import (
    ProgressReport,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.comfyui.client import ComfyUIClient
from runyard_agent.runtimes.comfyui.session import PromptSession

PID = "prompt-1"
GRAPH = {
    "1": {"class_type": "EmptyImage", "inputs": {}},
    "9": {"class_type": "SaveImage", "inputs": {}},
}
IMAGE = {"filename": "out_00001_.png", "subfolder": "", "type": "output"}


def msg(kind: str, **data: Any) -> str:
    return json.dumps({"type": kind, "data": {"prompt_id": PID, **data}})


class FakeSocket:
    def __init__(self, frames: Iterable[str | bytes | Exception]) -> None:
        self.frames = list(frames)
        self.closed = False

    async def recv(self) -> str | bytes:
        if not self.frames:
            await asyncio.sleep(3600)  # a quiet ComfyUI: the session's own timeout ends the wait
        frame = self.frames.pop(0)
        if isinstance(frame, Exception):
            raise frame
        return frame

    async def close(self) -> None:
        self.closed = True


class FakeClient:
    base_url = "http://comfy"

    def __init__(
        self,
        history: list[dict[str, Any] | None],
        queue: list[str | None] | None = None,
        sockets: list[FakeSocket] | None = None,
    ) -> None:
        self.history = history
        self.queue = queue or []
        self.sockets = sockets or []

    async def history_entry(self, prompt_id: str) -> dict[str, Any] | None:
        assert prompt_id == PID
        return self.history.pop(0) if len(self.history) > 1 else self.history[0]

    async def queue_position(self, prompt_id: str) -> str | None:
        return self.queue.pop(0) if self.queue else "running"

    async def connect(self, client_id: str) -> FakeSocket:
        assert client_id == "client-1"
        return self.sockets.pop(0)


def _session(
    client: FakeClient, socket: FakeSocket, tmp_path: Path
) -> tuple[PromptSession, list[ProgressReport]]:
    reports: list[ProgressReport] = []
    ctx = TaskContext(
        task_id="t",
        attempt=1,
        parameters={},
        input_files={},
        input_names={},
        input_types={},
        work_dir=tmp_path,
        output_dir=tmp_path,
        report=reports.append,
    )
    session = PromptSession(
        cast(ComfyUIClient, client),
        GRAPH,
        ctx,
        client_id="client-1",
        prompt_id=PID,
        reconnect_wait=0.2,
        poll_interval=0.01,
    )
    session._ws = socket  # type: ignore[assignment]
    return session, reports


def _done(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"outputs": outputs, "status": {"status_str": "success", "completed": True}}


async def test_only_our_prompts_messages_count(tmp_path: Path) -> None:
    socket = FakeSocket(
        [
            json.dumps({"type": "status", "data": {"status": {}, "sid": "client-1"}}),
            b"\x00\x00\x00\x01\x00\x00\x00\x02PNG",
            "not json",
            msg("crystools.monitor", cpu=3),
            json.dumps({"type": "executing", "data": {"node": "1", "prompt_id": "other"}}),
            json.dumps({"type": "executing", "data": {"node": "1"}}),  # a reconnect hint
            json.dumps({"type": "execution_success", "data": {"prompt_id": "other"}}),
            msg("execution_start"),
            msg("executing", node="1"),
            msg("executed", node="9", output={"images": [IMAGE]}),
            msg("execution_success"),
        ]
    )
    # The history entry shows up a moment after execution_success.
    client = FakeClient([None, None, _done({"9": {"images": [IMAGE]}})])
    session, reports = _session(client, socket, tmp_path)

    files = await session.outputs()

    assert [f.output_id for f in files] == ["9.images.0"]
    assert [(r.current_node, r.progress) for r in reports] == [("1", 0.0), (None, 1.0)]


async def test_the_final_executing_null_ends_a_run_without_execution_success(
    tmp_path: Path,
) -> None:
    socket = FakeSocket(
        [msg("executed", node="9", output={"images": [IMAGE]}), msg("executing", node=None)]
    )
    session, _ = _session(FakeClient([_done({})]), socket, tmp_path)
    assert [f.filename for f in await session.outputs()] == ["out_00001_.png"]


async def test_execution_error_fails_the_task(tmp_path: Path) -> None:
    error = msg(
        "execution_error",
        node_id="9",
        node_type="SaveImage",
        exception_type="OSError",
        exception_message="disk full",
    )
    session, _ = _session(FakeClient([None]), FakeSocket([error]), tmp_path)
    with pytest.raises(TaskFailedError) as caught:
        await session.outputs()
    assert caught.value.code == "comfyui_execution_error"
    assert str(caught.value) == "ComfyUI failed at node 9 (SaveImage): OSError: disk full"


async def test_execution_interrupted_cancels_the_task(tmp_path: Path) -> None:
    interrupted = msg("execution_interrupted", node_id="1", node_type="EmptyImage")
    session, _ = _session(FakeClient([None]), FakeSocket([interrupted]), tmp_path)
    with pytest.raises(TaskCancelledError):
        await session.outputs()


def _drop() -> ConnectionClosedError:
    return ConnectionClosedError(None, None)


async def test_a_dropped_socket_reconnects_while_the_prompt_is_queued(tmp_path: Path) -> None:
    second = FakeSocket([msg("executing", node="9"), msg("execution_success")])
    client = FakeClient(
        [None, None, None, _done({"9": {"images": [IMAGE]}})], ["running"], [second]
    )
    session, reports = _session(client, FakeSocket([msg("executing", node="1"), _drop()]), tmp_path)

    files = await session.outputs()

    assert [f.output_id for f in files] == ["9.images.0"]
    assert [r.current_node for r in reports] == ["1", "9", None]


async def test_a_prompt_that_finished_while_disconnected_is_read_from_history(
    tmp_path: Path,
) -> None:
    client = FakeClient([_done({"9": {"images": [IMAGE]}})])
    session, _ = _session(client, FakeSocket([_drop()]), tmp_path)
    assert [f.output_id for f in await session.outputs()] == ["9.images.0"]


async def test_a_failure_recorded_in_history_fails_the_task(tmp_path: Path) -> None:
    entry = {
        "outputs": {},
        "status": {
            "status_str": "error",
            "completed": False,
            "messages": [
                ["execution_start", {"prompt_id": PID}],
                ["execution_error", {"node_id": "1", "node_type": "EmptyImage"}],
            ],
        },
    }
    session, _ = _session(FakeClient([entry]), FakeSocket([_drop()]), tmp_path)
    with pytest.raises(TaskFailedError) as caught:
        await session.outputs()
    assert caught.value.code == "comfyui_execution_error"
    assert "node 1 (EmptyImage)" in str(caught.value)


async def test_a_prompt_comfyui_forgot_is_lost(tmp_path: Path) -> None:
    # {} from history and absent from the queue: ComfyUI restarted and lost it.
    session, _ = _session(FakeClient([None], [None]), FakeSocket([_drop()]), tmp_path)
    with pytest.raises(TaskFailedError) as caught:
        await session.outputs()
    assert caught.value.code == "comfyui_connection_lost"
    assert "no longer knows prompt prompt-1" in str(caught.value)


async def test_comfyui_unreachable_for_too_long_is_lost(tmp_path: Path) -> None:
    class Unreachable(FakeClient):
        async def history_entry(self, prompt_id: str) -> dict[str, Any] | None:
            raise OSError("connection refused")

    session, _ = _session(Unreachable([None]), FakeSocket([_drop()]), tmp_path)
    with pytest.raises(TaskFailedError) as caught:
        await session.outputs()
    assert caught.value.code == "comfyui_connection_lost"
    assert "connection refused" in str(caught.value)


async def test_a_quiet_prompt_in_neither_queue_nor_history_was_removed_in_comfyui(
    tmp_path: Path,
) -> None:
    # ComfyUI sends nothing when a waiting prompt is deleted from its queue. A check that gets
    # no answer changes nothing; the next one finds the prompt gone.
    class Flaky(FakeClient):
        failed = False

        async def queue_position(self, prompt_id: str) -> str | None:
            if not self.failed:
                self.failed = True
                raise OSError("connection refused")
            return await super().queue_position(prompt_id)

    session, reports = _session(Flaky([None], ["pending", None]), FakeSocket([]), tmp_path)
    with pytest.raises(TaskCancelledError) as caught:
        await session.outputs()
    assert str(caught.value).startswith("the prompt was removed in ComfyUI: prompt prompt-1")
    assert reports == []


async def test_a_quiet_prompt_that_finished_unseen_is_read_from_history(tmp_path: Path) -> None:
    client = FakeClient([_done({"9": {"images": [IMAGE]}})], ["running", None])
    session, _ = _session(client, FakeSocket([msg("executing", node="1")]), tmp_path)
    assert [f.output_id for f in await session.outputs()] == ["9.images.0"]


async def test_leftovers_of_a_stopped_prompt_are_the_files_it_saved(tmp_path: Path) -> None:
    socket = FakeSocket(
        [
            msg("executing", node="9"),
            msg("executed", node="9", output={"images": [IMAGE]}),
            msg("execution_interrupted", node_id="9", node_type="SaveImage"),
        ]
    )
    session, reports = _session(FakeClient([None]), socket, tmp_path)
    assert [f.filename for f in await session.leftovers(5.0)] == ["out_00001_.png"]
    assert reports == []  # the task has failed already: no progress from the stopped prompt
