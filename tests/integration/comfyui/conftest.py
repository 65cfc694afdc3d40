"""Fixtures: the ComfyUI stand-in as a real subprocess, and hand-built task contexts."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from comfyui_helpers import Standin

from runyard_agent.runtimes.comfyui import ComfyUIRuntime
from tests.support.s3 import free_port as free_port_below_ephemeral


@pytest.fixture
def start_standin(tmp_path: Path) -> Iterator[Callable[..., Standin]]:
    started: list[Standin] = []

    def start(*flags: str) -> Standin:
        port = free_port_below_ephemeral()
        data_dir = tmp_path / f"standin-{port}"
        log = (tmp_path / f"standin-{port}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "runyard_testing.comfyui_standin", "--port", str(port)]
            + ["--data-dir", str(data_dir), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        standin = Standin(f"http://127.0.0.1:{port}", process, data_dir)
        started.append(standin)
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"stand-in exited: {log.name}")
            try:
                httpx.get(standin.url + "/queue", timeout=1)
                return standin
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    yield start
    for standin in started:
        standin.stop()


@pytest.fixture
def standin(start_standin: Callable[..., Standin]) -> Standin:
    return start_standin()


@pytest.fixture
def slow_standin(start_standin: Callable[..., Standin]) -> Standin:
    # ImageBlur then takes 4 progress steps of 0.25 s each; other nodes 1 s.
    return start_standin("--node-delay", "1.0")


@pytest.fixture
async def runtime(standin: Standin) -> AsyncIterator[ComfyUIRuntime]:
    rt = ComfyUIRuntime(standin.url, http_timeout=10, reconnect_wait=3, poll_interval=0.2)
    yield rt
    await rt.close()


@pytest.fixture
async def slow_runtime(slow_standin: Standin) -> AsyncIterator[ComfyUIRuntime]:
    rt = ComfyUIRuntime(slow_standin.url, http_timeout=10, reconnect_wait=3, poll_interval=0.2)
    yield rt
    await rt.close()


def standin_command(port: int, data_dir: Path, *flags: str) -> str:
    """The stand-in as a ``--comfyui-command`` for a supervising runtime."""
    return " ".join(
        [sys.executable, "-m", "runyard_testing.comfyui_standin", "--port", "{port}"]
        + ["--data-dir", str(data_dir), *flags]
    )


@pytest.fixture
def free_port() -> int:
    return free_port_below_ephemeral()
