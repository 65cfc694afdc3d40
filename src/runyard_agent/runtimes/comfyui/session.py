"""Following one submitted prompt over the socket until it succeeds, fails or is interrupted.

Only messages whose ``prompt_id`` is ours count; unknown types are ignored. Binary frames are
SaveImageWebsocket's images or live previews (handed to ``ctx.preview`` when it is set). If the
socket drops, the session asks ``/history`` and ``/queue`` what became of the prompt and
reconnects with the same client id. It gives up (``comfyui_connection_lost``) when ComfyUI stays
unreachable for ``reconnect_wait`` seconds or no longer knows the prompt.

ComfyUI sends nothing when a waiting prompt is deleted from its queue (``POST /queue
{"delete": [...]}``, the queue panel's ✕): after ``poll_interval`` seconds without a message about
the prompt the session asks ``/queue`` and ``/history``, and a prompt in neither was removed in
ComfyUI; the run ends cancelled, as an interrupt from ComfyUI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from runyard_agent.runtimes.base import (
    PreviewImage,
    ProducedOutput,
    ProgressReport,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.comfyui.client import HTTP_ERRORS, TRANSPORT_ERRORS, ComfyUIClient
from runyard_agent.runtimes.comfyui.errors import (
    CONNECTION_LOST,
    EXECUTION_ERROR,
    UNREACHABLE,
    render_execution_error,
    render_interrupted,
)
from runyard_agent.runtimes.comfyui.graph import (
    Graph,
    OutputFile,
    collect_outputs,
    collect_values,
)
from runyard_agent.runtimes.comfyui.progress import ProgressTracker

log = logging.getLogger(__name__)

# What a best-effort look at ComfyUI's queue or history may run into.
_CHECK_ERRORS: tuple[type[Exception], ...] = (*HTTP_ERRORS, ValueError, TaskFailedError)

# Binary frame image formats (ComfyUI's server.py, send_image: 1 JPEG, 2 PNG).
_PREVIEW_FORMATS = {1: "image/jpeg", 2: "image/png"}


_IMAGE_FORMATS = {1: ("jpg", "image/jpeg"), 2: ("png", "image/png"), 3: ("webp", "image/webp")}
_UNKNOWN_FORMAT = ("bin", "application/octet-stream")


class PromptSession:
    def __init__(
        self,
        client: ComfyUIClient,
        graph: Graph,
        ctx: TaskContext,
        *,
        client_id: str,
        prompt_id: str,
        reconnect_wait: float,
        poll_interval: float,
        on_start: Callable[[object], None] | None = None,
    ) -> None:
        self.client = client
        self.graph_order = list(graph)
        self.ctx = ctx
        self.client_id = client_id
        self.prompt_id = prompt_id
        self.reconnect_wait = reconnect_wait
        self.poll_interval = poll_interval
        self.on_start = on_start  # called with execution_start's timestamp (ms)
        self.tracker = ProgressTracker(graph)
        self.classes = {node_id: str(node.get("class_type")) for node_id, node in graph.items()}
        self.values: dict[str, Any] = {}
        # Images SaveImageWebsocket sent as binary frames: (node id, format number, bytes).
        self.sent_images: list[tuple[str, int, bytes]] = []
        self._current: str | None = None
        self._executed: list[Mapping[str, Any]] = []
        self._last_report: ProgressReport | None = None
        self._ws: ClientConnection | None = None
        self._lost_since: float | None = None
        self._heard: float | None = None  # loop time of the last message about the prompt
        self._quiet = False  # following a prompt we stopped: no progress, no previews

    async def open(self) -> None:
        """Connect before submitting: events for a prompt go only to its client's socket."""
        try:
            self._ws = await self.client.connect(self.client_id)
        except TRANSPORT_ERRORS as exc:
            raise TaskFailedError(
                f"cannot open ComfyUI's WebSocket at {self.client.base_url}: {exc}", UNREACHABLE
            ) from exc

    async def close(self) -> None:
        """Close the socket, reading what ComfyUI still sends meanwhile. The client stops reading
        from the network once 16 messages lie unread (a prompt stopped early leaves more), and
        would then never see ComfyUI's answer to the close: 10 s lost to the close timeout."""
        ws, self._ws = self._ws, None
        if ws is None:
            return

        async def drain() -> None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await ws.recv()

        drainer = asyncio.create_task(drain())
        try:
            await ws.close()
        finally:
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await drainer

    async def outputs(self) -> list[OutputFile]:
        """Follow the prompt to its end; the files it produced, in graph order."""
        loop = asyncio.get_running_loop()
        self._heard = loop.time()
        while True:
            assert self._ws is not None
            try:
                async with asyncio.timeout(self.poll_interval):
                    raw = await self._ws.recv()  # cancelling recv loses no message
            except TimeoutError:
                raw = None
            except ConnectionClosed as exc:
                log.warning("ComfyUI socket closed while prompt %s ran: %s", self.prompt_id, exc)
                finished = await self._recover()
                if finished is not None:
                    return finished
                continue
            self._lost_since = None
            message = _decode(raw) if isinstance(raw, str) else None
            if isinstance(raw, bytes):
                self._binary(raw)
            elif message is not None and str(message[1].get("prompt_id") or "") == self.prompt_id:
                self._heard = loop.time()
                if self._handle(*message):
                    return await self._after_success()
            if loop.time() - self._heard >= self.poll_interval:
                self._heard = loop.time()
                finished = await self._still_queued()
                if finished is not None:
                    return finished

    async def _still_queued(self) -> list[OutputFile] | None:
        """ComfyUI said nothing about the prompt for a while: is it still queued or running?
        The outputs if it finished unseen; cancelled if ComfyUI no longer has it (deleted from
        its queue: ComfyUI sends nothing then). An unanswered check changes nothing."""
        try:
            if await self.client.queue_position(self.prompt_id) is not None:
                return None
            # Queue checked before history: a prompt that finished in between is there now.
            entry = await self.client.history_entry(self.prompt_id)
        except _CHECK_ERRORS as exc:
            log.warning("could not check ComfyUI's queue for prompt %s: %s", self.prompt_id, exc)
            return None
        if entry is not None:
            return self._from_history(entry)
        log.warning("prompt %s was removed from ComfyUI's queue", self.prompt_id)
        raise TaskCancelledError(
            f"the prompt was removed in ComfyUI: prompt {self.prompt_id} left ComfyUI's queue "
            "without running (deleted from the queue, e.g. in ComfyUI's queue panel)"
        )

    async def leftovers(self, limit: float) -> list[OutputFile]:
        """After the prompt was stopped early: follow it to its end (``limit`` seconds at most)
        and return the files it saved anyway, so that they can be removed. Best effort."""
        self._quiet = True
        try:
            async with asyncio.timeout(limit):
                return await self.outputs()
        except TaskCancelledError as exc:
            log.debug("stopped prompt %s ended: %s", self.prompt_id, exc)
        except _CHECK_ERRORS as exc:
            log.debug("stopped prompt %s ended: %s", self.prompt_id, exc)
        except TimeoutError:
            log.warning(
                "prompt %s still ran %gs after it was stopped; files it saves later stay in "
                "ComfyUI's folders",
                self.prompt_id,
                limit,
            )
        history: Any = None
        with contextlib.suppress(*_CHECK_ERRORS):
            entry = await self.client.history_entry(self.prompt_id)
            history = entry.get("outputs") if entry else None
        return collect_outputs(
            self.graph_order, *self._executed, history if isinstance(history, Mapping) else {}
        )

    def _handle(self, kind: str, data: Mapping[str, Any]) -> bool:
        """Apply one message; True when the prompt finished successfully."""
        if kind == "execution_start":
            if self.on_start is not None:
                self.on_start(data.get("timestamp"))
        elif kind == "execution_cached":
            nodes = data.get("nodes")
            self._report(self.tracker.cached(nodes if isinstance(nodes, list) else []))
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                return True  # the end marker (older servers send no execution_success)
            self._current = str(node)
            self._report(self.tracker.executing(str(node)))
        elif kind == "progress":
            node = data.get("node")
            value, maximum = data.get("value"), data.get("max")
            if (
                node is not None
                and isinstance(value, int | float)
                and isinstance(maximum, int | float)
            ):
                self._report(self.tracker.step(str(node), value, maximum))
        elif kind == "progress_state":
            nodes = data.get("nodes")
            if isinstance(nodes, Mapping):
                self._report(self.tracker.node_states(nodes))
        elif kind == "executed":
            output = data.get("output")
            if data.get("node") is not None and isinstance(output, Mapping):
                self._executed.append({str(data["node"]): output})
        elif kind == "execution_success":
            return True
        elif kind == "execution_error":
            raise TaskFailedError(render_execution_error(data), EXECUTION_ERROR)
        elif kind == "execution_interrupted":
            raise TaskCancelledError(render_interrupted(data))
        return False

    def _binary(self, raw: bytes) -> None:
        """A binary frame: an image SaveImageWebsocket sends (kept as that node's output), else
        a live preview for ``ctx.preview``. Header: event type (1 PREVIEW_IMAGE), image format
        (big-endian uint32 each). ComfyUI sends frames to the prompt's client only, so a frame
        while our prompt runs is ours."""
        if len(raw) < 8 or self._current is None:
            return
        event, image_format = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")
        if event != 1:
            return
        if self.classes.get(self._current) == "SaveImageWebsocket":
            self.sent_images.append((self._current, image_format, raw[8:]))
        elif self.ctx.preview is not None and not self._quiet:
            content_type = _PREVIEW_FORMATS.get(image_format)
            if content_type is not None:
                self.ctx.preview(PreviewImage(content_type, raw[8:], self._current))

    def _report(self, report: ProgressReport) -> None:
        if report != self._last_report and not self._quiet:
            self._last_report = report
            self.ctx.report(report)

    async def _after_success(self) -> list[OutputFile]:
        if self._quiet:
            # Only the files to remove are wanted: `executed` named each one already.
            return collect_outputs(self.graph_order, *self._executed)
        # execution_success can arrive a moment before ComfyUI writes the history entry.
        entry = await self.client.history_entry(self.prompt_id)
        for _ in range(20):
            if entry is not None:
                break
            await asyncio.sleep(0.1)
            entry = await self.client.history_entry(self.prompt_id)
        self._report(self.tracker.finished())
        return self._collect(entry)

    def _collect(self, entry: Mapping[str, Any] | None) -> list[OutputFile]:
        history = entry.get("outputs") if entry else None
        sources = (*self._executed, history if isinstance(history, Mapping) else {})
        self.values = collect_values(self.graph_order, *sources)
        return collect_outputs(self.graph_order, *sources)

    def _from_history(self, entry: Mapping[str, Any]) -> list[OutputFile]:
        status = entry.get("status")
        if isinstance(status, Mapping) and status.get("status_str") == "error":
            messages = status.get("messages")
            for item in messages if isinstance(messages, list) else []:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], Mapping)):
                    continue
                if item[0] == "execution_error":
                    raise TaskFailedError(render_execution_error(item[1]), EXECUTION_ERROR)
                if item[0] == "execution_interrupted":
                    raise TaskCancelledError(render_interrupted(item[1]))
            raise TaskFailedError(
                f"ComfyUI reports prompt {self.prompt_id} failed", EXECUTION_ERROR
            )
        self._report(self.tracker.finished())
        return self._collect(entry)

    async def _recover(self) -> list[OutputFile] | None:
        """After a drop: the outputs if the prompt ended meanwhile, else None once reconnected."""
        await self.close()
        loop = asyncio.get_running_loop()
        if self._lost_since is None:
            self._lost_since = loop.time()
        problem = "the socket closed"
        while True:
            try:
                entry = await self.client.history_entry(self.prompt_id)
                if entry is not None:
                    return self._from_history(entry)
                position = await self.client.queue_position(self.prompt_id)
                if position is None:
                    # Queue checked after history: a prompt that finished in between is there now.
                    entry = await self.client.history_entry(self.prompt_id)
                    if entry is not None:
                        return self._from_history(entry)
                    raise TaskFailedError(
                        f"ComfyUI no longer knows prompt {self.prompt_id} "
                        "(was it restarted or the prompt deleted?)",
                        CONNECTION_LOST,
                    )
                # ComfyUI answers and still has the prompt: waiting is safe, whatever the socket.
                self._lost_since = loop.time()
                self._ws = await self.client.connect(self.client_id)
                entry = await self.client.history_entry(self.prompt_id)
                return self._from_history(entry) if entry is not None else None
            except HTTP_ERRORS as exc:
                problem = str(exc) or type(exc).__name__
            if loop.time() - self._lost_since >= self.reconnect_wait:
                raise TaskFailedError(
                    f"lost the connection to ComfyUI at {self.client.base_url} while prompt "
                    f"{self.prompt_id} ran, and it did not come back within "
                    f"{self.reconnect_wait:g}s: {problem}",
                    CONNECTION_LOST,
                )
            await asyncio.sleep(self.poll_interval)

    def write_sent_images(self, ctx: TaskContext) -> list[ProducedOutput]:
        """SaveImageWebsocket's images (binary frames, no files in ComfyUI) as outputs
        ``node.images.index``, after the files, in the order they arrived."""
        produced = []
        counts: dict[str, int] = {}
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        for node_id, image_format, data in self.sent_images:
            index = counts.get(node_id, 0)
            counts[node_id] = index + 1
            ext, content_type = _IMAGE_FORMATS.get(image_format, _UNKNOWN_FORMAT)
            name = f"websocket_{node_id}_{index:05}.{ext}"
            path = ctx.output_dir / f"{node_id}.images.{index}-{name}"
            path.write_bytes(data)
            produced.append(ProducedOutput(f"{node_id}.images.{index}", path, content_type, name))
        return produced


def _decode(raw: str) -> tuple[str, Mapping[str, Any]] | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    data = message.get("data")
    return (message["type"], data) if isinstance(data, dict) else None
