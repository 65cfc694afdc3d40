"""Sending the team's model library to its agents (``library.sync.v1``).

An agent that reports ``system_info.library_sync`` (the agent has a ComfyUI models folder to
keep) gets the team's active set after its welcome and again whenever the library changes. A
change committed by a request of this process is pushed at once and announced to the other
server processes (PostgreSQL ``LISTEN/NOTIFY``, ``db/notify.py``), which push it to the agents
connected to them. Pushes to one team coalesce: a change arriving while a push runs makes one
more push after it, never one per change."""

from __future__ import annotations

import asyncio
import logging

from runyard.db.engine import Database
from runyard.db.notify import ALL, Listener
from runyard.gateway.registry import Connection, Gateway
from runyard.library.sync import sync_frame
from runyard.storage.base import Storage

log = logging.getLogger("runyard.gateway")


class LibraryPusher:
    def __init__(self, db: Database, storage: Storage, gateway: Gateway) -> None:
        self.db = db
        self.storage = storage
        self.gateway = gateway
        self.listener: Listener | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self.pushes = 0  # sets sent (for tests and the curious)

    def changed(self, team_id: str) -> None:
        """A change of ``team_id``'s library committed here: push it, and tell the others."""
        self.notified(team_id)
        if self.listener is not None:
            self.listener.announce_library(team_id)

    def notified(self, team_id: str) -> None:
        """Push the team's set to its agents connected here (``*``: every team's)."""
        teams = {c.team_id for c in self.gateway.all_connections()} if team_id == ALL else {team_id}
        for team in teams:
            if team in self._running:
                self._again.add(team)
                continue
            task = asyncio.get_running_loop().create_task(self._push_team(team))
            self._running[team] = task

    async def send_to(self, conn: Connection) -> None:
        """The set for one agent (after its welcome). A failure is logged, never raised: the
        connection goes on, and the agent gets the set at its next connection or change."""
        if not conn.library_sync:
            return
        try:
            await self._send(conn.team_id, [conn])
        except Exception:
            log.exception("could not send the model library to agent %s", conn.agent_id)

    async def _push_team(self, team_id: str) -> None:
        try:
            while True:
                self._again.discard(team_id)
                conns = [
                    c
                    for c in self.gateway.all_connections()
                    if c.team_id == team_id and c.library_sync
                ]
                if conns:
                    await self._send(team_id, conns)
                if team_id not in self._again:
                    return
        except Exception:
            log.exception("could not push the model library of team %s", team_id)
        finally:
            self._running.pop(team_id, None)

    async def _send(self, team_id: str, conns: list[Connection]) -> None:
        frame = await sync_frame(self.db, self.storage, team_id)
        for conn in conns:
            if await self.gateway.send(conn, frame):
                self.pushes += 1
        log.info(
            "library sync sent team=%s models=%d agents=%d", team_id, len(frame.models), len(conns)
        )

    async def stop(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
