"""Assembling a multipart upload at the store: list the stored parts, check them against the
client's list, complete, and check the result. Only the store is called here: the service runs
this with no database connection checked out, then records the outcome under the row's lock."""

from __future__ import annotations

from runyard.errors import BadRequest, Conflict, Gone, RunyardError, Unprocessable
from runyard.models import MultipartUpload
from runyard.storage.base import (
    CompletedPart,
    InvalidParts,
    ObjectExists,
    PartInfo,
    Storage,
    StorageError,
    UploadNotFound,
)
from runyard.uploads.parts import STATUS_PATH, _etag, _numbers, part_length, storage_failed
from runyard.uploads.schemas import CompletedPartIn


class Assembly:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def assemble(self, upload: MultipartUpload, listed: dict[int, str]) -> None:
        try:
            stored = {p.part_number: p for p in await self.stored_parts(upload)}
        except UploadNotFound:
            raise await self.lost(upload) from None
        everything = range(1, upload.part_count + 1)
        missing = [n for n in everything if n not in listed or n not in stored]
        if missing:
            not_stored = [n for n in missing if n not in stored]
            raise Unprocessable(
                f"Missing part{'s' if len(missing) > 1 else ''} {_numbers(missing)} "
                + (f"(not uploaded: {_numbers(not_stored)}); " if not_stored else "from the list; ")
                + f"this upload needs parts 1..{upload.part_count}. {STATUS_PATH} shows what "
                "the store holds; presign and PUT the others, then complete again.",
                code="parts_missing",
            )
        stale = [n for n in everything if _etag(listed[n]) != _etag(stored[n].etag)]
        if stale:
            raise Unprocessable(
                f"The ETags given for parts {_numbers(stale)} are not those of the stored parts "
                f"(sent again?); {STATUS_PATH} lists the current ETags.",
                code="etag_mismatch",
            )
        wrong = [n for n in everything if stored[n].size != part_length(upload, n)]
        if wrong:
            await self.abort_backend(upload)
            raise self.size_mismatch(
                upload, f"parts {_numbers(wrong)} do not have the planned sizes"
            )
        parts = [CompletedPart(n, listed[n]) for n in everything]
        try:
            await self.storage.complete_multipart(upload.file_key, upload.backend_upload_id, parts)
        except ObjectExists:
            raise Conflict(
                "An object already exists at this file_key; nothing was overwritten.",
                code="object_exists",
            ) from None
        except UploadNotFound:
            raise await self.lost(upload) from None
        except InvalidParts as exc:
            raise Unprocessable(
                f"The store refused the parts: {exc}.", code="invalid_parts"
            ) from exc
        except StorageError as exc:
            raise storage_failed(exc) from exc
        await self.check_assembled(upload)

    def listed(self, upload: MultipartUpload, parts: list[CompletedPartIn]) -> dict[int, str]:
        numbers = [p.part_number for p in parts]
        unknown = {n for n in numbers if not 1 <= n <= upload.part_count}
        if unknown:
            raise Unprocessable(
                f"This upload has parts 1..{upload.part_count}; there is no part "
                f"{_numbers(unknown)}.",
                code="invalid_part_numbers",
            )
        if len(set(numbers)) != len(numbers):
            twice = {n for n in numbers if numbers.count(n) > 1}
            raise Unprocessable(
                f"Listed more than once: parts {_numbers(twice)}; list each part once.",
                code="invalid_part_numbers",
            )
        return {p.part_number: p.etag for p in parts}

    async def stored_parts(self, upload: MultipartUpload) -> list[PartInfo]:
        try:
            return await self.storage.list_parts(upload.file_key, upload.backend_upload_id)
        except UploadNotFound:
            raise
        except StorageError as exc:
            raise storage_failed(exc) from exc

    async def abort_backend(self, upload: MultipartUpload) -> None:
        try:
            await self.storage.abort_multipart(upload.file_key, upload.backend_upload_id)
        except StorageError as exc:
            raise storage_failed(exc) from exc

    async def lost(self, upload: MultipartUpload) -> RunyardError:
        """The store no longer knows the upload: completed by a racing request, or expired."""
        try:
            info = await self.storage.head(upload.file_key)
        except StorageError as exc:
            raise storage_failed(exc) from exc
        if info is not None:
            return Conflict(
                "This upload was completed by another request; use its file_key.",
                code="upload_completed",
            )
        return Gone(
            "The store no longer holds this upload (expired or aborted); start a new one.",
            code="upload_expired",
            commit_first=True,
        )

    def size_mismatch(self, upload: MultipartUpload, detail: str) -> RunyardError:
        return Unprocessable(
            f"The upload does not have the declared file_size of {upload.file_size} bytes "
            f"({detail}); nothing was kept. Start a new upload with the file's real size.",
            code="size_mismatch",
            commit_first=True,
        )

    async def check_assembled(self, upload: MultipartUpload) -> None:
        """The assembled object has the declared size (and sha256, read back whole when one was
        declared: S3 cannot sign a whole-object sha256 into presigned parts); else it is
        deleted and the upload refused."""
        try:
            info = await self.storage.head(upload.file_key)
            if info is None or info.size != upload.file_size:
                await self.storage.delete(upload.file_key)
                got = "no object" if info is None else f"{info.size} bytes"
                raise self.size_mismatch(upload, f"the store holds {got}")
            if upload.sha256 is not None:
                digest = await self.storage.sha256(upload.file_key)
                if digest != upload.sha256:
                    await self.storage.delete(upload.file_key)
                    raise BadRequest(
                        f"The assembled file's sha256 is {digest}, not the declared "
                        f"{upload.sha256}; nothing was kept. Start a new upload of the file "
                        "you described.",
                        code="checksum_mismatch",
                        commit_first=True,
                    )
        except StorageError as exc:
            raise storage_failed(exc) from exc
