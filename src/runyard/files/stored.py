"""An upload that went straight to the store (a presigned PUT) is ``uploaded`` once the store
says it holds the bytes: asked with a HEAD, with no database connection checked out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from runyard.errors import Unprocessable
from runyard.models import StoredFile
from runyard.storage.base import Storage, StorageError


async def confirm_stored(
    file: StoredFile, storage: Storage, commit: Callable[[], Awaitable[None]], what: str
) -> None:
    """Mark ``file`` uploaded when the store holds its bytes, else 422 ``file_not_uploaded``
    naming ``what`` ("bundle", "file"). ``commit`` ends the caller's transaction first."""
    if file.file_status == "uploaded":
        return
    await commit()
    try:
        info = await storage.head(file.file_key)
    except StorageError as exc:
        raise Unprocessable(
            f"The store could not be asked about the {what}: {exc}; retry.",
            code="file_not_uploaded",
        ) from exc
    if info is None or info.size != file.file_size:
        raise Unprocessable(
            f"The {what} was not uploaded yet (PUT it to the upload_url with the "
            "upload_headers first).",
            code="file_not_uploaded",
        )
    file.file_status = "uploaded"  # its signed sha256 made the store refuse other bytes
