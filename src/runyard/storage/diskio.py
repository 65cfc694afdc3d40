"""Blocking file operations of the embedded store (run in worker threads): spooling with
clean-up on any error, durable writes, and in-kernel concatenation of staged parts."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from runyard.storage.base import ObjectExists, StorageError

COPY_BATCH = 1024 * 1024  # one thread hop per MiB, not per 64 KiB socket chunk


@contextlib.contextmanager
def discarded_on_error(file: IO[bytes], tmp: str) -> Iterator[None]:
    """Close ``file``; on any error (cancellation included) also remove it, synchronously, so
    the cleanup cannot itself be cancelled."""
    try:
        yield
    except BaseException:
        file.close()
        unlink_quietly(tmp)
        raise
    file.close()


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def write_chunks(
    file: IO[bytes], chunks: list[bytes], sync: bool, digest: Digest | None = None
) -> None:
    """Write ``chunks`` (hashing them into ``digest`` on the way, in the same thread)."""
    for chunk in chunks:
        file.write(chunk)
        if digest is not None:
            digest.update(chunk)
    if sync:
        file.flush()
        os.fdatasync(file.fileno())  # a 200 means the bytes survive a crash, as on S3


def append_file(target: IO[bytes], source: IO[bytes], size: int) -> None:
    """Copy ``size`` bytes in the kernel when it can (``copy_file_range``), else through memory."""
    target.flush()
    remaining = size
    try:
        while remaining:
            copied = os.copy_file_range(source.fileno(), target.fileno(), remaining)
            if copied == 0:
                break
            remaining -= copied
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        shutil.copyfileobj(source, target, COPY_BATCH)
        remaining = 0
    if remaining:
        raise StorageError("a staged part shrank while the upload was being completed")


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def file_sha256(path: Path) -> str | None:
    """The hex sha256 of a stored file, or None when there is none (blocking: call it off the
    event loop)."""
    try:
        with open(path, "rb") as source:
            return hashlib.file_digest(source, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def publish(tmp: str, final: Path) -> os.stat_result:
    """Give ``tmp`` its final name unless one exists already, then drop the temp name."""
    try:
        for attempt in range(3):
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, final)
                break
            except FileExistsError as exc:
                raise ObjectExists(f"an object already exists at {final.name!r}") from exc
            except FileNotFoundError:  # a concurrent delete pruned the parent: retry
                if attempt == 2:
                    raise
            except NotADirectoryError as exc:
                raise ObjectExists("an object exists where this key needs a folder") from exc
        return os.stat(final)
    finally:
        unlink_quietly(tmp)
