"""One ComfyUI per GPU: ``ComfyUIPool`` runs each task on a free member runtime.

``--comfyui-gpus 0,1`` with ``--comfyui-command`` starts one supervised ComfyUI per GPU (ports
counting up from ``--comfyui-url``'s, ``CUDA_VISIBLE_DEVICES`` set to the GPU) and gives the
agent one slot per process: a task takes a member for its whole run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runyard_agent.runtimes.base import Health, ProducedOutput, TaskContext
from runyard_agent.runtimes.comfyui.models import ModelCache
from runyard_agent.runtimes.comfyui.runtime import ComfyUIRuntime
from runyard_agent.runtimes.comfyui.supervisor import ComfyUISupervisor
from runyard_protocol import AssignedWorkflow


def member_url(base_url: str, index: int) -> str:
    parts = urlsplit(base_url)
    port = (parts.port or 8188) + index
    return urlunsplit((parts.scheme, f"{parts.hostname}:{port}", parts.path, "", ""))


def supervised_runtimes(
    command: str,
    base_url: str,
    gpus: list[str],
    *,
    files_dir: Path | None = None,
    keep_files: bool = False,
    model_cache: ModelCache | None = None,
) -> list[ComfyUIRuntime]:
    """One supervised runtime per GPU (or one, without GPUs, at ``base_url``)."""
    runtimes = []
    for index, gpu in enumerate(gpus or [""]):
        url = member_url(base_url, index)
        env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu else {}
        supervisor = ComfyUISupervisor(command, url, env=env)
        runtimes.append(
            ComfyUIRuntime(
                url,
                files_dir=files_dir,
                keep_files=keep_files,
                supervisor=supervisor,
                model_cache=model_cache,  # shared: the GPUs' ComfyUIs share one models folder
            )
        )
    return runtimes


class ComfyUIPool:
    tool_type = "comfyui"

    def __init__(self, members: list[ComfyUIRuntime]) -> None:
        if not members:
            raise ValueError("a ComfyUI pool needs at least one member")
        self.members = members
        self._free: asyncio.Queue[ComfyUIRuntime] | None = None

    def _queue(self) -> asyncio.Queue[ComfyUIRuntime]:
        if self._free is None:  # made on the running loop, at first use
            self._free = asyncio.Queue()
            for member in self.members:
                self._free.put_nowait(member)
        return self._free

    async def run(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        free = self._queue()
        member = await free.get()
        try:
            return await member.run(workflow, ctx)
        finally:
            free.put_nowait(member)

    async def health(self) -> Health:
        results = await asyncio.gather(*(m.health() for m in self.members))
        healthy = [h for h in results if h.healthy]
        info: dict[str, Any] = dict((healthy or results)[0].system_info)
        info["instances"] = [
            {"url": m.comfyui_url, "healthy": h.healthy, "detail": h.detail}
            for m, h in zip(self.members, results, strict=True)
        ]
        detail = "; ".join(
            f"{m.comfyui_url}: {h.detail}"
            for m, h in zip(self.members, results, strict=True)
            if not h.healthy
        )
        return Health(bool(healthy), system_info=info, detail=detail)

    async def reload(self) -> bool:
        """Restart every member (see ``ComfyUIRuntime.reload``)."""
        return all(await asyncio.gather(*(m.reload() for m in self.members)))

    async def close(self) -> None:
        await asyncio.gather(*(m.close() for m in self.members))
