"""Part arithmetic and small shared helpers of multipart uploads."""

from __future__ import annotations

import math
from collections.abc import Iterable

from runyard.errors import NotReady
from runyard.models import MultipartUpload
from runyard.settings import MIB
from runyard.storage.base import StorageError
from runyard.uploads.schemas import MAX_PARTS

STATUS_PATH = "GET /api/v1/uploads/multipart/{upload_id}"


def _numbers(numbers: Iterable[int]) -> str:
    listed = sorted(numbers)
    shown = ", ".join(str(n) for n in listed[:20])
    return shown + (f" and {len(listed) - 20} more" if len(listed) > 20 else "")


def _etag(value: str) -> str:
    return value.strip().strip('"')


def storage_failed(exc: StorageError) -> NotReady:
    return NotReady(
        f"The object store did not answer as expected ({exc}); retry in a moment.",
        code="storage_unavailable",
    )


def plan_parts(file_size: int, part_size: int) -> tuple[int, int]:
    """(part size, part count) for a file: the configured part size, grown in whole MiB when the
    file would otherwise need more than S3's 10,000 parts."""
    if math.ceil(file_size / part_size) > MAX_PARTS:
        part_size = math.ceil(file_size / MAX_PARTS / MIB) * MIB
    return part_size, max(1, math.ceil(file_size / part_size))


def part_length(upload: MultipartUpload, part_number: int) -> int:
    """The exact size of one part: ``part_size`` for all but the last, the rest for the last."""
    if part_number < upload.part_count:
        return upload.part_size
    return upload.file_size - (upload.part_count - 1) * upload.part_size
