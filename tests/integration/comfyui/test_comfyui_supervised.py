"""Supervised ComfyUI: the runtime starts the stand-in itself, warms it up, restarts it after a
crash and runs the lost prompt again, and restarts it when an interrupt does not land."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from comfyui_helpers import INVERT_PARAMETERS, invert_graph, make_ctx, png_bytes, workflow

from runyard_agent.runtimes.base import TaskCancelledError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime
from runyard_agent.runtimes.comfyui.supervisor import ComfyUISupervisor
from tests.integration.comfyui.conftest import standin_command
from tests.support.s3 import free_port as pick_port

PHOTO = png_bytes((40, 90, 160))


def supervised(port: int, data_dir: Path, *flags: str) -> ComfyUIRuntime:
    url = f"http://127.0.0.1:{port}"
    sup = ComfyUISupervisor(
        standin_command(port, data_dir, *flags), url, start_timeout=30, restart_pause=0.1
    )
    return ComfyUIRuntime(
        url,
        http_timeout=10,
        reconnect_wait=20,
        poll_interval=0.1,
        supervisor=sup,
        interrupt_grace=0.5,
    )


async def started(runtime: ComfyUIRuntime) -> ComfyUISupervisor:
    assert not (await runtime.health()).healthy  # starting
    sup = runtime.supervisor
    assert sup is not None and await sup.wait_ready(30)
    assert (await runtime.health()).healthy
    return sup


async def test_start_warm_up_and_a_crash_mid_task_is_retried(
    free_port: int, tmp_path: Path
) -> None:
    data_dir = tmp_path / "comfy"
    runtime = supervised(free_port, data_dir, "--node-delay", "0.5")
    try:
        sup = await started(runtime)
        history = httpx.get(runtime.comfyui_url + "/history").json()
        assert len(history) == 1  # the warm-up prompt ran
        ctx, recorder = make_ctx(
            tmp_path, {"input_image": "k"}, {"input_image": ("photo.png", PHOTO)}
        )
        killed: list[int] = []

        def crash(report: object) -> None:
            process = sup._process
            if not killed and process is not None and getattr(report, "current_node", None):
                killed.append(process.pid)
                os.killpg(process.pid, signal.SIGKILL)

        recorder.hooks.append(crash)
        outputs = await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)
        assert killed and sup.generation == 2
        assert [o.output_id for o in outputs] == ["9.images.0"]
        assert any(r.message == "ComfyUI restarted; running again" for r in recorder.reports)
    finally:
        await runtime.close()
    assert sup._process is not None and sup._process.returncode is not None


async def test_an_interrupt_that_does_not_land_restarts_comfyui(
    free_port: int, tmp_path: Path
) -> None:
    # ImageInvert takes 5 s and reports no progress: the interrupt waits for the node to end.
    runtime = supervised(free_port, tmp_path / "comfy", "--node-delay", "5")
    try:
        sup = await started(runtime)
        ctx, recorder = make_ctx(
            tmp_path, {"input_image": "k"}, {"input_image": ("photo.png", PHOTO)}
        )
        recorder.hooks.append(
            lambda report: ctx.cancel_event.set() if report.current_node == "2" else None
        )
        with pytest.raises(TaskCancelledError):
            await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)
        assert not sup.ready.is_set()  # restarting rather than waiting for the node
        assert await sup.wait_ready(60)
        assert sup.generation == 2
        queue = httpx.get(runtime.comfyui_url + "/queue").json()
        assert queue == {"queue_running": [], "queue_pending": []}
    finally:
        await runtime.close()


def _two_free_ports() -> int:
    """A free port whose next one is free too (below the ephemeral range, see pick_port)."""
    import socket

    for _ in range(50):
        port = pick_port()
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports")


async def test_one_comfyui_per_gpu_each_takes_one_task(tmp_path: Path) -> None:
    import asyncio

    from runyard_agent.options import AgentOptions
    from runyard_agent.runtimes.comfyui import ComfyUIPool, build_comfyui_runtime

    port = _two_free_ports()
    options = AgentOptions(
        agent_key="ak-x",
        agent_id="gpus",
        comfyui_url=f"http://127.0.0.1:{port}",
        comfyui_command=standin_command(port, tmp_path / "comfy-{port}", "--node-delay", "0.3"),
        comfyui_gpus=["0", "1"],
    )
    pool = build_comfyui_runtime(options)
    assert isinstance(pool, ComfyUIPool)
    try:
        assert not (await pool.health()).healthy  # both starting
        for member in pool.members:
            assert member.supervisor is not None and await member.supervisor.wait_ready(60)
        health = await pool.health()
        assert health.healthy
        assert [i["url"] for i in health.system_info["instances"]] == [
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{port + 1}",
        ]
        contexts = [
            make_ctx(tmp_path / str(i), {"input_image": "k"}, {"input_image": ("p.png", PHOTO)})[0]
            for i in range(2)
        ]
        runs = [pool.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx) for ctx in contexts]
        results = await asyncio.gather(*runs)
        assert all([o.output_id for o in r] == ["9.images.0"] for r in results)
        # Each ComfyUI ran one of them (besides its warm-up prompt).
        for member in pool.members:
            history = httpx.get(member.comfyui_url + "/history").json()
            assert len(history) == 2
    finally:
        await pool.close()
