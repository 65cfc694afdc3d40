"""``ComfyUIRuntime``: run an assigned ComfyUI workflow on a ComfyUI server next to the agent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from runyard_agent.runtimes.base import (
    Health,
    ProducedOutput,
    ProgressReport,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.comfyui.client import HTTP_ERRORS, ComfyUIClient, Submitted, new_ids
from runyard_agent.runtimes.comfyui.console import PromptLog
from runyard_agent.runtimes.comfyui.errors import (
    CONNECTION_LOST,
    UNREACHABLE,
    VALIDATION_FAILED,
    render_skipped_outputs,
)
from runyard_agent.runtimes.comfyui.files import ComfyUIFiles, mark_run
from runyard_agent.runtimes.comfyui.graph import (
    OutputFile,
    allow_partial_outputs,
    apply_parameters,
    content_type_for,
    load_graph,
)
from runyard_agent.runtimes.comfyui.models import MODEL_UNAVAILABLE, ModelCache, declared_models
from runyard_agent.runtimes.comfyui.session import PromptSession
from runyard_agent.runtimes.comfyui.supervisor import ComfyUISupervisor, restarted_since
from runyard_protocol import AssignedWorkflow

log = logging.getLogger(__name__)

_CANCEL_POLL = 0.1
_LISTING_ERRORS: tuple[type[Exception], ...] = (*HTTP_ERRORS, ValueError)


class ComfyUIRuntime:
    """Runs ``comfyui`` workflows: uploads inputs, binds parameters, submits the API-format
    graph, follows it over the WebSocket and downloads what its output nodes saved.

    ``reconnect_wait`` bounds how long a run waits for an unreachable ComfyUI after its socket
    dropped; ``poll_interval`` is the pause between attempts. With ``files_dir`` (ComfyUI's base
    directory, on this machine) and not ``keep_files``, each task's uploads and collected outputs
    are removed from ComfyUI's folders once its outcome is final (see ``files``).
    """

    tool_type = "comfyui"

    def __init__(
        self,
        comfyui_url: str,
        *,
        http_timeout: float = 30.0,
        reconnect_wait: float = 60.0,
        poll_interval: float = 1.0,
        files_dir: Path | None = None,
        keep_files: bool = False,
        capabilities_refresh: float = 60.0,
        supervisor: ComfyUISupervisor | None = None,
        interrupt_grace: float = 3.0,
        crash_retries: int = 2,
        restart_wait: float = 300.0,
        model_cache: ModelCache | None = None,
    ) -> None:
        self.comfyui_url = comfyui_url.rstrip("/")
        self.files = ComfyUIFiles(files_dir) if files_dir is not None and not keep_files else None
        self.reconnect_wait = reconnect_wait
        self.poll_interval = poll_interval
        self._client = ComfyUIClient(self.comfyui_url, timeout=http_timeout)
        self.capabilities_refresh = capabilities_refresh
        self._capabilities: dict[str, Any] = {}
        self._capabilities_at: float | None = None
        # Supervised: a prompt lost to a ComfyUI restart runs again (crash_retries times), and an
        # interrupt that does not land within interrupt_grace restarts ComfyUI (hard cancel).
        self.supervisor = supervisor
        self.interrupt_grace = interrupt_grace
        self.crash_retries = crash_retries
        self.restart_wait = restart_wait
        self.model_cache = model_cache

    async def run(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        sup = self.supervisor
        retries = 0
        while True:
            if sup is not None and not await sup.wait_ready(self.restart_wait):
                raise TaskFailedError(
                    f"the supervised ComfyUI at {self.comfyui_url} did not come up within "
                    f"{self.restart_wait:g}s",
                    UNREACHABLE,
                )
            generation = sup.generation if sup is not None else 0
            try:
                return await self._run_once(workflow, ctx)
            except TaskFailedError as exc:
                lost = exc.code in (CONNECTION_LOST, UNREACHABLE)
                if sup is None or not lost or retries >= self.crash_retries or ctx.cancelled:
                    raise
                if not await restarted_since(sup, generation, self.restart_wait):
                    raise
                retries += 1
                log.warning(
                    "task %s: ComfyUI restarted while it ran (%s); running it again (%d/%d)",
                    ctx.task_id,
                    exc,
                    retries,
                    self.crash_retries,
                )
                ctx.report(ProgressReport(0.0, message="ComfyUI restarted; running again"))

    async def _run_once(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        graph = load_graph(workflow.workflow_json)
        partial_ok = allow_partial_outputs(workflow.workflow_json)
        client_id, prompt_id = new_ids()
        # POST /prompt runs shielded: a cancel that lands mid-request waits for ComfyUI's answer,
        # so the prompt it may have queued is known and can be stopped.
        submit: asyncio.Task[Submitted] | None = None

        subfolder = ""
        if self.files is not None:
            folders = self.files
            subfolder = folders.upload_subfolder(ctx.task_id, ctx.attempt)
            ctx.cleanup.append(lambda: folders.remove_inputs(subfolder))
            mark_run(graph, f"{ctx.task_id}/{ctx.attempt}")

        models = declared_models(workflow.workflow_json)
        if models and self.model_cache is None:
            raise TaskFailedError(
                "the workflow declares models, but this agent cannot place them: start it with "
                "--comfyui-dir",
                MODEL_UNAVAILABLE,
            )

        async def work() -> list[ProducedOutput]:
            nonlocal submit
            if self.model_cache is not None:
                await self.model_cache.ensure(
                    models, lambda message: ctx.report(ProgressReport(0.0, message=message))
                )
            uploaded: dict[str, str] = {}
            for key, path in ctx.input_files.items():
                name = ctx.input_names.get(key) or path.name
                content_type = ctx.input_types.get(key) or content_type_for(name)
                uploaded[key] = await self._client.upload(path, name, content_type, subfolder)
            apply_parameters(graph, workflow.parameters, ctx.parameters, uploaded)
            console = PromptLog(self.supervisor.console if self.supervisor else None, ctx.log)
            session = PromptSession(
                self._client,
                graph,
                ctx,
                client_id=client_id,
                prompt_id=prompt_id,
                reconnect_wait=self.reconnect_wait,
                poll_interval=self.poll_interval,
                on_start=console.started,
            )
            await session.open()
            try:
                submit = asyncio.create_task(self._client.submit(graph, client_id, prompt_id))
                submitted = await asyncio.shield(submit)
                session.prompt_id = submitted.prompt_id
                if submitted.node_errors:
                    await self._partial(submitted, submit, partial_ok, ctx, session)
                files = await session.outputs()
            finally:
                await console.finish(0.0 if ctx.cancelled else 2.0)  # its end line, if due
                await session.close()
            ctx.values.update(session.values)
            if self.files is not None:
                remove = self.files.remove_outputs
                ctx.cleanup.append(lambda: remove(files))
            produced = await self._download(files, ctx)
            return produced + await asyncio.to_thread(session.write_sent_images, ctx)

        if ctx.cancelled:
            raise TaskCancelledError("cancelled before ComfyUI was asked")
        task = asyncio.create_task(_translated(work(), self.comfyui_url))
        watcher = asyncio.create_task(_wait_for(ctx.cancel_event))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The executor gave up waiting: stop ComfyUI's work too, then stay cancelled.
            await _stop(task)
            await asyncio.shield(self._abort(submit))
            raise
        finally:
            watcher.cancel()
        if task.done():
            return task.result()
        await _stop(task)
        await self._abort(submit)
        await self._hard_stop(submit)
        raise TaskCancelledError("cancelled")

    async def _hard_stop(self, submit: asyncio.Task[Submitted] | None) -> None:
        """Supervised: restart ComfyUI when our interrupted prompt still runs after the grace
        (a long node without progress reports); the prompts of other tasks run again."""
        sup = self.supervisor
        if sup is None or submit is None or not submit.done() or submit.exception() is not None:
            return
        prompt_id = submit.result().prompt_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.interrupt_grace
        try:
            while await self._client.queue_position(prompt_id) == "running":
                if loop.time() >= deadline:
                    await sup.restart()
                    return
                await asyncio.sleep(min(0.1, self.interrupt_grace))
        except HTTP_ERRORS as exc:
            log.warning("could not check that the prompt stopped: %s", exc)

    async def _download(self, files: list[OutputFile], ctx: TaskContext) -> list[ProducedOutput]:
        produced = []
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        for ref in files:
            destination = ctx.output_dir / ref.local_name
            await self._client.download(ref, destination)
            produced.append(
                ProducedOutput(
                    output_id=ref.output_id,
                    path=destination,
                    content_type=content_type_for(ref.filename),
                    file_name=ref.filename,
                )
            )
        return produced

    async def _partial(
        self,
        submitted: Submitted,
        submit: asyncio.Task[Submitted],
        partial_ok: bool,
        ctx: TaskContext,
        session: PromptSession,
    ) -> None:
        """ComfyUI accepted the prompt but will skip the outputs that failed validation: never a
        silent partial result. Fail (and stop the rest) unless the workflow allows it. The outputs
        that ran meanwhile (on an idle ComfyUI, often all of them) are removed with the task's
        other files."""
        message = render_skipped_outputs(submitted.node_errors)
        if not partial_ok:
            if await self._abort(submit) and self.files is not None:
                leftovers = await session.leftovers(self.interrupt_grace)
                remove = self.files.remove_outputs
                ctx.cleanup.append(lambda: remove(leftovers))
            raise TaskFailedError(message, VALIDATION_FAILED)
        log.warning("task %s: %s", ctx.task_id, message)
        ctx.report(ProgressReport(0.0, message=message[:1000]))
        ctx.values["skipped_outputs"] = message

    async def _abort(self, submit: asyncio.Task[Submitted] | None) -> bool:
        """Interrupt our prompt if it runs, delete it if it waits; best effort. False when
        nothing of it ran (ComfyUI refused it, or it was deleted while it waited)."""
        if submit is None:
            return False  # nothing reached ComfyUI
        deleted = False
        try:
            async with asyncio.timeout(self._client.timeout):
                prompt_id = (await asyncio.shield(submit)).prompt_id
                for _ in range(3):
                    position = await self._client.queue_position(prompt_id)
                    if position == "running":
                        await self._client.interrupt(prompt_id)
                        return True
                    if position is None:
                        # Finished already, or gone by our delete; a delete that came after
                        # ComfyUI took the prompt did nothing, and the prompt is in its history.
                        if not deleted:
                            return True
                        return await self._client.history_entry(prompt_id) is not None
                    await self._client.delete_pending(prompt_id)
                    deleted = True
                    # Re-check: it may have started between the two calls.
        except TaskFailedError:
            return False  # ComfyUI refused the prompt: nothing runs
        except Exception as exc:  # best effort: the task is reported cancelled regardless
            log.warning("could not stop the ComfyUI prompt: %s", exc)
        return True

    async def health(self) -> Health:
        sup = self.supervisor
        if sup is not None:
            sup.start()  # first health check: the agent is running, start ComfyUI
            if not sup.ready.is_set():
                return Health(
                    False, detail=f"the supervised ComfyUI at {self.comfyui_url} is starting"
                )
        try:
            stats = await self._client.system_stats()
        except TaskFailedError as exc:
            return Health(False, detail=str(exc))
        except HTTP_ERRORS as exc:
            return Health(False, detail=f"ComfyUI at {self.comfyui_url} is unreachable: {exc}")
        except ValueError as exc:
            return Health(False, detail=f"ComfyUI at {self.comfyui_url} sent bad stats: {exc}")
        system = stats.get("system") if isinstance(stats.get("system"), dict) else {}
        devices = stats.get("devices") if isinstance(stats.get("devices"), list) else []
        assert isinstance(system, dict) and isinstance(devices, list)
        info: dict[str, Any] = {
            key: system.get(key)
            for key in (
                "comfyui_version",
                "python_version",
                "pytorch_version",
                "ram_total",
                "ram_free",
            )
        }
        info["devices"] = [
            {key: device.get(key) for key in ("name", "type", "vram_total", "vram_free")}
            for device in devices
            if isinstance(device, dict)
        ]
        info.update(await self._capabilities_now())
        return Health(True, system_info=info)

    async def _capabilities_now(self) -> dict[str, Any]:
        """Node classes and model files for the server's pre-flight, at most once per
        ``capabilities_refresh`` seconds (``/object_info`` is megabytes on a real ComfyUI)."""
        now = asyncio.get_running_loop().time()
        if self._capabilities_at is None or now - self._capabilities_at >= (
            self.capabilities_refresh
        ):
            try:
                self._capabilities = {
                    "node_classes": await self._client.node_classes(),
                    "models": await self._client.model_files(),
                }
                if self.model_cache is not None:
                    hashes = await asyncio.to_thread(self.model_cache.known_hashes)
                    self._capabilities["model_sha256"] = hashes
                self._capabilities_at = now
            except _LISTING_ERRORS as exc:
                log.warning("could not list ComfyUI's node classes and models: %s", exc)
        return self._capabilities

    async def reload(self) -> bool:
        """Restart the supervised ComfyUI (it imports custom nodes only at start); the next
        health check reads ``/object_info`` again. False when ComfyUI is not supervised."""
        self._capabilities_at = None
        if self.supervisor is None:
            return False
        if self.supervisor.started:
            await self.supervisor.restart()
        return True

    async def close(self) -> None:
        await self._client.close()
        if self.supervisor is not None:
            await self.supervisor.stop()


async def _translated(work: Any, url: str) -> list[ProducedOutput]:
    """Connection failures outside the socket-recovery path become ``comfyui_unreachable``."""
    try:
        result: list[ProducedOutput] = await work
    except HTTP_ERRORS as exc:
        raise TaskFailedError(f"cannot reach ComfyUI at {url}: {exc}", UNREACHABLE) from exc
    return result


async def _wait_for(event: threading.Event) -> None:
    # A threading.Event cannot be awaited; polling keeps no thread parked on it.
    while not event.is_set():
        await asyncio.sleep(_CANCEL_POLL)


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
