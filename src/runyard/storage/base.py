"""The storage seam: every part of the server talks to object storage through ``Storage``.

Two implementations: ``S3Storage`` (any S3-compatible store; the server only signs URLs, bytes go
straight between clients, agents and the bucket) and ``LocalStorage`` (the embedded on-disk store
of ``runyard dev``, whose signed URLs are served by this process under ``/storage/``). Both keep
S3's observable contract: the PUT signature covers ``Content-Length`` and ``If-None-Match: *``,
an existing object is never replaced (412), and a wrong or missing signed header answers 403.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote


@dataclass(frozen=True)
class PresignedRequest:
    """A URL plus the headers the caller must send verbatim (values are strings)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None = None


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class CompletedPart:
    part_number: int
    etag: str


class StorageError(Exception):
    """A storage operation failed (network, permissions); callers map it to an API error."""


class ChecksumMismatch(StorageError):
    """The bytes received do not have the signed sha256; nothing was kept."""


class ObjectExists(StorageError):
    """The target key already holds an object; nothing was overwritten."""


class InvalidParts(StorageError):
    """Multipart completion refused: a part is missing, has a wrong ETag, or is too small."""


class UploadNotFound(InvalidParts):
    """The multipart upload does not exist (aborted, completed or expired).

    A subclass of ``InvalidParts`` so a caller that only handles that still refuses the request.
    """


# A MIME type is echoed into a response header by both backends: anything that is not a plain
# ``type/subtype[; params]`` (a header-injection attempt, a typo) is served as opaque bytes.
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[ -~]*)?")


_BAD_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_BAD_SEGMENTS = frozenset(("", ".", ".."))


CHECKSUM_HEADER = "x-amz-checksum-sha256"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def checksum_header(sha256_hex: str) -> str:
    """The value of ``x-amz-checksum-sha256`` (base64 of the digest) for a hex sha256."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def hex_of_checksum(value: str) -> str | None:
    """The hex sha256 an ``x-amz-checksum-sha256`` value names, or None when it is malformed."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def check_key(key: str) -> None:
    """Refuse keys our code never makes and a file system could misread (``..``, ``/x``, ``a//b``,
    control characters) or that would collide with the embedded store's ``.tmp``/``.multipart``.
    """
    segments = key.split("/")
    if (
        len(key.encode()) > 1024
        or _BAD_KEY_CHARS.search(key)
        or not _BAD_SEGMENTS.isdisjoint(segments)
        or segments[0] in (".tmp", ".multipart")
        or max(len(s.encode()) for s in segments) > 255
    ):
        raise ValueError(f"invalid object key {key!r}")


def safe_content_type(content_type: str) -> str:
    """The content type to serve: the declared one when well-formed, else octet-stream."""
    value = content_type.strip()
    if len(value) <= 255 and _CONTENT_TYPE.fullmatch(value) and "\\" not in value:
        return value
    return "application/octet-stream"


def attachment_disposition(file_name: str) -> str:
    """``Content-Disposition`` forcing a download: a stored file never renders as a page."""
    return "attachment; filename*=UTF-8''" + quote(file_name, safe="")


class Storage(Protocol):
    """Object storage. Signing methods are CPU-only and fast; the others may do I/O."""

    backend: str  # "s3" | "local"

    def presign_put(
        self, key: str, content_length: int, *, expires_in: int, sha256: str | None = None
    ) -> PresignedRequest:
        """A PUT URL whose signature covers Content-Length and ``If-None-Match: *``, and with
        ``sha256`` (hex) also ``x-amz-checksum-sha256``: the store then refuses other bytes.

        Content-Type is deliberately not signed: the seed's curl and ``requests`` send none.
        """
        ...

    def presign_get(self, key: str, *, expires_in: int, file_name: str, content_type: str) -> str:
        """A GET URL serving the object as an attachment named ``file_name`` of ``content_type``."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Size (and ETag) of the object at ``key``, or None when there is none."""
        ...

    async def sha256(self, key: str) -> str | None:
        """The hex sha256 of the object at ``key`` (reads it whole), or None when there is none."""
        ...

    async def copy_to(self, key: str, dest: Path) -> bool:
        """Write the object at ``key`` to the local file ``dest``; False when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Delete one object; deleting a missing key is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were deleted."""
        ...

    # multipart ---------------------------------------------------------------
    async def create_multipart(self, key: str, content_type: str) -> str:
        """Start a multipart upload; returns the backend's upload id."""
        ...

    def presign_part(
        self,
        key: str,
        backend_upload_id: str,
        part_number: int,
        content_length: int,
        *,
        expires_in: int,
    ) -> PresignedRequest:
        """A PUT URL for one part whose signature covers its exact Content-Length."""
        ...

    async def list_parts(self, key: str, backend_upload_id: str) -> list[PartInfo]: ...

    async def complete_multipart(
        self, key: str, backend_upload_id: str, parts: list[CompletedPart]
    ) -> ObjectInfo:
        """Assemble the parts without replacing an existing object (raises ``ObjectExists``)."""
        ...

    async def abort_multipart(self, key: str, backend_upload_id: str) -> None: ...

    async def check(self) -> None:
        """Raise ``StorageError`` when the store cannot be reached (readiness)."""
        ...

    async def close(self) -> None: ...
