"""What one agent connection's frames may cost the server, decided before any database work.

A frame naming a task is *held* when its attempt was assigned on this connection, or the agent
reported it running in its hello and the server kept it (``Connection.holds``). Frames of
attempts not held are *stray*: a real agent sends few (an outcome resent after a reconnect, a
report that crossed a cancel), an attacker with an ``ak-`` key can send thousands a second.

- A stray ack, progress report, preview or URL request gets the answer a fenced unit of work
  would give it (``stale_attempt``, and ``task.cancel`` where the handler sends one), with no
  database unit: every such frame would be refused there anyway.
- A stray outcome still goes to its lane: whether it was already applied (``duplicate``) or not
  (``refused``) can only be read from the database, and the agent keeps it until answered.
- Stray frames count against ``RUNYARD_GATEWAY_STRAY_FRAMES`` per connection; beyond it the
  connection is closed with ``TOO_MANY_FRAMES`` (4005, retryable; reconnects are rate limited
  per key by ``RUNYARD_RATE_LIMIT_AGENT_CONNECTS``).

Held work is bounded by ``FrameLanes`` (concurrency and backlog).
"""

from __future__ import annotations

import asyncio
import logging

from limits import RateLimitItem, parse

from runyard.gateway.lanes import FrameLanes
from runyard.gateway.registry import Connection, Gateway
from runyard.settings import GatewaySettings
from runyard_protocol import (
    OUTCOMES,
    AgentFrame,
    ErrorFrame,
    TaskAck,
    TaskCancel,
    TaskPreview,
    TaskProgress,
)

log = logging.getLogger("runyard.gateway")


class Intake:
    def __init__(
        self, settings: GatewaySettings, gateway: Gateway, conn: Connection, lanes: FrameLanes
    ) -> None:
        self._gateway = gateway
        self._conn = conn
        self._lanes = lanes
        self._stray_rate: RateLimitItem = parse(settings.stray_frames)
        self.strays = 0

    async def take(self, frame: AgentFrame) -> bool:
        """Handle or queue one frame; False once the connection must be closed (too many
        stray frames)."""
        # Frames already received are read without the reader ever waiting: give the loop's
        # other work (the API) a turn between two frames, or a burst holds it for seconds.
        await asyncio.sleep(0)
        task_id = getattr(frame, "task_id", None)
        attempt = getattr(frame, "attempt", None)
        if task_id is None or attempt is None or self._conn.holds(task_id, int(attempt)):
            await self._lanes.room()
            self._lanes.submit(frame)
            return True
        self.strays += 1
        if not await self._gateway.strays.hit(self._stray_rate, "stray", self._conn.connection_id):
            log.warning(
                "agent=%s sent %d frames for tasks it does not hold; closing",
                self._conn.agent_id,
                self.strays,
            )
            return False
        if isinstance(frame, OUTCOMES):
            await self._lanes.room()
            self._lanes.submit(frame)
            return True
        await self._refuse(frame, task_id, int(attempt))
        return True

    async def _refuse(self, frame: AgentFrame, task_id: str, attempt: int) -> None:
        """The answer ``FrameHandler`` gives a frame its fence refuses, without asking."""
        await self._gateway.send(
            self._conn,
            ErrorFrame(
                error_code="stale_attempt",
                task_id=task_id,
                in_reply_to=getattr(frame, "request_id", None),
                error_message="This attempt is no longer current; drop the task.",
            ),
        )
        if isinstance(frame, TaskAck | TaskProgress | TaskPreview):
            await self._gateway.send(
                self._conn, TaskCancel(task_id=task_id, attempt=attempt, reason="dropped")
            )
