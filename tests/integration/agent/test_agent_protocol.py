"""The real agent (in-process) against a scripted server and a signed-URL file store."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from runyard_agent import AgentRejectedError, ConnectionState
from runyard_protocol import (
    CloseReason,
    Heartbeat,
    HeartbeatAck,
    OutputUrlRequest,
    RunningTask,
    TaskAck,
    TaskCancel,
    TaskCancelled,
    TaskComplete,
    TaskFail,
    TaskProgress,
    TaskRelease,
)
from tests.integration.agent.conftest import IMG2IMG, SLEEP


def png() -> bytes:
    image = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def removed(directory: Path, timeout: float = 5.0) -> bool:
    """The agent removes a task directory off its event loop just after the outcome is sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while directory.exists() and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return not directory.exists()


async def test_hello_describes_the_agent(server, start_agent):
    agent, _ = await start_agent()
    [hello] = server.hellos
    assert server.auth_headers[0] == "Bearer ak-test-key-0123456789"
    assert (hello.agent_id, hello.labels, hello.capacity) == ("agent-1", ["cpu", "test"], 2)
    assert hello.runtimes == ["python"]
    assert hello.healthy and hello.running_tasks == []
    assert hello.agent_version
    assert hello.system_info["cpu_count"] >= 1
    assert hello.system_info["runtimes"]["python"]["healthy"] is True
    assert agent.state == ConnectionState.READY
    heartbeat = await server.wait_for(Heartbeat, timeout=2)
    assert heartbeat.draining is False and heartbeat.healthy


async def test_img2img_task_runs_end_to_end(server, store, start_agent, make_assign, tmp_path):
    await start_agent()
    assign = make_assign(
        IMG2IMG,
        parameters={"prompt": "invert", "strength": 1.0},
        inputs={"input_image": ("photo.png", "image/png", png())},
    )
    await server.assign(assign)

    complete = await server.wait_for(TaskComplete, task_id="task-1")
    kinds = [type(f) for f in server.frames if getattr(f, "task_id", None) == "task-1"]
    assert kinds[0] is TaskAck
    assert TaskProgress in kinds
    assert kinds.index(TaskProgress) < kinds.index(OutputUrlRequest) < kinds.index(TaskComplete)
    assert kinds[-1] is TaskComplete
    [output] = complete.outputs
    assert (output.output_id, output.file_name, output.content_type) == (
        "image",
        "output.png",
        "image/png",
    )
    request = server.of_type(OutputUrlRequest)[0]
    assert (request.output_id, request.file_size) == ("image", output.file_size)
    name = server.outputs[("task-1", "image")]
    uploaded = store.objects[name]
    assert len(uploaded) == output.file_size
    source = Image.open(io.BytesIO(png()))
    assert list(Image.open(io.BytesIO(uploaded)).getdata()) == list(
        ImageOps.invert(source).getdata()
    )
    [put] = [headers for method, n, headers in store.requests if (method, n) == ("PUT", name)]
    assert put["If-None-Match"] == "*" and put["Content-Length"] == str(output.file_size)
    last_progress = server.of_type(TaskProgress, task_id="task-1")[-1]
    assert last_progress.progress == 1.0
    assert await removed(tmp_path / "work" / "task-1-1")


@pytest.mark.parametrize(
    ("entrypoint", "code", "fragment"),
    [
        ("json:loads", "runtime_error", "TypeError"),
        ("not_a_real_package.module:run", "invalid_workflow", "not installed"),
        (IMG2IMG, "invalid_input", "not an image"),
    ],
)
async def test_a_failing_task_reports_code_and_message(
    server, start_agent, make_assign, entrypoint, code, fragment
):
    await start_agent()
    inputs = {"input_image": ("doc.png", "image/png", b"plain text")}
    await server.assign(make_assign(entrypoint, inputs=inputs))
    fail = await server.wait_for(TaskFail)
    assert fail.error_code == code
    assert fragment in fail.error_message
    assert "Traceback" not in fail.error_message
    assert not server.of_type(TaskComplete)


async def test_cancel_stops_the_work_and_confirms(server, start_agent, make_assign, tmp_path):
    agent, _ = await start_agent()
    await server.assign(make_assign(SLEEP, parameters={"seconds": 30}))
    await server.wait_for(TaskProgress, task_id="task-1")
    assert (tmp_path / "work" / "task-1-1").exists()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await server.send(TaskCancel(task_id="task-1", attempt=1, reason="cancelled"))
    await server.wait_for(TaskCancelled, task_id="task-1", timeout=3)
    assert loop.time() - started < 2.0
    assert not server.of_type(TaskComplete) and not server.of_type(TaskFail)
    assert agent.executor is not None and agent.executor.running_tasks() == []
    assert await removed(tmp_path / "work" / "task-1-1")
    progress_count = len(server.of_type(TaskProgress))
    await asyncio.sleep(0.3)
    assert len(server.of_type(TaskProgress)) == progress_count  # nothing runs any more


async def test_reassigned_tasks_stop_silently(server, start_agent, make_assign):
    agent, _ = await start_agent()
    await server.assign(make_assign(SLEEP, parameters={"seconds": 30}))
    await server.wait_for(TaskProgress)
    await server.send(TaskCancel(task_id="task-1", attempt=1, reason="reassigned"))
    async with asyncio.timeout(3):
        while agent.executor.running_tasks():
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert not server.of_type(TaskCancelled) and not server.of_type(TaskFail)


async def test_a_stuck_runtime_is_abandoned_after_the_grace(
    server, start_agent, make_assign, monkeypatch
):
    import sys
    import types

    def stuck(ctx):
        import time

        time.sleep(2.5)  # ignores the cancel event
        return []

    module = types.ModuleType("agent_stuck_module")
    module.run = stuck
    monkeypatch.setitem(sys.modules, module.__name__, module)
    await start_agent(cancel_grace=0.2)
    await server.assign(make_assign("agent_stuck_module:run"))
    await server.wait_for(TaskAck)
    await asyncio.sleep(0.1)
    await server.send(TaskCancel(task_id="task-1", attempt=1, reason="timed_out"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await server.wait_for(TaskCancelled, timeout=3)
    assert loop.time() - started < 1.5


async def test_assignments_beyond_capacity_are_released(server, start_agent, make_assign):
    await start_agent(capacity=1)
    await server.assign(make_assign(SLEEP, task_id="a", parameters={"seconds": 30}))
    await server.wait_for(TaskAck, task_id="a")
    await server.assign(make_assign(SLEEP, task_id="b", parameters={"seconds": 30}))
    release = await server.wait_for(TaskRelease, task_id="b")
    assert "capacity" in release.reason
    assert not server.of_type(TaskAck, task_id="b")


async def test_reconnects_and_reports_running_tasks(server, start_agent, make_assign):
    agent, _ = await start_agent()
    await server.assign(make_assign(SLEEP, parameters={"seconds": 0.8}))
    await server.wait_for(TaskProgress)
    await server.current.close(CloseReason.SERVER_SHUTDOWN.code, "restarting")
    await server.wait_connections(2)
    assert server.hellos[1].running_tasks == [RunningTask(task_id="task-1", attempt=1)]
    complete = await server.wait_for(TaskComplete)
    assert [o.output_id for o in complete.outputs] == ["result"]
    assert agent.state == ConnectionState.READY


async def test_an_outcome_produced_while_offline_is_sent_after_reconnecting(
    server, start_agent, make_assign
):
    await start_agent(backoff_initial=0.6, backoff_max=0.6)
    await server.assign(make_assign(SLEEP, parameters={"seconds": 0.3}))
    await server.wait_for(TaskProgress)
    server.current.transport.abort()  # abrupt network loss, no close frame
    await server.wait_connections(2)
    assert server.hellos[1].running_tasks == [RunningTask(task_id="task-1", attempt=1)]
    complete = await server.wait_for(TaskComplete)
    assert complete.task_id == "task-1"


async def test_welcome_drop_tasks_are_abandoned(server, start_agent, make_assign):
    agent, _ = await start_agent()
    await server.assign(make_assign(SLEEP, parameters={"seconds": 30}))
    await server.wait_for(TaskProgress)
    server.welcome_drop = [RunningTask(task_id="task-1", attempt=1)]
    await server.current.close(CloseReason.HEARTBEAT_TIMEOUT.code)
    await server.wait_connections(2)
    async with asyncio.timeout(3):
        while agent.executor.running_tasks():
            await asyncio.sleep(0.02)
    assert not server.of_type(TaskComplete) and not server.of_type(TaskCancelled)


async def test_heartbeat_ack_drop_tasks_are_abandoned(server, start_agent, make_assign):
    agent, _ = await start_agent()
    await server.assign(make_assign(SLEEP, parameters={"seconds": 30}))
    await server.wait_for(TaskProgress)
    await server.send(HeartbeatAck(drop_tasks=[RunningTask(task_id="task-1", attempt=1)]))
    async with asyncio.timeout(3):
        while agent.executor.running_tasks():
            await asyncio.sleep(0.02)
    heartbeat_count = len(server.frames)
    await asyncio.sleep(0.3)
    later = server.frames[heartbeat_count:]
    assert all(isinstance(f, Heartbeat) and f.running_tasks == [] for f in later)


@pytest.mark.parametrize(
    "reason",
    [CloseReason.INVALID_KEY, CloseReason.AGENT_ID_TAKEN, CloseReason.UNSUPPORTED_PROTOCOL],
)
async def test_a_terminal_close_code_stops_the_agent(server, start_agent, reason):
    server.close_after_hello = reason.code
    _, task = await start_agent(wait=False)
    with pytest.raises(AgentRejectedError) as caught:
        await asyncio.wait_for(task, 5)
    assert caught.value.close_code == reason.code
    assert reason.description in str(caught.value)
    assert len(server.hellos) == 1  # no retry


async def test_http_401_at_the_handshake_stops_the_agent(server, start_agent):
    _, task = await start_agent(wait=False, agent_key="ak-wrong")
    with pytest.raises(AgentRejectedError) as caught:
        await asyncio.wait_for(task, 5)
    assert caught.value.status_code == 401
    assert "ak-wrong" not in str(caught.value)


async def test_a_503_at_the_handshake_is_retried(server, start_agent):
    server.refuse_http = 503
    _, task = await start_agent(wait=False)
    async with asyncio.timeout(5):
        while len(server.auth_headers) < 3:
            await asyncio.sleep(0.01)
    assert not task.done()
    server.refuse_http = None
    await server.wait_connections(1)


async def test_stop_drains_running_tasks_then_closes_with_1000(server, start_agent, make_assign):
    agent, task = await start_agent()
    await server.assign(make_assign(SLEEP, task_id="long", parameters={"seconds": 0.5}))
    await server.wait_for(TaskProgress, task_id="long")
    agent.stop()
    draining = await server.wait_for(Heartbeat, draining=True, timeout=2)
    assert draining.running_tasks == [RunningTask(task_id="long", attempt=1)]
    await server.assign(make_assign(SLEEP, task_id="late", parameters={"seconds": 1}))
    await server.wait_for(TaskRelease, task_id="late")
    await asyncio.wait_for(task, 5)
    assert server.of_type(TaskComplete, task_id="long")
    assert not server.of_type(TaskRelease, task_id="long")
    assert server.current.close_code == 1000
    assert agent.state == ConnectionState.CLOSED


async def test_stop_releases_tasks_still_running_after_the_drain_timeout(
    server, start_agent, make_assign
):
    agent, task = await start_agent(drain_timeout=0.3)
    await server.assign(make_assign(SLEEP, parameters={"seconds": 30}))
    await server.wait_for(TaskProgress)
    agent.stop()
    await asyncio.wait_for(task, 5)
    release = await server.wait_for(TaskRelease, task_id="task-1")
    assert release.reason
    assert not server.of_type(TaskComplete) and not server.of_type(TaskFail)
    assert server.current.close_code == 1000


async def test_a_runtime_that_errors_while_cancelled_still_reports_cancelled(
    server, start_agent, make_assign, monkeypatch
):
    import sys
    import types

    from runyard_agent.runtimes.base import TaskFailedError

    def interrupted(ctx):
        ctx.cancel_event.wait(5)
        raise TaskFailedError("interrupted by the user", code="comfyui_error")

    module = types.ModuleType("agent_interrupted_module")
    module.run = interrupted
    monkeypatch.setitem(sys.modules, module.__name__, module)
    await start_agent()
    await server.assign(make_assign("agent_interrupted_module:run"))
    await server.wait_for(TaskAck)
    await server.send(TaskCancel(task_id="task-1", attempt=1, reason="cancelled"))
    await server.wait_for(TaskCancelled, timeout=3)
    assert not server.of_type(TaskFail)


async def test_a_runtime_that_stops_on_its_own_reports_a_runtime_cancel(
    server, start_agent, make_assign, monkeypatch
):
    # As when a prompt is interrupted in ComfyUI's own UI: no TaskCancel was sent.
    import sys
    import types

    from runyard_agent.runtimes.base import TaskCancelledError

    def interrupted(ctx):
        raise TaskCancelledError("ComfyUI interrupted the prompt at node 3 (ImageBlur)")

    module = types.ModuleType("agent_ui_interrupt_module")
    module.run = interrupted
    monkeypatch.setitem(sys.modules, module.__name__, module)
    await start_agent()
    await server.assign(make_assign("agent_ui_interrupt_module:run"))
    cancelled = await server.wait_for(TaskCancelled, timeout=5)
    assert cancelled.stopped_by == "runtime"
    assert "interrupted the prompt at node 3 (ImageBlur)" in cancelled.message
    assert not server.of_type(TaskFail)


async def test_non_file_values_are_sent_with_the_completion(
    server, start_agent, make_assign, monkeypatch
):
    import sys
    import types

    def caption(ctx):
        ctx.values["caption"] = "a red square"
        return []

    module = types.ModuleType("agent_values_module")
    module.run = caption
    monkeypatch.setitem(sys.modules, module.__name__, module)
    await start_agent()
    await server.assign(make_assign("agent_values_module:run"))
    complete = await server.wait_for(TaskComplete, timeout=5)
    assert complete.values == {"caption": "a red square"} and complete.outputs == []


async def test_runtime_clean_up_runs_after_the_outcome(
    server, start_agent, make_assign, monkeypatch, tmp_path
):
    import sys
    import types

    marker = tmp_path / "cleaned"

    def registers(ctx):
        ctx.cleanup.append(marker.touch)
        ctx.cleanup.append(lambda: 1 / 0)  # a failing callback does not stop the others
        ctx.cleanup.append(lambda: (tmp_path / "second").touch())
        return []

    module = types.ModuleType("agent_cleanup_module")
    module.run = registers
    monkeypatch.setitem(sys.modules, module.__name__, module)
    await start_agent()
    await server.assign(make_assign("agent_cleanup_module:run"))
    await server.wait_for(TaskComplete, timeout=5)
    assert await removed(tmp_path / "work" / "task-1-1")  # clean-up ran before the rmtree
    assert marker.exists() and (tmp_path / "second").exists()
