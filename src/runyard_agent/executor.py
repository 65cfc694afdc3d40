"""Runs assigned tasks: download inputs, run the runtime, upload outputs, report the outcome.

Each accepted ``TaskAssign`` becomes one ``asyncio.Task`` working in
``<work_dir>/<task>-<attempt>/`` (deleted at the end, whatever happens). The executor never
touches the socket: it talks to the server through a ``ServerLink`` (the connection), so tests
can drive it with a fake.

Every task ends with exactly one frame, or none when the server no longer wants to hear of it:
``TaskComplete``; ``TaskFail`` (code + readable message, never a traceback); ``TaskCancelled``
after a ``TaskCancel`` for ``cancelled``/``timed_out``; nothing for ``reassigned``/``dropped``;
``TaskRelease`` when the agent shuts down with the task still running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from runyard_agent.logs import LogBudget, LogSender
from runyard_agent.previews import PreviewSender
from runyard_agent.progress import ProgressSender
from runyard_agent.runtimes.base import (
    Runtime,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.transfer import (
    RequestFailedError,
    ServerLink,
    download_inputs,
    upload_outputs,
)
from runyard_protocol import (
    RunningTask,
    TaskAck,
    TaskAssign,
    TaskCancel,
    TaskCancelled,
    TaskComplete,
    TaskFail,
    TaskRelease,
    bounded_values,
)

__all__ = ["Executor", "ProgressSender", "RequestFailedError", "ServerLink", "TaskLog"]

_log = logging.getLogger(__name__)
_MAX_MESSAGE = 2000


class TaskLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the agent id, and the task id and attempt when there is one."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        where = f"agent={extra.get('agent_id', '-')}"
        if "task_id" in extra:
            where += f" task={extra['task_id']} attempt={extra.get('attempt')}"
        return f"[{where}] {msg}", kwargs


@dataclass(eq=False)
class _Job:
    assign: TaskAssign
    directory: Path
    log: TaskLog
    cancel_event: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    phase: str = "starting"  # starting, running (inside the runtime), uploading
    stop_reason: str | None = None  # a TaskCancel reason, or "released"
    cleanup: list[Callable[[], None]] = field(default_factory=list)  # see TaskContext.cleanup

    @property
    def key(self) -> tuple[str, int]:
        return (self.assign.task_id, self.assign.attempt)


class Executor:
    def __init__(
        self,
        *,
        link: ServerLink,
        runtimes: Mapping[str, Runtime],
        http: httpx.AsyncClient,
        work_dir: Path,
        capacity: int,
        agent_id: str,
        cancel_grace: float = 5.0,
        progress_interval: float = 0.25,
        preview_interval: float = 0.0,
        log_budget: LogBudget | None = None,
    ) -> None:
        self._link = link
        self._runtimes = runtimes
        self._http = http
        self._work_dir = work_dir
        self._capacity = capacity
        self._agent_id = agent_id
        self._cancel_grace = cancel_grace
        self._progress_interval = progress_interval
        self._preview_interval = preview_interval  # 0: no live previews
        self._log_budget = log_budget or LogBudget()
        self._jobs: dict[tuple[str, int], _Job] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False
        self.log = TaskLog(_log, {"agent_id": agent_id})

    def running_tasks(self) -> list[RunningTask]:
        return [RunningTask(task_id=t, attempt=a) for t, a in self._jobs]

    async def assign(self, frame: TaskAssign) -> None:
        """Accept (``TaskAck`` then start) or refuse (``TaskRelease``) an assignment."""
        key = (frame.task_id, frame.attempt)
        log = self._task_log(frame.task_id, frame.attempt)
        if key in self._jobs:  # a re-sent assignment of a task already running here
            await self._link.send(TaskAck(task_id=frame.task_id, attempt=frame.attempt))
            return
        refusal = None
        if self.draining:
            refusal = "agent is shutting down"
        elif len(self._jobs) >= self._capacity:
            refusal = f"agent is at capacity ({self._capacity} running)"
        if refusal:
            log.info("releasing assignment: %s", refusal)
            await self._link.send(
                TaskRelease(task_id=frame.task_id, attempt=frame.attempt, reason=refusal)
            )
            return
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", frame.task_id)
        job = _Job(frame, self._work_dir / f"{safe_id}-{frame.attempt}", log)
        self._jobs[key] = job
        self._idle.clear()
        await self._link.send(TaskAck(task_id=frame.task_id, attempt=frame.attempt))
        log.info(
            "accepted: workflow %s v%s (%s)",
            frame.workflow.slug,
            frame.workflow.version,
            frame.workflow.tool_type,
        )
        job.task = asyncio.create_task(self._execute(job), name=f"task-{safe_id}-{frame.attempt}")

    def cancel(self, frame: TaskCancel) -> None:
        job = self._jobs.get((frame.task_id, frame.attempt))
        if job is None:
            self._task_log(frame.task_id, frame.attempt).info(
                "cancel (%s) for a task not running here; ignored", frame.reason
            )
            return
        job.log.info("cancel requested: %s", frame.reason)
        self._stop(job, frame.reason, grace=self._cancel_grace)

    def drop(self, tasks: Iterable[RunningTask]) -> None:
        """Abandon tasks the server no longer counts as ours, without a word back."""
        for item in tasks:
            job = self._jobs.get((item.task_id, item.attempt))
            if job is not None:
                job.log.info("the server dropped this task; abandoning it")
                self._stop(job, "dropped", grace=0.0)

    def start_draining(self) -> None:
        self.draining = True

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no task runs; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def release_all(self, reason: str) -> None:
        """Hand every running task back (``TaskRelease``) and stop it locally."""
        jobs = [job for job in self._jobs.values() if job.stop_reason is None]
        for job in jobs:
            job.log.info("releasing: %s", reason)
            job.stop_reason = "released"
            await self._link.send(
                TaskRelease(task_id=job.assign.task_id, attempt=job.assign.attempt, reason=reason)
            )
            self._stop(job, "released", grace=0.0)
        await self.wait_idle(timeout=max(self._cancel_grace, 1.0))

    async def shutdown(self) -> None:
        """Stop every task silently (the connection is gone for good)."""
        for job in list(self._jobs.values()):
            self._stop(job, job.stop_reason or "dropped", grace=0.0)
        pending = [job.task for job in self._jobs.values() if job.task is not None]
        pending += list(self._background)
        if pending:
            await asyncio.wait(pending, timeout=max(self._cancel_grace, 1.0))

    # ------------------------------------------------------------------ one task

    def _stop(self, job: _Job, reason: str, grace: float) -> None:
        if job.stop_reason is None or reason == "released":
            job.stop_reason = reason
        job.cancel_event.set()
        if job.task is None or job.task.done():
            return
        if grace <= 0 or job.phase != "running":
            job.task.cancel()  # downloads and uploads stop at once; only runtimes get a grace
            return
        watchdog = asyncio.create_task(self._cancel_after(job, grace))
        self._background.add(watchdog)
        watchdog.add_done_callback(self._background.discard)

    async def _cancel_after(self, job: _Job, grace: float) -> None:
        assert job.task is not None
        done, _ = await asyncio.wait({job.task}, timeout=grace)
        if not done:
            job.log.warning("the runtime did not stop within %gs; abandoning it", grace)
            job.task.cancel()

    async def _execute(self, job: _Job) -> None:
        try:
            outcome = await self._outcome(job)
            if outcome is not None and job.stop_reason != "released":
                await self._link.send(outcome)
        finally:
            self._forget(job)
            # Off the event loop (it is ~15 % of the agent's time per task); not awaited, so a
            # cancellation cannot interrupt it, and asyncio.run waits for it at exit.
            asyncio.get_running_loop().run_in_executor(
                None, functools.partial(_clean_up, job.cleanup, job.directory, job.log)
            )

    async def _outcome(self, job: _Job) -> BaseModel | None:
        """The frame that ends this task, or None when the server must not hear of it."""
        try:
            outcome = await self._attempt(job)
        except (TaskCancelledError, asyncio.CancelledError) as exc:
            if job.stop_reason is None:
                if isinstance(exc, asyncio.CancelledError):
                    raise  # not our cancellation: the agent itself is being torn down
                # The runtime stopped on its own (e.g. interrupted in ComfyUI's UI): the task
                # ends cancelled, saying why.
                why = str(exc) or "the runtime stopped the task"
                job.log.info("stopped by the runtime: %s", why)
                return TaskCancelled(
                    task_id=job.assign.task_id,
                    attempt=job.assign.attempt,
                    stopped_by="runtime",
                    message=why[:4000],
                )
        else:
            if job.stop_reason is None:
                return outcome
        # Stopped on request: whatever the runtime ended with, the server asked for a stop.
        job.log.info("stopped (%s)", job.stop_reason)
        if job.stop_reason in ("cancelled", "timed_out"):
            return TaskCancelled(task_id=job.assign.task_id, attempt=job.assign.attempt)
        return None

    def _forget(self, job: _Job) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if not self._jobs:
            self._idle.set()

    async def _attempt(self, job: _Job) -> BaseModel:
        assign = job.assign
        runtime = self._runtimes.get(assign.workflow.tool_type)
        if runtime is None:
            return self._fail(
                job,
                "runtime_unavailable",
                f"this agent has no {assign.workflow.tool_type} runtime "
                f"(it runs {', '.join(sorted(self._runtimes)) or 'nothing'})",
            )
        try:
            await asyncio.to_thread(_fresh_directory, job.directory)
            files = await download_inputs(
                self._http, self._link, assign, job.directory / "inputs", job.log
            )
            ctx = self._context(job, files)
            job.phase = "running"
            progress = ProgressSender(
                self._link, assign.task_id, assign.attempt, self._progress_interval
            )
            ctx.report = progress.report
            previews = None
            if self._preview_interval > 0:
                previews = PreviewSender(
                    self._link, assign.task_id, assign.attempt, self._preview_interval
                )
                ctx.preview = previews.offer
            logs = None
            # A task in its own process, or a ComfyUI prompt: its console lines
            if assign.workflow.bundle is not None or assign.workflow.tool_type == "comfyui":
                logs = LogSender(self._link, assign.task_id, assign.attempt, self._log_budget)
                ctx.log = logs
            try:
                produced = await runtime.run(assign.workflow, ctx)
            except BaseException as exc:
                progress.abort()
                if previews is not None:
                    previews.abort()
                if logs is not None:
                    if isinstance(exc, Exception):  # failed or stopped: its last lines say why
                        await logs.close()
                    else:
                        logs.abort()
                raise
            if logs is not None:
                await logs.close()
            if previews is not None:
                await previews.close()  # before the outcome: a later one would be stale
            await progress.close()
            if job.cancel_event.is_set():
                raise TaskCancelledError()
            job.phase = "uploading"
            outputs = await upload_outputs(self._http, self._link, assign, produced, job.log)
        except TaskFailedError as exc:
            job.log.warning("failed: %s: %s", exc.code, exc, exc_info=exc.__cause__ is not None)
            return self._fail(job, exc.code, str(exc))
        except (TaskCancelledError, asyncio.CancelledError):
            raise
        except Exception as exc:
            job.log.exception("failed with an unexpected error")
            return self._fail(job, "runtime_error", f"{type(exc).__name__}: {exc}")
        job.log.info("completed with %d output(s)", len(outputs))
        return TaskComplete(
            task_id=assign.task_id,
            attempt=assign.attempt,
            outputs=outputs,
            values=bounded_values(ctx.values),
        )

    def _context(self, job: _Job, files: dict[str, Path]) -> TaskContext:
        assign = job.assign
        output_dir = job.directory / "outputs"
        output_dir.mkdir()
        return TaskContext(
            task_id=assign.task_id,
            attempt=assign.attempt,
            parameters=dict(assign.parameters),
            input_files=files,
            input_names={item.parameter: item.file_name for item in assign.inputs},
            input_types={item.parameter: item.content_type for item in assign.inputs},
            work_dir=job.directory,
            output_dir=output_dir,
            report=lambda report: None,
            cancel_event=job.cancel_event,
            cleanup=job.cleanup,
        )

    def _fail(self, job: _Job, code: str, message: str) -> TaskFail:
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        return TaskFail(
            task_id=job.assign.task_id,
            attempt=job.assign.attempt,
            error_code=code,
            error_message=message or code,
        )

    def _task_log(self, task_id: str, attempt: int) -> TaskLog:
        return TaskLog(_log, {"agent_id": self._agent_id, "task_id": task_id, "attempt": attempt})


def _fresh_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # leftovers of a crashed run of the same attempt
    path.mkdir(parents=True)


def _clean_up(callbacks: list[Callable[[], None]], directory: Path, log: TaskLog) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:  # best effort: a file left behind must not stop the agent
            log.warning("clean-up after the task failed: %s", exc)
    shutil.rmtree(directory, ignore_errors=True)
