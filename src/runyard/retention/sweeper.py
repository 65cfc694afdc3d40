"""The retention sweeper (every ``retention.sweep_interval`` seconds, and on demand in tests)."""

from __future__ import annotations

import logging
from datetime import timedelta

from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.retention.deletions import ObjectRemover
from runyard.retention.repository import BATCH, RetentionRepository
from runyard.settings import Settings
from runyard.storage.base import Storage, StorageError, UploadNotFound
from runyard.tasks.repository import TaskQueue
from runyard.webhooks.repository import DeliveryRepository

log = logging.getLogger("runyard.retention")


class Sweeper(BackgroundLoop):
    name = "sweeper"

    def __init__(self, db: Database, settings: Settings, storage: Storage, clock: Clock) -> None:
        super().__init__(settings.retention.sweep_interval)
        self.db = db
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.remover = ObjectRemover(db, storage, clock)

    async def run_once(self) -> object:
        return await self.sweep_once()

    async def sweep_once(self) -> dict[str, int]:
        now = self.clock.now()
        r = self.settings.retention
        local = self.storage.backend == "local"
        to_delete: list[str] = []
        counts = {"files": 0, "outputs": 0, "strays": 0, "uploads": 0, "removed": 0}
        async with self.db.unit() as uow:
            repo = RetentionRepository(uow.session)
            queue = TaskQueue(uow.session)
            if not await repo.lock():
                return counts
            for f in await repo.expired_files(now):
                f.file_status = "expired"
                counts["files"] += 1
                # S3's lifecycle empties inputs/; model uploads nobody registered are ours to drop
                if local or f.file_key.startswith("models/"):
                    to_delete.append(f.file_key)
            outputs = await queue.expired_outputs(now, BATCH)
            await queue.mark_outputs([o.id for o in outputs], "expired")
            counts["outputs"] = len(outputs)
            if local:
                to_delete += [o.object_key for o in outputs]
            strays = await queue.stray_outputs(now - timedelta(hours=1), BATCH)
            await queue.mark_outputs([o.id for o in strays], "discarded")
            counts["strays"] = len(strays)
            to_delete += [o.object_key for o in strays]
            expired_uploads = await repo.expired_uploads(now)
            await queue.prune_events(now - timedelta(seconds=r.events))
            await queue.prune_idempotency(now - timedelta(seconds=r.idempotency))
            await DeliveryRepository(uow.session).prune(now - timedelta(seconds=r.events))
            await repo.prune(now=now, uploads_before=now - timedelta(seconds=2 * r.multipart))
            aborts = [(u.id, u.file_key, u.backend_upload_id) for u in expired_uploads]
        for key in to_delete:
            try:
                await self.storage.delete(key)
            except StorageError:
                log.warning("could not delete %s; it will be retried by lifecycle rules", key)
        # Abort first, then mark: an abort that fails leaves the upload open for the next sweep.
        aborted = []
        for row_id, key, upload_id in aborts:
            try:
                await self.storage.abort_multipart(key, upload_id)
                aborted.append(row_id)
            except UploadNotFound:
                aborted.append(row_id)  # already gone from the store
            except StorageError:
                log.warning("could not abort multipart upload of %s; will retry", key)
        if aborted:
            async with self.db.unit() as uow:
                await RetentionRepository(uow.session).mark_uploads_expired(aborted)
        counts["uploads"] = len(aborted)
        counts["removed"] = await self.remover.run()
        if any(counts.values()):
            log.info("retention sweep: %s", counts)
        return counts
