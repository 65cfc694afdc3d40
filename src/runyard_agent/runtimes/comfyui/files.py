"""Disk hygiene: what a task leaves in ComfyUI's folders, and removing it afterwards.

ComfyUI has no API to delete files, so the agent removes them itself when it shares ComfyUI's
directory (``--comfyui-dir``): the task's inputs are uploaded into a subfolder of their own
(``input/runyard/<task>-<attempt>/``, removed whole) and the output and temp files it collected
are removed once the task's outcome is final. Because ComfyUI replays the *old* file names of a
cached output node, every sink node gets a ``runyard_run`` input naming the attempt: ComfyUI
ignores inputs a node does not declare, but they are part of its cache key, so the output nodes
save afresh while everything upstream stays cached.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from runyard_agent.runtimes.comfyui.graph import Graph, OutputFile

log = logging.getLogger(__name__)

RUN_INPUT = "runyard_run"


def _is_link(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def mark_run(graph: Graph, run: str) -> None:
    """Give every node no other node links to (the output nodes) the input ``runyard_run``."""
    linked = {
        str(value[0])
        for node in graph.values()
        for value in (node.get("inputs") or {}).values()
        if _is_link(value)
    }
    for node_id, node in graph.items():
        if node_id not in linked:
            node.setdefault("inputs", {})[RUN_INPUT] = run


@dataclass(frozen=True)
class ComfyUIFiles:
    """ComfyUI's base directory (``input/``, ``output/``, ``temp/`` below it)."""

    base: Path

    def upload_subfolder(self, task_id: str, attempt: int) -> str:
        return "runyard/" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{task_id}-{attempt}")

    def remove_inputs(self, subfolder: str) -> None:
        folder = self.base / "input" / subfolder
        if self._inside(self.base / "input", folder):
            shutil.rmtree(folder, ignore_errors=True)

    def remove_outputs(self, files: list[OutputFile]) -> None:
        for ref in files:
            if ref.type not in ("output", "temp"):
                continue  # never a file of ComfyUI's input folder the graph only read
            root = self.base / ref.type
            path = root / ref.subfolder / ref.filename
            if not self._inside(root, path):
                log.warning("not removing %s: outside ComfyUI's %s folder", path, ref.type)
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", path, exc)

    @staticmethod
    def _inside(root: Path, path: Path) -> bool:
        root, path = root.resolve(), path.resolve()
        return path != root and path.is_relative_to(root)
