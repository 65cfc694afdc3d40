"""The prompt queue, the single execution worker, the output cache and the in-memory history.

The worker runs one prompt at a time in a thread (like ComfyUI's ``prompt_worker``) and sends
execution events only to the socket whose id equals the prompt's ``client_id``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import runyard_testing.comfyui_standin.console as console
from runyard_testing.comfyui_standin.images import FloatImage, preview_frame
from runyard_testing.comfyui_standin.nodes import (
    NODES,
    Folders,
    InterruptedByUser,
    NodeContext,
    NodeResult,
)
from runyard_testing.comfyui_standin.validation import convert_value

# A 1x1 PNG sent as a "preview" binary frame when --extra-messages is on.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


# Its binary frames are outputs, not previews: no test preview while it runs.
_WS_SAVE = "SaveImageWebsocket"


class Hub(Protocol):
    def send_threadsafe(self, sid: str | None, kind: str, data: dict[str, Any]) -> None: ...

    def send_bytes_threadsafe(self, sid: str, payload: bytes) -> None: ...

    def send(self, sid: str | None, kind: str, data: dict[str, Any]) -> None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class QueueItem:
    number: int
    prompt_id: str
    graph: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]

    @property
    def client_id(self) -> str | None:
        value = self.extra_data.get("client_id")
        return str(value) if value else None

    def as_list(self) -> list[Any]:
        return [self.number, self.prompt_id, self.graph, self.extra_data, self.outputs]


class _NodeFailure(Exception):
    def __init__(self, node_id: str, exc: Exception, inputs: dict[str, Any]) -> None:
        super().__init__(str(exc))
        self.node_id = node_id
        self.exc = exc
        self.inputs = inputs


def _format_value(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | bool | str) else str(value)


@dataclass
class _Run:
    """One prompt's execution state (lives on the worker thread)."""

    item: QueueItem
    emit: Callable[[str, dict[str, Any]], None]
    values: dict[str, NodeResult] = field(default_factory=dict)
    outputs_ui: dict[str, Any] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[list[Any]] = field(default_factory=list)

    def record(self, kind: str, data: dict[str, Any]) -> None:
        self.messages.append([kind, data])
        self.emit(kind, data)

    def state(self, node_id: str, value: float, maximum: float, state: str) -> None:
        pid = self.item.prompt_id
        self.states[node_id] = {
            "value": value,
            "max": maximum,
            "state": state,
            "node_id": node_id,
            "prompt_id": pid,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }
        self.emit("progress_state", {"prompt_id": pid, "nodes": copy.deepcopy(self.states)})


class Engine:
    def __init__(
        self,
        folders: Folders,
        hub: Hub,
        *,
        node_delay: float = 0.0,
        extra_messages: bool = False,
        preview_size: int = 0,
        preview_every_node: bool = False,
        max_preview_size: int = 512,
    ) -> None:
        self.folders = folders
        self.hub = hub
        self.node_delay = node_delay
        self.extra_messages = extra_messages
        self.preview_size = preview_size  # 0: no sampler previews (ComfyUI's default)
        self.preview_every_node = preview_every_node  # a test aid: one preview as each node starts
        self.max_preview_size = max_preview_size  # every preview is scaled to fit this square
        self.pending: list[QueueItem] = []
        self.running: QueueItem | None = None
        self.history: dict[str, dict[str, Any]] = {}
        self.last_node_id: str | None = None
        self.interrupt_flag = threading.Event()
        self._cache: dict[str, NodeResult] = {}
        self._number = 0
        self._wake = asyncio.Event()

    # ------------------------------------------------------------ queue (event-loop thread)

    def submit(
        self,
        graph: dict[str, Any],
        prompt_id: str,
        extra_data: dict[str, Any],
        outputs: list[str],
        *,
        front: bool = False,
    ) -> int:
        number = self._number
        self._number += 1
        item = QueueItem(-number if front else number, prompt_id, graph, extra_data, outputs)
        self.pending.append(item)
        self.pending.sort(key=lambda i: i.number)
        self._wake.set()
        self.broadcast_status()
        return number

    def delete(self, prompt_ids: list[str]) -> None:
        self.pending = [i for i in self.pending if i.prompt_id not in prompt_ids]
        self.broadcast_status()

    def interrupt(self, prompt_id: str | None) -> None:
        if prompt_id is None or (self.running and self.running.prompt_id == prompt_id):
            self.interrupt_flag.set()

    def queue_remaining(self) -> int:
        return len(self.pending) + (1 if self.running else 0)

    def broadcast_status(self) -> None:
        self.hub.send(
            None, "status", {"status": {"exec_info": {"queue_remaining": self.queue_remaining()}}}
        )

    async def worker(self) -> None:
        while True:
            while not self.pending:
                self._wake.clear()
                await self._wake.wait()
            item = self.pending.pop(0)
            self.running = item
            self.interrupt_flag.clear()
            self.broadcast_status()
            started = time.perf_counter()
            try:
                entry = await asyncio.to_thread(self._execute, item)
            except Exception as exc:  # a stand-in bug must not stall the queue
                entry = {
                    "prompt": item.as_list(),
                    "outputs": {},
                    "status": {"status_str": "error", "completed": False, "messages": []},
                    "meta": {},
                }
                traceback.print_exception(exc)
            # History is written before the prompt leaves the running list (one step, as in
            # ComfyUI's task_done). After execution_success/error/interrupted come the `status`
            # broadcast, then the final `executing` with `node: null` (no display_node).
            self.history[item.prompt_id] = entry
            console.prompt_executed(time.perf_counter() - started)  # in ComfyUI: after task_done
            self.running = None
            self.last_node_id = None
            self.broadcast_status()
            if item.client_id:
                self.hub.send(
                    item.client_id, "executing", {"node": None, "prompt_id": item.prompt_id}
                )

    # ------------------------------------------------------------ execution (worker thread)

    def _execute(self, item: QueueItem) -> dict[str, Any]:
        cid = item.client_id

        def emit(kind: str, data: dict[str, Any]) -> None:
            if cid:
                self.hub.send_threadsafe(cid, kind, data)

        run = _Run(item, emit)
        pid = item.prompt_id
        run.record("execution_start", {"prompt_id": pid, "timestamp": now_ms()})
        memo: dict[str, str] = {}
        cached = [
            n
            for n in item.graph
            if self._signature(item.graph, n, memo) in self._cache
            and not NODES[item.graph[n]["class_type"]].not_idempotent
        ]
        run.record("execution_cached", {"nodes": cached, "prompt_id": pid, "timestamp": now_ms()})
        status = "success"
        try:
            for output in item.outputs:
                self._run_node(run, output, memo)
            run.record("execution_success", {"prompt_id": pid, "timestamp": now_ms()})
        except InterruptedByUser:
            status = "error"
            console.interrupted()
            node_id = self.last_node_id or ""
            run.record(
                "execution_interrupted",
                {
                    "prompt_id": pid,
                    "node_id": node_id,
                    "node_type": item.graph.get(node_id, {}).get("class_type", ""),
                    "executed": list(run.executed),
                    "timestamp": now_ms(),
                },
            )
        except _NodeFailure as failure:
            status = "error"
            console.exception(failure.exc)
            run.record("execution_error", self._error_message(run, failure))
        return {
            "prompt": item.as_list(),
            "outputs": run.outputs_ui,
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": run.messages,
            },
            "meta": {
                node_id: {
                    "node_id": node_id,
                    "display_node": node_id,
                    "parent_node": None,
                    "real_node_id": node_id,
                }
                for node_id in run.outputs_ui
            },
        }

    def _error_message(self, run: _Run, failure: _NodeFailure) -> dict[str, Any]:
        exc = failure.exc
        module = type(exc).__module__
        name = type(exc).__qualname__
        return {
            "prompt_id": run.item.prompt_id,
            "node_id": failure.node_id,
            "node_type": run.item.graph[failure.node_id]["class_type"],
            "executed": list(run.executed),
            "exception_message": str(exc),
            "exception_type": name if module == "builtins" else f"{module}.{name}",
            "traceback": traceback.format_tb(exc.__traceback__),
            "current_inputs": {k: [_format_value(v)] for k, v in failure.inputs.items()},
            "current_outputs": {},
            "timestamp": now_ms(),
        }

    def _signature(self, graph: dict[str, Any], node_id: str, memo: dict[str, str]) -> str:
        if node_id in memo:
            return memo[node_id]
        memo[node_id] = ""  # cycle guard
        node = graph[node_id]
        spec = NODES[node["class_type"]]
        parts: dict[str, Any] = {}
        for name, value in sorted((node.get("inputs") or {}).items()):
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in graph:
                parts[name] = ["link", self._signature(graph, str(value[0]), memo), value[1]]
            else:
                parts[name] = value
        extra = spec.fingerprint(self.folders, node.get("inputs") or {}) if spec.fingerprint else ""
        memo[node_id] = json.dumps([node["class_type"], parts, extra], sort_keys=True, default=str)
        return memo[node_id]

    def _check_interrupt(self) -> None:
        if self.interrupt_flag.is_set():
            self.interrupt_flag.clear()
            raise InterruptedByUser()

    def _run_node(self, run: _Run, node_id: str, memo: dict[str, str]) -> None:
        if node_id in run.values:
            return
        graph = run.item.graph
        pid = run.item.prompt_id
        node = graph[node_id]
        spec = NODES[node["class_type"]]
        signature = self._signature(graph, node_id, memo)
        if signature in self._cache and not spec.not_idempotent:
            # A cached output node replays its old UI (the old file names) in `executed`,
            # followed by a progress_state marking it finished.
            result = run.values[node_id] = self._cache[signature]
            if result.ui:
                run.outputs_ui[node_id] = result.ui
                run.emit(
                    "executed",
                    {
                        "node": node_id,
                        "display_node": node_id,
                        "output": result.ui,
                        "prompt_id": pid,
                    },
                )
                run.state(node_id, 1.0, 1.0, "finished")
            return
        raw = node.get("inputs") or {}
        for value in raw.values():
            if isinstance(value, list) and len(value) == 2:
                self._run_node(run, str(value[0]), memo)
        self.last_node_id = node_id
        run.state(node_id, 0.0, 1.0, "running")
        run.emit("executing", {"node": node_id, "display_node": node_id, "prompt_id": pid})
        if self.preview_every_node and run.item.client_id and spec.class_type != _WS_SAVE:
            noise = FloatImage.filled(1, 1, (128, 128, 128))
            frame = preview_frame(noise, self.preview_size or 64, 0.5, self.max_preview_size)
            self.hub.send_bytes_threadsafe(run.item.client_id, frame)
        # As in ComfyUI, the check before a node runs reports the interrupt at that node.
        self._check_interrupt()
        inputs: dict[str, Any] = {}
        for name, value in raw.items():
            if isinstance(value, list) and len(value) == 2:
                inputs[name] = run.values[str(value[0])].values[value[1]]
            elif name in spec.required or name in spec.optional:
                inputs[name] = convert_value(spec.required.get(name) or spec.optional[name], value)

        def progress(value: int, maximum: int) -> None:
            self._check_interrupt()
            run.emit(
                "progress", {"value": value, "max": maximum, "prompt_id": pid, "node": node_id}
            )
            run.state(node_id, float(value), float(maximum), "running")
            if self.extra_messages and run.item.client_id:
                # A binary preview frame: event type 1 (PREVIEW_IMAGE), format 2 (PNG).
                header = (1).to_bytes(4, "big") + (2).to_bytes(4, "big")
                self.hub.send_bytes_threadsafe(run.item.client_id, header + _TINY_PNG)
                run.emit("crystools.monitor", {"cpu_utilization": 12.5, "gpus": []})

        def send_bytes(payload: bytes) -> None:
            if run.item.client_id:
                self.hub.send_bytes_threadsafe(run.item.client_id, payload)

        def preview(image: FloatImage, step: int, total: int) -> None:
            if self.preview_size > 0 and run.item.client_id:
                # Like a sampler, never the finished picture: that is the node's output.
                done = step / (total + 1)
                frame = preview_frame(image, self.preview_size, done, self.max_preview_size)
                self.hub.send_bytes_threadsafe(run.item.client_id, frame)

        try:
            context = NodeContext(self.folders, self.node_delay, progress, send_bytes, preview)
            result = spec.run(context, inputs)
        except InterruptedByUser:
            raise
        except Exception as exc:
            raise _NodeFailure(node_id, exc, inputs) from exc
        self._cache[signature] = run.values[node_id] = result
        run.executed.append(node_id)
        if result.ui:
            run.outputs_ui[node_id] = result.ui
            run.emit(
                "executed",
                {"node": node_id, "display_node": node_id, "output": result.ui, "prompt_id": pid},
            )
        run.state(node_id, 1.0, 1.0, "finished")
