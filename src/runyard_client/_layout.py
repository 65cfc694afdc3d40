"""A local file as the uploads see it, and the layout of its multipart upload: each part's
range, the parts a resumed upload already has, the server's layout checked against the file,
and the error that tells how to resume."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from runyard_client._errors import UploadError
from runyard_client._models import MultipartStatus, MultipartUpload


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    file_name: str
    content_type: str


def describe(path: str | Path, content_type: str | None) -> Source:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UploadError(f"{p} is not a file")
    guessed = mimetypes.guess_type(p.name)[0]
    return Source(
        p, p.stat().st_size, p.name, content_type or guessed or "application/octet-stream"
    )


def part_range(mp: MultipartUpload, size: int, number: int) -> tuple[int, int]:
    offset = (number - 1) * mp.part_size
    return offset, min(mp.part_size, size - offset)


def resumed(status: MultipartStatus, src: Source) -> tuple[MultipartUpload, dict[int, str]]:
    """The upload to continue and the parts (number → etag) already stored at full size."""
    if status.file_size != src.size:
        raise UploadError(
            f"upload {status.upload_id} was started for {status.file_size} bytes "
            f"but {src.path} has {src.size}",
            upload_id=status.upload_id,
        )
    if status.upload_status in ("completed", "complete", "aborted", "expired"):
        raise UploadError(
            f"upload {status.upload_id} is {status.upload_status}; start a new one",
            upload_id=status.upload_id,
        )
    mp = MultipartUpload(
        upload_id=status.upload_id,
        file_key=status.file_key,
        part_size=status.part_size,
        part_count=status.part_count,
    )
    done = {
        p.part_number: p.etag
        for p in status.parts_received
        if p.etag and p.size == part_range(mp, src.size, p.part_number)[1]
    }
    return mp, done


def check_layout(mp: MultipartUpload, size: int) -> None:
    if mp.part_count < 1 or not (
        mp.part_size * (mp.part_count - 1) < size <= mp.part_size * mp.part_count
    ):
        raise UploadError(
            f"the server's part layout ({mp.part_count} x {mp.part_size}) does not "
            f"fit {size} bytes",
            upload_id=mp.upload_id,
        )


def failed(mp: MultipartUpload, exc: Exception) -> UploadError:
    return UploadError(
        f"multipart upload {mp.upload_id} stopped: {exc}. Resume it with "
        f"upload(path, resume_upload_id={mp.upload_id!r}) within 1 day.",
        upload_id=mp.upload_id,
        status_code=getattr(exc, "status_code", None),
    )
