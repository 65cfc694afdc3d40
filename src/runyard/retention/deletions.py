"""Removing stored objects whose rows are gone (a deleted team's), outside any transaction.

The rows of ``object_deletions`` are written by the transaction that drops what named the
objects; ``ObjectRemover.run`` reads them in one unit of work, talks to the store with no
connection held, and records the outcome in another. It runs right after that commit and on
every sweep, until each row is done (see ``ObjectDeletion``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.models import ObjectDeletion
from runyard.retention.repository import BATCH, RetentionRepository
from runyard.settings import Settings
from runyard.storage.base import Storage, StorageError, UploadNotFound

log = logging.getLogger("runyard.retention")


def team_objects(
    team_id: str, uploads: list[tuple[str, str]], settings: Settings, now: datetime
) -> list[ObjectDeletion]:
    """The deletions of everything a team stored: its input and output prefixes (finished only
    once the longest upload URL handed out before ``now`` has expired) and its unfinished
    multipart uploads ``(key, backend upload id)``."""
    limits = settings.limits
    longest = max(limits.upload_url_ttl, limits.agent_url_ttl)
    final = now + timedelta(seconds=longest)
    rows = [
        ObjectDeletion(object_key=f"{area}/{team_id}/", created_at=now, final_after=final)
        for area in ("inputs", "outputs")
    ]
    rows += [
        ObjectDeletion(object_key=key, upload_id=upload, created_at=now, final_after=now)
        for key, upload in uploads
    ]
    for row in rows:
        row.attempts = 0
    return rows


class ObjectRemover:
    def __init__(self, db: Database, storage: Storage, clock: Clock) -> None:
        self.db = db
        self.storage = storage
        self.clock = clock

    async def run(self) -> int:
        """One pass over the pending deletions; how many rows it finished."""
        now = self.clock.now()
        async with self.db.unit() as uow:
            rows = [
                (r.id, r.object_key, r.upload_id, r.final_after)
                for r in await RetentionRepository(uow.session).due_deletions(BATCH)
            ]
        if not rows:
            return 0
        done: list[str] = []
        retried: list[str] = []
        for row_id, key, upload_id, final_after in rows:
            try:
                if upload_id is not None:
                    await self.storage.abort_multipart(key, upload_id)
                elif key.endswith("/"):
                    await self.storage.delete_prefix(key)
                else:
                    await self.storage.delete(key)
            except UploadNotFound:
                pass  # already gone from the store
            except StorageError as exc:
                log.warning("could not remove %s (will retry): %s", key, exc)
                retried.append(row_id)
                continue
            (done if now >= final_after else retried).append(row_id)
        async with self.db.unit() as uow:
            await RetentionRepository(uow.session).finish_deletions(done, retried)
        return len(done)
