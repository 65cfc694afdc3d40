"""Issue 33: edges found on a real ComfyUI 0.3.64, reproduced on the stand-in.

A stalled close after a stopped partial prompt, the files such a prompt saved anyway, and a
prompt deleted from ComfyUI's queue while it waits (ComfyUI sends nothing for it).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from comfyui_helpers import Standin, make_ctx, workflow
from websockets.asyncio.client import ClientConnection

from runyard_agent.runtimes.base import TaskCancelledError, TaskContext, TaskFailedError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime
from runyard_agent.runtimes.comfyui.client import ComfyUIClient, new_ids
from runyard_agent.runtimes.comfyui.session import PromptSession


def partial_graph(inverts: int = 1) -> dict[str, Any]:
    """The issue's graph: a valid branch (EmptyImage → ImageInvert… → SaveImage) and a blur whose
    radius is over its max, so ComfyUI accepts the prompt but skips output node 5."""
    graph: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 32, "height": 41, "batch_size": 1, "color": 0},
        },
        "4": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 99, "sigma": 1.0},
        },
        "5": {
            "class_type": "SaveImage",
            "inputs": {"images": ["4", 0], "filename_prefix": "partial/bad"},
        },
    }
    source = "1"
    for index in range(inverts):
        node_id = f"2{index}"
        graph[node_id] = {"class_type": "ImageInvert", "inputs": {"image": [source, 0]}}
        source = node_id
    graph["3"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [source, 0], "filename_prefix": "partial/ok"},
    }
    return graph


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _finish(ctx: TaskContext) -> None:
    """What the executor does once the outcome is final."""
    for callback in ctx.cleanup:
        callback()


async def _until(condition: Any, what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class RecordingClient(ComfyUIClient):
    """The real client, keeping the sockets it opened so a test can see how they closed."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url, timeout=10)
        self.sockets: list[ClientConnection] = []

    async def connect(self, client_id: str) -> ClientConnection:
        ws = await super().connect(client_id)
        self.sockets.append(ws)
        return ws


async def test_closing_with_many_unread_messages_completes_the_close_handshake(
    standin: Standin, tmp_path: Path
) -> None:
    # The runtime stops reading when a partial prompt fails; ComfyUI has sent more than the 16
    # messages the client buffers before it stops reading the network. The close must still
    # see ComfyUI's answer (code 1000), not wait out the 10 s close timeout and abort (1006).
    client = RecordingClient(standin.url)
    graph = partial_graph(inverts=6)
    client_id, prompt_id = new_ids()
    ctx, _ = make_ctx(tmp_path)
    session = PromptSession(
        client,
        graph,
        ctx,
        client_id=client_id,
        prompt_id=prompt_id,
        reconnect_wait=3,
        poll_interval=0.2,
    )
    try:
        await session.open()
        submitted = await client.submit(graph, client_id, prompt_id)
        assert list(submitted.node_errors) == ["4"]
        [ws] = client.sockets
        # The precondition, in the library's own state: more than 16 messages lie unread, so it
        # has stopped reading from the network (ComfyUI's answer to a close would sit unread).
        await _until(lambda: ws.recv_messages.paused, "the client stopped reading")
        await session.close()
        assert ws.close_code == 1000
    finally:
        await client.close()


async def test_a_failed_partial_prompt_leaves_no_files(
    standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On an idle ComfyUI the valid branch has saved its image before the agent stops the prompt:
    # the agent's first look at the queue comes after the prompt finished.
    asked = ComfyUIClient.queue_position

    async def after_it_ran(self: ComfyUIClient, prompt_id: str) -> str | None:
        await _until(lambda: prompt_id in standin.history(), "the prompt ran")
        return await asked(self, prompt_id)

    monkeypatch.setattr(ComfyUIClient, "queue_position", after_it_ran)
    runtime = ComfyUIRuntime(standin.url, http_timeout=10, files_dir=standin.data_dir)
    try:
        for attempt in (1, 2):
            ctx, _ = make_ctx(tmp_path / str(attempt))
            ctx.attempt = attempt
            with pytest.raises(TaskFailedError) as caught:
                await runtime.run(workflow(partial_graph()), ctx)
            assert caught.value.code == "comfyui_validation_failed"
            assert "output node(s) 5" in str(caught.value)
            assert _files(standin.data_dir / "output") == ["partial/ok_00001_.png"]
            _finish(ctx)
            assert _files(standin.data_dir / "output") == []
    finally:
        await runtime.close()


async def test_a_prompt_deleted_from_comfyuis_queue_ends_the_task_cancelled(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    # Another client's prompt runs (3 nodes of 1 s); the task's prompt waits behind it and is
    # deleted there. ComfyUI sends nothing about it: the task must not wait for its timeout.
    other = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "o"}},
    }
    httpx.post(slow_standin.url + "/prompt", json={"prompt": other}).raise_for_status()
    ctx, recorder = make_ctx(tmp_path)
    graph = partial_graph()
    del graph["4"], graph["5"]
    run = asyncio.create_task(slow_runtime.run(workflow(graph), ctx))

    def pending() -> list[str]:
        return [item[1] for item in slow_standin.get("/queue")["queue_pending"]]

    await _until(lambda: pending() != [], "the task's prompt waits in ComfyUI's queue")
    [prompt_id] = pending()
    httpx.post(slow_standin.url + "/queue", json={"delete": [prompt_id]}).raise_for_status()
    with pytest.raises(TaskCancelledError) as caught:
        await asyncio.wait_for(run, 30)
    assert "the prompt was removed in ComfyUI" in str(caught.value)
    assert prompt_id in str(caught.value)
    assert not ctx.cancelled  # nobody asked Runyard to cancel it
    assert all(r.progress == 0 for r in recorder.reports)


async def test_a_delete_that_comes_after_comfyui_took_the_prompt_still_cleans_up(
    slow_standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen on the real server: the prompt waits when the agent looks, ComfyUI takes and runs it
    # before the agent's delete arrives (a no-op then), and it is gone from the queue when the
    # agent looks again. It ran: its files must still be removed.
    other = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    httpx.post(slow_standin.url + "/prompt", json={"prompt": other}).raise_for_status()
    deleting = ComfyUIClient.delete_pending

    async def too_late(self: ComfyUIClient, prompt_id: str) -> None:
        await _until(lambda: prompt_id in slow_standin.history(), "the prompt ran")
        await deleting(self, prompt_id)

    monkeypatch.setattr(ComfyUIClient, "delete_pending", too_late)
    runtime = ComfyUIRuntime(slow_standin.url, http_timeout=10, files_dir=slow_standin.data_dir)
    try:
        ctx, _ = make_ctx(tmp_path)
        with pytest.raises(TaskFailedError) as caught:
            await runtime.run(workflow(partial_graph()), ctx)
        assert caught.value.code == "comfyui_validation_failed"
        assert _files(slow_standin.data_dir / "output") == ["partial/ok_00001_.png"]
        _finish(ctx)
        assert _files(slow_standin.data_dir / "output") == []
    finally:
        await runtime.close()
