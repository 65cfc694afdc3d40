"""Multipart parts in the embedded store: a staged upload's part files, their ETags and the
rules S3's CompleteMultipartUpload applies to the list of parts (``local.py`` stores them)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from runyard.storage.base import CompletedPart, InvalidParts

MIN_PART_SIZE = 5 * 1024 * 1024  # what S3 enforces for every part but the last
MAX_PART_NUMBER = 10_000
_PART_FILE = re.compile(r"([0-9]{1,5})\.part")


def etag_of(st: os.stat_result) -> str:
    """An ETag from the file's identity: stable for the object, new for every re-upload."""
    raw = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()
    return '"' + hashlib.blake2b(raw, digest_size=16).hexdigest() + '"'


def staged_parts(directory: Path) -> dict[int, os.stat_result]:
    """The part files of a staged upload by part number."""
    parts = {}
    for entry in os.scandir(directory):
        match = _PART_FILE.fullmatch(entry.name)
        if match:
            parts[int(match.group(1))] = entry.stat()
    return parts


def checked_parts(
    staged: dict[int, os.stat_result], parts: list[CompletedPart]
) -> list[tuple[int, int]]:
    """(part number, size) of the listed parts, refusing what S3's CompleteMultipartUpload does."""
    if not parts:
        raise InvalidParts("list at least one part")
    numbers = [p.part_number for p in parts]
    if numbers != sorted(set(numbers)):
        raise InvalidParts("list the parts in ascending order of part number, each once")
    sources = []
    for index, part in enumerate(parts):
        st = staged.get(part.part_number)
        if st is None:
            raise InvalidParts(f"part {part.part_number} was not uploaded")
        if etag_of(st).strip('"') != part.etag.strip('"'):
            raise InvalidParts(f"part {part.part_number} has a different ETag (uploaded again?)")
        if index < len(parts) - 1 and st.st_size < MIN_PART_SIZE:
            raise InvalidParts(f"part {part.part_number} is smaller than 5 MiB and not the last")
        sources.append((part.part_number, st.st_size))
    return sources
