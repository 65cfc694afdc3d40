"""Task outcomes the server has not acknowledged yet.

An outcome (complete, fail, cancelled, release) is written here *before* it is sent and stays
until the server answers ``task.outcome.ack.v1`` for its ``(task_id, attempt)``. Neither a lost
connection nor a server that dies right after receiving it loses it: the next hello lists the
task as running and the outcome is sent again (the server acknowledges a repeat without applying
it twice). With a work directory the outbox is also on disk (``<work_dir>/outbox``), so an agent
restart keeps it too; each entry is written to a temporary file and renamed into place. There is
no fsync (it cost 17 % of the agent's time per task): the file survives a crash or kill of the
agent process; a power loss of the agent's machine may lose an unacknowledged outcome, and
then the task is retried like any task of a lost agent.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from runyard_protocol import OUTCOMES, Outcome, dump_frame, parse_agent_frame

__all__ = ["Outbox"]

_log = logging.getLogger(__name__)
Key = tuple[str, int]


class Outbox:
    def __init__(self) -> None:
        self._dir: Path | None = None
        self._items: dict[Key, Outcome] = {}

    def use_directory(self, directory: Path) -> int:
        """Keep outcomes under ``directory`` from now on; load those an earlier run left there.
        Returns how many were loaded."""
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        loaded = 0
        for path in sorted(directory.glob("*.json")):
            try:
                frame = parse_agent_frame(path.read_bytes())
            except (OSError, ValidationError):
                _log.warning("ignoring an unreadable outcome file %s", path)
                continue
            if isinstance(frame, OUTCOMES):
                self._items.setdefault((frame.task_id, frame.attempt), frame)
                loaded += 1
        for item in self._items.values():
            self._write(item)
        return loaded

    def put(self, frame: Outcome) -> None:
        self._items[(frame.task_id, frame.attempt)] = frame
        self._write(frame)

    def acknowledged(self, task_id: str, attempt: int) -> bool:
        """Forget an outcome the server acknowledged; False when it was not waiting here."""
        found = self._items.pop((task_id, attempt), None) is not None
        self._remove((task_id, attempt))
        return found

    def forget(self, keys: set[Key]) -> None:
        for key in keys:
            if self._items.pop(key, None) is not None:
                self._remove(key)

    def keys(self) -> list[Key]:
        return list(self._items)

    def frames(self) -> list[BaseModel]:
        return list(self._items.values())

    def _path(self, key: Key) -> Path | None:
        if self._dir is None:
            return None
        return self._dir / f"{key[0]}-{key[1]}.json"

    def _write(self, frame: Outcome) -> None:
        path = self._path((frame.task_id, frame.attempt))
        if path is None:
            return
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(dump_frame(frame))
        os.replace(tmp, path)

    def _remove(self, key: Key) -> None:
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)
