"""Supervised ComfyUI: the agent starts ComfyUI itself, watches it and restarts it.

``ComfyUISupervisor`` runs one ComfyUI process (``--comfyui-command``; ``{port}`` in the command
is replaced by the port of its URL, ``CUDA_VISIBLE_DEVICES`` pins it to a GPU). Once
``/system_stats`` answers it sends a warm-up prompt (an 8×8 ``EmptyImage`` → ``PreviewImage``)
so the first task does not pay ComfyUI's first-prompt start-up, then marks itself ready. When
the process exits without being asked to, it is started again after a short pause;
``generation`` counts the starts, so a runtime can tell that a prompt it lost died with a
restart (and run it again) rather than in a ComfyUI that is still the same. ``restart()`` is the
hard cancel: an interrupt that does not land (a long node without progress) ends with a restart.
ComfyUI's stdout and stderr are read by the agent: each line goes to the agent's log, and to the
log of the task whose prompt printed it (``console``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from runyard_agent.runtimes.comfyui.console import ComfyUIConsole, pump_console

log = logging.getLogger(__name__)

WARM_UP_GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
    },
    "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
}


class ComfyUISupervisor:
    def __init__(
        self,
        command: str,
        url: str,
        *,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 300.0,
        restart_pause: float = 1.0,
        warm_up: bool = True,
        stop_timeout: float = 10.0,
    ) -> None:
        port = urlsplit(url).port or 8188
        self.argv = shlex.split(command.replace("{port}", str(port)))
        self.url = url.rstrip("/")
        self.env = {**os.environ, **(env or {})}
        self.start_timeout = start_timeout
        self.restart_pause = restart_pause
        self.warm_up = warm_up
        self.stop_timeout = stop_timeout
        self.generation = 0  # how many times ComfyUI was started
        self.ready = asyncio.Event()
        self.console = ComfyUIConsole()
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def started(self) -> bool:
        return self._watcher is not None

    def start(self) -> None:
        """Start ComfyUI and keep it running (returns at once; ``ready`` is set when it is)."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="comfyui-supervisor")

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def restart(self) -> None:
        """Stop the process; the watcher starts a new one (hard cancel, or a stuck ComfyUI)."""
        log.warning("restarting ComfyUI (pid %s)", self._process.pid if self._process else None)
        self.ready.clear()
        await self._terminate()

    async def stop(self) -> None:
        self._stopping = True
        self.ready.clear()
        await self._terminate()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self) -> None:
        while not self._stopping:
            self.console.reset()
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                start_new_session=True,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            self.generation += 1
            log.info("started ComfyUI: pid %d (%s)", self._process.pid, " ".join(self.argv))
            assert self._process.stdout is not None and self._process.stderr is not None
            pumps = [
                asyncio.create_task(
                    pump_console(self._process.stdout, "stdout", self.console.feed)
                ),
                asyncio.create_task(
                    pump_console(self._process.stderr, "stderr", self.console.feed)
                ),
            ]
            came_up = asyncio.create_task(self._come_up())
            try:
                code = await self._process.wait()
                await asyncio.wait(pumps, timeout=2.0)  # its last words (a traceback)
            finally:
                came_up.cancel()
                for pump in pumps:
                    pump.cancel()
            self.ready.clear()
            if self._stopping:
                return
            log.warning("ComfyUI exited with %s; starting it again", code)
            await asyncio.sleep(self.restart_pause)

    async def _come_up(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.start_timeout
            while True:
                try:
                    if (await http.get("/system_stats")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if loop.time() > deadline:
                    log.error("ComfyUI did not answer within %gs; restarting", self.start_timeout)
                    await self._terminate()
                    return
                await asyncio.sleep(0.2)
            if self.warm_up:
                await self._warm_up(http)
        self.ready.set()
        log.info("ComfyUI is ready at %s", self.url)

    async def _warm_up(self, http: httpx.AsyncClient) -> None:
        prompt_id = str(uuid.uuid4())
        try:
            response = await http.post(
                "/prompt", json={"prompt": WARM_UP_GRAPH, "prompt_id": prompt_id}
            )
            if response.status_code != 200:
                log.warning("ComfyUI refused the warm-up prompt: %s", response.text[:300])
                return
            for _ in range(600):
                if (await http.get(f"/history/{prompt_id}")).json():
                    return
                await asyncio.sleep(0.1)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("warm-up prompt failed: %s", exc)

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.stop_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def restarted_since(sup: ComfyUISupervisor, generation: int, timeout: float) -> bool:
    """Whether ComfyUI was (or is being) restarted since ``generation`` and is ready again.

    A lost prompt is a crash when the process died; its exit may be noticed a moment after the
    runtime saw the connection go, so a ComfyUI that stays up and ready for two seconds means
    the loss had another cause."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    steady_since: float | None = None
    while loop.time() < deadline:
        if sup.generation != generation:
            return await sup.wait_ready(max(0.0, deadline - loop.time()))
        if sup.ready.is_set():
            steady_since = steady_since if steady_since is not None else loop.time()
            if loop.time() - steady_since >= 2.0:
                return False
        else:
            steady_since = None
        await asyncio.sleep(0.1)
    return False
