"""The team's active models and node packages as agents receive them (``library.sync.v1``):
each with a presigned GET of its file, read in one short transaction."""

from __future__ import annotations

import posixpath

from runyard.db.engine import Database
from runyard.library.packages import NodePackageRepository
from runyard.library.repository import ModelRepository
from runyard.storage.base import Storage
from runyard_protocol import LibrarySync, SyncedModel, SyncedNodePackage

# How long a sync's download URLs stay valid. Longer than a task input's: a model of tens of GB
# may take hours; a sync that outlives it resumes (Range) with the URLs of the next sync (the
# agent's reconnect, or any change of the library).
SYNC_URL_TTL = 6 * 3600


async def sync_frame(db: Database, storage: Storage, team_id: str) -> LibrarySync:
    async with db.session() as session:
        rows = await ModelRepository(session).active(team_id)
        packages = await NodePackageRepository(session).active(team_id)
    # Presigning is local computation (no request to the store): no connection is held here.
    return LibrarySync(
        models=[
            SyncedModel(
                model_id=row.id,
                model_type=row.model_type,
                model_path=row.model_path,
                sha256=row.sha256,
                size_bytes=row.file_size,
                download_url=storage.presign_get(
                    row.file_key,
                    expires_in=SYNC_URL_TTL,
                    file_name=posixpath.basename(row.model_path),
                    content_type="application/octet-stream",
                ),
            )
            for row in rows
        ],
        node_packages=[
            SyncedNodePackage(
                package_id=row.id,
                name=row.name,
                sha256=row.sha256,
                size_bytes=row.file_size,
                download_url=storage.presign_get(
                    row.file_key,
                    expires_in=SYNC_URL_TTL,
                    file_name=f"{row.name}.archive",
                    content_type="application/octet-stream",
                ),
            )
            for row in packages
        ],
    )
