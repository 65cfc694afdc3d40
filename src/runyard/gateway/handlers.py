"""What the gateway does with each frame of a registered agent. One short unit of work per
frame (never held across network I/O); replies and side effects after commit."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.gateway import liveness
from runyard.gateway.completion import CompletionContext, complete
from runyard.gateway.reconcile import already_applied
from runyard.gateway.registry import Connection, Gateway
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks import lifecycle
from runyard.tasks.assignments import InputExpired, load_inputs
from runyard.tasks.execution import AgentRef, Slot, StaleAttempt, TaskExecution
from runyard.tasks.lifecycle import Report
from runyard.tasks.previews import Preview, decode_preview
from runyard.tasks.repository import TaskQueue
from runyard.tasks.transitions import TaskTransitions
from runyard_protocol import (
    MAX_PREVIEW_BYTES,
    OUTCOMES,
    AgentFrame,
    AssignedInput,
    ErrorFrame,
    Heartbeat,
    InputUrlGrant,
    InputUrlRequest,
    Outcome,
    OutcomeAck,
    OutputUrlGrant,
    OutputUrlRequest,
    TaskAck,
    TaskCancel,
    TaskCancelled,
    TaskComplete,
    TaskFail,
    TaskLog,
    TaskPreview,
    TaskProgress,
    TaskRelease,
    outcome_kind,
)

log = logging.getLogger("runyard.gateway")
#: Console lines stored per task and connection; the agent bounds them too (``logs.py``).
LOG_BYTES = 4 * 1024 * 1024


class FrameHandler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        gateway: Gateway,
        conn: Connection,
        transitions: TaskTransitions,
    ) -> None:
        self.db = db
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.gateway = gateway
        self.conn = conn
        self.me = AgentRef(conn.team_id, conn.agent_id)
        self.transitions = transitions

    async def reply(self, frame: Any) -> None:
        await self.gateway.send(self.conn, frame)

    async def stale(self, task_id: str, attempt: int, in_reply_to: str | None = None) -> None:
        log.info(
            "refused stale frame task=%s attempt=%d agent=%s", task_id, attempt, self.conn.agent_id
        )
        await self.reply(
            ErrorFrame(
                error_code="stale_attempt",
                task_id=task_id,
                in_reply_to=in_reply_to,
                error_message="This attempt is no longer current; drop the task.",
            )
        )

    async def handle(self, frame: AgentFrame) -> None:
        try:
            if isinstance(frame, Heartbeat):
                await self.heartbeat(frame)
            elif isinstance(frame, TaskAck):
                await self.simple(frame, "ack")
            elif isinstance(frame, TaskProgress):
                await self.progress(frame)
            elif isinstance(frame, TaskPreview):
                await self.preview(frame)
            elif isinstance(frame, TaskLog):
                await self.log_lines(frame)
            elif isinstance(frame, OutputUrlRequest):
                await self.output_url(frame)
            elif isinstance(frame, InputUrlRequest):
                await self.input_url(frame)
            elif isinstance(frame, OUTCOMES):
                await self.outcome(frame)
            else:
                await self.reply(
                    ErrorFrame(
                        error_code="protocol_error", error_message=f"unexpected frame {frame.type}"
                    )
                )
        except StaleAttempt:
            task_id = getattr(frame, "task_id", "")
            attempt = int(getattr(frame, "attempt", 0))
            await self.stale(task_id, attempt, getattr(frame, "request_id", None))
            if isinstance(frame, TaskAck | TaskProgress | TaskPreview | TaskLog):
                await self.reply(TaskCancel(task_id=task_id, attempt=attempt, reason="dropped"))

    async def heartbeat(self, frame: Heartbeat) -> None:
        await liveness.heartbeat(self, frame)

    async def outcome(self, frame: Outcome) -> None:
        """Apply an outcome once and acknowledge it, also when it is a resend: the agent keeps
        each outcome (on disk) until this acknowledgement arrives."""
        kind = outcome_kind(frame)
        message: str | None = None
        try:
            if isinstance(frame, TaskComplete):
                await self.complete(frame)
            else:
                await self.simple(frame, kind)
            result: Literal["applied", "duplicate", "refused"] = "applied"
        except StaleAttempt:
            async with self.db.session() as session:
                task = await TaskQueue(session).get_any(frame.task_id)
            result = (
                "duplicate" if already_applied(task, self.me, frame.attempt, kind) else "refused"
            )
            if result == "refused":
                message = "This attempt is no longer current; drop the task."
                log.info(
                    "refused %s task=%s attempt=%d agent=%s: not the current attempt",
                    kind,
                    frame.task_id,
                    frame.attempt,
                    self.conn.agent_id,
                )
        await self.reply(
            OutcomeAck(
                task_id=frame.task_id,
                attempt=frame.attempt,
                outcome=kind,
                result=result,
                error_message=message,
            )
        )

    async def simple(
        self, frame: TaskAck | TaskFail | TaskCancelled | TaskRelease, what: str
    ) -> None:
        now = self.conn.last_seen or self.clock.now()
        t, me = self.transitions, self.me
        if isinstance(frame, TaskAck):
            await t.ack(me, frame.task_id, frame.attempt, now)
        elif isinstance(frame, TaskFail):
            await t.fail(
                me, frame.task_id, frame.attempt, frame.error_code, frame.error_message, now
            )
        elif isinstance(frame, TaskCancelled):
            await t.cancelled(
                me,
                frame.task_id,
                frame.attempt,
                now,
                by_runtime=frame.stopped_by == "runtime",
                message=frame.message,
            )
        else:
            await t.release(me, frame.task_id, frame.attempt, now)
        if what != "ack":
            self.conn.granted.pop((frame.task_id, frame.attempt), None)
            self.ended(frame.task_id)
        log.info(
            "%s task=%s attempt=%d agent=%s", what, frame.task_id, frame.attempt, self.conn.agent_id
        )

    def ended(self, task_id: str) -> None:
        """The attempt ended here: its live preview is no longer shown."""
        self.gateway.previews.discard(task_id)
        self.conn.last_preview_event.pop(task_id, None)
        self.conn.log_bytes.pop(task_id, None)

    def progress_to_store(self, frame: TaskProgress) -> bool:
        """At most one report per task and ``progress_interval`` is applied; the next report
        (or the completion) supersedes the ones in between."""
        last = self.conn.last_progress_store.get(frame.task_id, 0.0)
        if time.monotonic() - last < self.settings.events.progress_interval:
            return False
        self.conn.last_progress_store[frame.task_id] = time.monotonic()
        return True

    async def progress(self, frame: TaskProgress) -> None:
        if self.progress_to_store(frame):
            await self.transitions.progress(
                self.me, frame.task_id, frame.attempt, self.clock.now(), report_of(frame)
            )

    async def preview(self, frame: TaskPreview) -> None:
        """Keep the latest preview (fenced like progress) and announce it on the task's event
        stream at most once per ``progress_interval``."""
        data = decode_preview(frame.data)
        if data is None:
            await self.reply(
                ErrorFrame(
                    error_code="protocol_error",
                    task_id=frame.task_id,
                    error_message="task.preview.v1 data must be base64 of 1 to "
                    f"{MAX_PREVIEW_BYTES} bytes",
                )
            )
            return
        last = self.conn.last_preview_event.get(frame.task_id, 0.0)
        announce = time.monotonic() - last >= self.settings.events.progress_interval
        async with self.db.unit() as uow:
            ex = TaskExecution(uow, self.settings)
            task = await ex.fenced(self.me, frame.task_id, frame.attempt)
            if announce:
                ex.preview_event(task, self.clock.now(), frame.content_type, frame.node)
        self.gateway.previews.put(
            frame.task_id, Preview(frame.attempt, frame.content_type, data, frame.node)
        )
        if announce:
            self.conn.last_preview_event[frame.task_id] = time.monotonic()

    async def log_lines(self, frame: TaskLog) -> None:
        """Store a batch of console lines as one ``log`` event (fenced like progress); past
        ``LOG_BYTES`` of a task, one last event says the log was truncated."""
        used = self.conn.log_bytes.get(frame.task_id, 0)
        if used > LOG_BYTES:
            return
        size = sum(len(item.line) + 1 for item in frame.lines)
        data: dict[str, Any] = {
            "attempt": frame.attempt,
            "lines": [item.model_dump() for item in frame.lines],
            "dropped": frame.dropped,
            "truncated": frame.truncated,
        }
        if used + size > LOG_BYTES:
            data.update(lines=[], truncated=True)
            size = LOG_BYTES + 1
        self.conn.log_bytes[frame.task_id] = used + size
        async with self.db.unit() as uow:
            task = await TaskExecution(uow, self.settings).fenced(
                self.me, frame.task_id, frame.attempt
            )
            lifecycle.log_lines(uow, task, self.clock.now(), data)

    async def output_url(self, frame: OutputUrlRequest) -> None:
        async with self.db.unit() as uow:
            slot = await grant(TaskExecution(uow, self.settings), self, frame)
        await self.send_grant(frame, slot)

    def known_slots(self, task_id: str, attempt: int) -> list[Slot] | None:
        """Every slot of the attempt, when all were granted on this connection."""
        slots = self.conn.granted.get((task_id, attempt))
        return None if slots is None else list(slots.values())

    async def send_grant(self, frame: OutputUrlRequest, slot: Slot) -> None:
        """After the commit: remember the slot (the completion needs it) and sign its URL."""
        slots = self.conn.granted.get((frame.task_id, frame.attempt))
        if slots is not None:
            slots[frame.output_id] = slot
        signed = self.storage.presign_put(
            slot.object_key, slot.file_size, expires_in=self.settings.limits.upload_url_ttl
        )
        await self.reply(
            OutputUrlGrant(
                request_id=frame.request_id,
                task_id=frame.task_id,
                upload_url=signed.url,
                upload_headers=signed.headers,
            )
        )

    async def input_url(self, frame: InputUrlRequest) -> None:
        inputs: list[AssignedInput] = []
        refused: str | None = None
        async with self.db.unit() as uow:
            task = await TaskExecution(uow, self.settings).fenced(
                self.me, frame.task_id, frame.attempt
            )
            version = await TaskQueue(uow.session).version_of(task)
            try:
                if version is None:
                    raise InputExpired("workflow")
                inputs = await load_inputs(
                    uow.session, task, version, self.storage, self.settings, self.clock.now()
                )
            except InputExpired as exc:
                refused = f"input {exc.parameter!r} expired"
        await self.reply(
            InputUrlGrant(
                request_id=frame.request_id,
                task_id=frame.task_id,
                inputs=inputs,
                error_code="input_expired" if refused else None,
                error_message=refused,
            )
        )

    async def complete(self, frame: TaskComplete) -> None:
        granted = self.conn.granted.pop((frame.task_id, frame.attempt), None)
        ctx = CompletionContext(
            self.db, self.settings, self.storage, self.clock, self.transitions, self.me
        )
        problem = await complete(ctx, frame, None if granted is None else list(granted.values()))
        self.conn.last_progress_store.pop(frame.task_id, None)
        self.ended(frame.task_id)
        log.info(
            "%s task=%s attempt=%d agent=%s",
            "failed (outputs)" if problem else "completed",
            frame.task_id,
            frame.attempt,
            self.conn.agent_id,
        )


def report_of(frame: TaskProgress) -> Report:
    return Report(
        frame.progress, frame.step_current, frame.step_total, frame.current_node, frame.message
    )


async def apply_progress(
    ex: TaskExecution, me: AgentRef, frame: TaskProgress, clock: Clock
) -> None:
    await ex.progress(me, frame.task_id, frame.attempt, clock.now(), report_of(frame), store=True)


async def grant(ex: TaskExecution, handler: FrameHandler, frame: OutputUrlRequest) -> Slot:
    """An output slot for the frame's attempt."""
    return await ex.grant_output(
        handler.me,
        frame.task_id,
        frame.attempt,
        frame.output_id,
        frame.file_name,
        frame.content_type,
        frame.file_size,
        handler.clock.now(),
        known=handler.known_slots(frame.task_id, frame.attempt),
    )
