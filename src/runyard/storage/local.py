"""The embedded on-disk object store (the default of ``runyard dev``).

Objects live at ``<root>/<key>``. Bytes are spooled to ``<root>/.tmp/`` and published with
``os.link``, which fails when the name exists: an object is never replaced, the loser of two racing
PUTs gets ``ObjectExists``, and nothing half-written is ever visible under a key. Multipart uploads
stage their parts in ``<root>/.multipart/<upload_id>/``. Every blocking file operation runs in a
worker thread so a slow disk never stalls the event loop. The HTTP side (signature checks, status
codes) is in ``endpoints.py``; the part files and the rules of a multipart completion are in
``parts.py``; this module only knows files.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import IO
from urllib.parse import quote

import anyio.to_thread

from runyard.storage.base import (
    CHECKSUM_HEADER,
    ChecksumMismatch,
    CompletedPart,
    InvalidParts,
    ObjectExists,
    ObjectInfo,
    PartInfo,
    PresignedRequest,
    StorageError,
    UploadNotFound,
    attachment_disposition,
    check_key,
    checksum_header,
    safe_content_type,
)
from runyard.storage.bodies import exactly, read_exactly
from runyard.storage.diskio import (
    append_file,
    discarded_on_error,
    file_sha256,
    publish,
    unlink_quietly,
    write_chunks,
)
from runyard.storage.parts import MAX_PART_NUMBER, checked_parts, etag_of, staged_parts
from runyard.storage.signing import UrlSigner

_WRITE_BATCH = 1024 * 1024  # one thread hop per MiB, not per 64 KiB socket chunk
TMP_DIR, STAGING_DIR = ".tmp", ".multipart"  # check_key refuses keys starting with either
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class InsufficientSpace(StorageError):
    """Accepting the bytes would leave less free disk than the configured floor."""


class LocalStorage:
    """``Storage`` on a local directory, with URLs served by ``runyard.storage.endpoints``."""

    backend = "local"

    def __init__(
        self,
        root: Path,
        *,
        public_url: str,
        secret_key: str,
        previous_secret_keys: tuple[str, ...] = (),
        free_space_floor: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).absolute()
        self.public_url = public_url.rstrip("/")
        self.free_space_floor = free_space_floor
        self.signer = UrlSigner(secret_key, previous=previous_secret_keys, clock=clock)
        self._tmp = self.root / TMP_DIR
        self._staging = self.root / STAGING_DIR

    # signing (CPU only) -----------------------------------------------------------------
    def _url(self, key: str, query: str) -> str:
        return f"{self.public_url}/storage/{quote(key, safe='/~')}?{query}"

    def presign_put(
        self, key: str, content_length: int, *, expires_in: int, sha256: str | None = None
    ) -> PresignedRequest:
        check_key(key)
        headers = {"Content-Length": str(content_length), "If-None-Match": "*"}
        if sha256 is not None:  # the same header as S3's, so one client serves both stores
            headers[CHECKSUM_HEADER] = checksum_header(sha256)
        query = self.signer.sign("PUT", key, expires_in=expires_in, headers=headers)
        return PresignedRequest(self._url(key, query), headers)

    def presign_get(self, key: str, *, expires_in: int, file_name: str, content_type: str) -> str:
        check_key(key)
        params = {
            "response-content-disposition": attachment_disposition(file_name),
            "response-content-type": safe_content_type(content_type),
        }
        return self._url(key, self.signer.sign("GET", key, expires_in=expires_in, params=params))

    def presign_part(
        self,
        key: str,
        backend_upload_id: str,
        part_number: int,
        content_length: int,
        *,
        expires_in: int,
    ) -> PresignedRequest:
        check_key(key)
        headers = {"Content-Length": str(content_length)}
        params = {"partNumber": str(part_number), "uploadId": backend_upload_id}
        query = self.signer.sign("PUT", key, expires_in=expires_in, params=params, headers=headers)
        return PresignedRequest(self._url(key, query), headers)

    # paths ---------------------------------------------------------------------------------
    def path_of(self, key: str) -> Path:
        check_key(key)
        return self.root / key

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        """The staging directory of ``upload_id``, which must belong to ``key``."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadNotFound(f"no multipart upload {upload_id!r}")
        directory = self._staging / upload_id
        try:
            owner = (directory / "key").read_text()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise UploadNotFound(f"no multipart upload {upload_id!r}") from exc
        if owner != key:
            raise UploadNotFound(f"multipart upload {upload_id!r} is not for {key!r}")
        return directory

    # writing -------------------------------------------------------------------------------
    def _reserve(self, length: int) -> tuple[IO[bytes], str]:
        os.makedirs(self._tmp, exist_ok=True)
        if shutil.disk_usage(self._tmp).free - length < self.free_space_floor:
            raise InsufficientSpace(
                f"storing {length} bytes would leave less than {self.free_space_floor} bytes free"
            )
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        return os.fdopen(fd, "wb"), tmp

    async def _spool(
        self, length: int, chunks: AsyncIterable[bytes], sha256: str | None = None
    ) -> str:
        """Stream ``chunks`` into a durable temp file of exactly ``length`` bytes; its path.
        With ``sha256`` (hex) the bytes are hashed while written and a mismatch keeps nothing."""
        file, tmp = await anyio.to_thread.run_sync(self._reserve, length)
        digest = hashlib.sha256() if sha256 is not None else None
        with discarded_on_error(file, tmp):
            batch, batched = list[bytes](), 0
            async for chunk in exactly(length, chunks):
                batch.append(chunk)
                batched += len(chunk)
                if batched >= _WRITE_BATCH:
                    await anyio.to_thread.run_sync(write_chunks, file, batch, False, digest)
                    batch, batched = [], 0
            await anyio.to_thread.run_sync(write_chunks, file, batch, True, digest)
            if digest is not None and digest.hexdigest() != sha256:
                raise ChecksumMismatch("the body's sha256 is not the signed one")
        return tmp

    async def receive_object(
        self, key: str, length: int, chunks: AsyncIterable[bytes], sha256: str | None = None
    ) -> ObjectInfo:
        """Store a new object from a streamed body, never replacing one (``ObjectExists``);
        with ``sha256`` (hex) other bytes are refused (``ChecksumMismatch``), nothing kept."""
        final = self.path_of(key)
        if length <= _WRITE_BATCH:
            # Small (most outputs and inputs): read it whole, then one thread hop does it all.
            body = await read_exactly(length, chunks)
            if sha256 is not None and hashlib.sha256(body).hexdigest() != sha256:
                raise ChecksumMismatch("the body's sha256 is not the signed one")
            st = await anyio.to_thread.run_sync(self._store_small, body, final)
            return ObjectInfo(size=st.st_size, etag=etag_of(st))
        # Refuse before the body is sent; the link below is what decides a race.
        if await anyio.to_thread.run_sync(final.exists):
            raise ObjectExists(f"an object already exists at {final.name!r}")
        tmp = await self._spool(length, chunks, sha256)
        st = await anyio.to_thread.run_sync(publish, tmp, final)
        return ObjectInfo(size=st.st_size, etag=etag_of(st))

    def _store_small(self, body: bytes, final: Path) -> os.stat_result:
        """Write, sync and publish a body already in memory, in one go (on a worker thread)."""
        if final.exists():
            raise ObjectExists(f"an object already exists at {final.name!r}")
        file, tmp = self._reserve(len(body))
        with discarded_on_error(file, tmp):
            write_chunks(file, [body], True)
        return publish(tmp, final)

    async def put_small(self, key: str, body: bytes) -> bool:
        """Store a small object the server holds already (an agent's inline output); False when
        these same bytes are there already (a resent completion), ``ObjectExists`` for others."""
        final = self.path_of(key)

        def store() -> bool:
            try:
                self._store_small(body, final)
            except ObjectExists:
                if final.is_file() and final.read_bytes() == body:
                    return False
                raise
            return True

        return await anyio.to_thread.run_sync(store)

    async def receive_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        length: int,
        chunks: AsyncIterable[bytes],
    ) -> ObjectInfo:
        """Stage one part; a part number sent again replaces the earlier part, as on S3."""
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise InvalidParts(f"part numbers go from 1 to {MAX_PART_NUMBER}")
        directory = await anyio.to_thread.run_sync(self._upload_dir, key, upload_id)
        tmp = await self._spool(length, chunks)

        def stage() -> os.stat_result:
            target = directory / f"{part_number}.part"
            try:
                os.replace(tmp, target)
            except FileNotFoundError as exc:  # aborted while the part was streaming
                unlink_quietly(tmp)
                raise UploadNotFound(f"multipart upload {upload_id!r} was aborted") from exc
            return os.stat(target)

        st = await anyio.to_thread.run_sync(stage)
        return ObjectInfo(size=st.st_size, etag=etag_of(st))

    # reading -------------------------------------------------------------------------------
    async def stat_object(self, key: str) -> os.stat_result | None:
        """The stat of the object at ``key``, or None when there is no such object."""
        path = self.path_of(key)

        def stat_() -> os.stat_result | None:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
            return st if stat.S_ISREG(st.st_mode) else None

        return await anyio.to_thread.run_sync(stat_)

    async def head(self, key: str) -> ObjectInfo | None:
        st = await self.stat_object(key)
        return None if st is None else ObjectInfo(st.st_size, etag_of(st))

    async def sha256(self, key: str) -> str | None:
        path = self.path_of(key)
        return await anyio.to_thread.run_sync(lambda: file_sha256(path))

    async def copy_to(self, key: str, dest: Path) -> bool:
        path = self.path_of(key)
        if not path.is_file():
            return False
        await anyio.to_thread.run_sync(shutil.copyfile, path, dest)
        return True

    # deleting ------------------------------------------------------------------------------
    def _prune(self, directory: Path) -> None:
        """Remove empty parent folders up to the root, so deleted keys leave no trail."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    async def delete(self, key: str) -> None:
        path = self.path_of(key)

        def delete() -> None:
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                return
            self._prune(path.parent)

        await anyio.to_thread.run_sync(delete)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete the objects whose key starts with ``prefix`` (a string prefix, as on S3)."""
        if not prefix:
            raise ValueError("refusing to delete every object: give a non-empty prefix")
        folder, _, stem = prefix.rpartition("/")
        check_key(f"{folder}/x" if folder else "x")

        def delete() -> int:
            base = self.root / folder if folder else self.root
            try:
                entries = [e for e in os.scandir(base) if e.name.startswith(stem)]
            except (FileNotFoundError, NotADirectoryError):
                return 0
            count = 0
            for entry in entries:
                if not folder and entry.name in (TMP_DIR, STAGING_DIR):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    count += sum(len(files) for _, _, files in os.walk(entry.path))
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    unlink_quietly(entry.path)
                    count += 1
            self._prune(base)
            return count

        return await anyio.to_thread.run_sync(delete)

    # multipart -----------------------------------------------------------------------------
    async def create_multipart(self, key: str, content_type: str) -> str:
        check_key(key)
        upload_id = secrets.token_hex(16)

        def create() -> None:
            directory = self._staging / upload_id
            directory.mkdir(parents=True)
            (directory / "key").write_text(key)

        await anyio.to_thread.run_sync(create)
        return upload_id

    async def list_parts(self, key: str, backend_upload_id: str) -> list[PartInfo]:
        def list_() -> list[PartInfo]:
            parts = staged_parts(self._upload_dir(key, backend_upload_id))
            return [PartInfo(n, st.st_size, etag_of(st)) for n, st in sorted(parts.items())]

        return await anyio.to_thread.run_sync(list_)

    async def complete_multipart(
        self, key: str, backend_upload_id: str, parts: list[CompletedPart]
    ) -> ObjectInfo:
        final = self.path_of(key)

        def complete() -> ObjectInfo:
            directory = self._upload_dir(key, backend_upload_id)
            sources = checked_parts(staged_parts(directory), parts)
            total = sum(size for _, size in sources)
            file, tmp = self._reserve(total)
            with discarded_on_error(file, tmp):
                for number, size in sources:
                    with open(directory / f"{number}.part", "rb") as source:
                        append_file(file, source, size)
                file.flush()
                os.fdatasync(file.fileno())
            st = publish(tmp, final)  # on ObjectExists the upload stays, as on S3
            shutil.rmtree(directory, ignore_errors=True)
            return ObjectInfo(st.st_size, etag_of(st))

        return await anyio.to_thread.run_sync(complete)

    async def abort_multipart(self, key: str, backend_upload_id: str) -> None:
        def abort() -> None:
            try:
                directory = self._upload_dir(key, backend_upload_id)
            except UploadNotFound:
                return
            shutil.rmtree(directory, ignore_errors=True)

        await anyio.to_thread.run_sync(abort)

    async def check(self) -> None:
        def check() -> None:
            try:
                os.makedirs(self._tmp, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {self._tmp}: {exc}") from exc
            if not os.access(self._tmp, os.W_OK):
                raise StorageError(f"{self.root} is not writable")

        await anyio.to_thread.run_sync(check)

    async def close(self) -> None:
        return None
