from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt, field_validator

from runyard.files.schemas import SHA256_PATTERN, plain_sha256

UploadStatus = Literal["open", "completed", "aborted", "expired"]
MAX_PARTS = 10_000  # S3's limit; initiate grows the part size to stay under it
UploadId = Field(min_length=1, max_length=64, description="The upload_id from initiate.")
FileKey = Field(min_length=1, max_length=1024, description="The file_key from initiate.")


class MultipartInitiate(BaseModel):
    file_name: str = Field(min_length=1, max_length=1024, examples=["scan.tiff"])
    file_size: StrictInt = Field(description="Exact size of the whole file in bytes.")
    content_type: str = Field(
        default="application/octet-stream", max_length=255, examples=["image/tiff"]
    )
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="Optional sha256 of the whole file (64 hex digits): complete reads the "
        "assembled object back and refuses other bytes (400 `checksum_mismatch`, nothing kept).",
    )

    _plain = field_validator("sha256")(plain_sha256)


class MultipartInitiated(BaseModel):
    upload_id: str = Field(description="Runyard's id of this upload; send it to every call.")
    file_key: str = Field(description="Pass this as a `file` parameter once completed.")
    part_size: int = Field(description="Size of every part but the last, in bytes.")
    part_count: int = Field(description="Parts are numbered 1..part_count.")
    expires_at: datetime = Field(description="An upload not completed by then is aborted.")


class PartsPresign(BaseModel):
    upload_id: str = UploadId
    file_key: str = FileKey
    part_numbers: list[StrictInt] = Field(min_length=1, max_length=MAX_PARTS, examples=[[1, 2]])


class PresignedPart(BaseModel):
    part_number: int
    upload_url: str = Field(description="PUT exactly this part's bytes here.")
    upload_headers: dict[str, str] = Field(
        description="Send every one of these headers verbatim (Content-Length is signed)."
    )


class PartsPresigned(BaseModel):
    parts: list[PresignedPart]
    expires_at: datetime = Field(description="When these URLs stop working; presign again.")


class CompletedPartIn(BaseModel):
    part_number: StrictInt
    etag: str = Field(min_length=1, max_length=1024, description="The ETag the part PUT returned.")


class MultipartComplete(BaseModel):
    upload_id: str = UploadId
    file_key: str = FileKey
    parts: list[CompletedPartIn] = Field(min_length=1, max_length=MAX_PARTS)


class MultipartCompleted(BaseModel):
    file_key: str
    file_size: int


class MultipartAbort(BaseModel):
    upload_id: str = UploadId
    file_key: str = FileKey


class AbortResult(BaseModel):
    is_success: bool = True


class ReceivedPart(BaseModel):
    part_number: int
    size: int
    etag: str


class MultipartRead(BaseModel):
    upload_id: str
    file_key: str
    upload_status: UploadStatus
    file_name: str
    content_type: str
    file_size: int
    part_size: int
    part_count: int
    parts_received: list[ReceivedPart] = Field(
        description="Parts the store holds now (only while open); upload the others."
    )
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
