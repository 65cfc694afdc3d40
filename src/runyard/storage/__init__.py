"""Object storage: where uploaded inputs and task outputs live.

The rest of the server sees only the ``Storage`` protocol (``base.py``) and gets an instance
from ``build_storage`` at start-up. ``S3Storage`` signs URLs for an S3-compatible bucket and never
carries file bytes; ``LocalStorage`` is the embedded on-disk store whose signed URLs this server
answers itself (``endpoints.py``). ``lifecycle.py`` sets up and checks a bucket for
``runyard storage setup|check``.

Exceptions::

    StorageError            the store failed or refused (network, permissions, disk)
    ├── ObjectExists        the key holds an object already; nothing was overwritten
    └── InvalidParts        multipart completion refused (missing, wrong ETag, too small)
        └── UploadNotFound  the multipart upload is gone (completed, aborted, expired)
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from runyard.settings import Settings
from runyard.storage.base import (
    CompletedPart,
    InvalidParts,
    ObjectExists,
    ObjectInfo,
    PartInfo,
    PresignedRequest,
    Storage,
    StorageError,
    UploadNotFound,
)
from runyard.storage.local import LocalStorage

if TYPE_CHECKING:
    from runyard.storage.s3 import S3Storage

__all__ = [
    "CompletedPart",
    "InvalidParts",
    "LocalStorage",
    "ObjectExists",
    "ObjectInfo",
    "PartInfo",
    "PresignedRequest",
    "S3Storage",
    "Storage",
    "StorageError",
    "UploadNotFound",
    "build_storage",
]

log = logging.getLogger("runyard.storage")


def __getattr__(name: str) -> Any:
    # boto3 takes ~0.3 s to import: only servers that use S3 should pay for it.
    if name == "S3Storage":
        from runyard.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_storage(settings: Settings) -> Storage:
    """The store ``settings`` ask for; called once by the entry point, never at import."""
    if settings.storage == "s3":
        from runyard.storage.s3 import S3Storage

        return S3Storage(settings.s3)
    secret = settings.secret_key
    if not secret:
        # Only reachable outside prod (Settings refuses an empty key there): URLs then stop
        # working when the process restarts, which a dev or test server can live with.
        log.warning("RUNYARD_SECRET_KEY is empty: embedded-store URLs use a per-process key")
        secret = secrets.token_urlsafe(32)
    return LocalStorage(
        settings.local_store_root,
        public_url=settings.public_url,
        secret_key=secret,
        previous_secret_keys=settings.token_secrets[1:],
        free_space_floor=settings.local_store.free_space_floor,
    )
