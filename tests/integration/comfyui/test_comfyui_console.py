"""A supervised ComfyUI's console as the tasks' logs: the stand-in prints what ComfyUI prints
(``got prompt``, a sampler's bar, an exception, ``Prompt executed in``), and two prompts queued
at once each get the lines of their own run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from comfyui_helpers import INVERT_PARAMETERS, invert_graph, make_ctx, png_bytes, workflow

from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime
from runyard_agent.runtimes.comfyui.supervisor import ComfyUISupervisor
from tests.integration.comfyui.conftest import standin_command

PHOTO = png_bytes((40, 90, 160))


class Lines:
    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []

    def room(self) -> int:
        return 1000

    def lines(self, stream: str, lines: list[str]) -> None:
        self.got.extend((stream, line) for line in lines)

    def dropped(self, count: int) -> None:
        raise AssertionError("nothing should be dropped")

    def text(self) -> str:
        return "\n".join(line for _, line in self.got)


async def test_each_queued_prompt_gets_its_own_console_lines(free_port: int, tmp_path: Path):
    url = f"http://127.0.0.1:{free_port}"
    command = standin_command(free_port, tmp_path / "comfy", "--node-delay", "0.3")
    sup = ComfyUISupervisor(command, url, start_timeout=30, restart_pause=0.1)
    runtime = ComfyUIRuntime(
        url, http_timeout=10, reconnect_wait=20, poll_interval=0.1, supervisor=sup
    )
    try:
        await runtime.health()
        assert await sup.wait_ready(30)
        files = {"input_image": ("photo.png", PHOTO)}
        good, _ = make_ctx(tmp_path / "good", {"input_image": "k"}, files)
        bad, _ = make_ctx(
            tmp_path / "bad", {"input_image": "k", "filename_prefix": "../out"}, files
        )
        good.log, bad.log = Lines(), Lines()
        blurred = workflow(invert_graph(blur=True), INVERT_PARAMETERS)
        escaping = workflow(invert_graph(), INVERT_PARAMETERS)
        first = asyncio.create_task(runtime.run(blurred, good))
        await asyncio.sleep(0.2)  # queued behind the first
        second = asyncio.create_task(runtime.run(escaping, bad))
        await first
        with pytest.raises(TaskFailedError):
            await second
    finally:
        await runtime.close()
    good_text, bad_text = good.log.text(), bad.log.text()
    assert good.log.got[0] == ("stderr", "got prompt")
    assert "100%|██████████|" in good_text
    assert good.log.got[-1][1].startswith("Prompt executed in ")
    assert "Exception during processing" not in good_text
    assert bad.log.got[0] == ("stderr", "got prompt")
    assert "!!! Exception during processing !!! **** ERROR: Saving image outside" in bad_text
    assert bad.log.got[-1][1].startswith("Prompt executed in ")
    assert "100%" not in bad_text
    assert sum(line.startswith("Prompt executed in") for _, line in good.log.got + bad.log.got) == 2
