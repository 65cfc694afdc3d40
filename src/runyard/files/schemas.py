from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt, field_validator

SHA256_PATTERN = r"^(sha256:)?[0-9A-Fa-f]{64}$"
SHA256_DESCRIPTION = (
    "Optional sha256 of the file (64 hex digits, `sha256:` prefix allowed). It is signed into "
    "the upload, so the store refuses other bytes (400 `checksum_mismatch`, nothing kept)."
)


def plain_sha256(value: str | None) -> str | None:
    """The lower-case hex of a declared sha256 (``sha256:`` prefix dropped)."""
    return None if value is None else value.removeprefix("sha256:").lower()


class PresignRequest(BaseModel):
    file_name: str = Field(min_length=1, max_length=1024, examples=["photo.png"])
    file_size: StrictInt = Field(ge=1, description="Exact size in bytes; the PUT must send it.")
    content_type: str = Field(
        default="application/octet-stream",
        max_length=255,
        examples=["image/png"],
        pattern=r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?$",
    )
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN, description=SHA256_DESCRIPTION)

    _plain = field_validator("sha256")(plain_sha256)


class PresignResponse(BaseModel):
    file_key: str = Field(description="Pass this as the value of a `file` parameter.")
    upload_url: str | None = Field(
        default=None, description="PUT the file body here (absent when `already_uploaded`)."
    )
    upload_headers: dict[str, str] | None = Field(
        default=None,
        description="Send every one of these headers with the PUT, verbatim (they are signed).",
    )
    expires_at: str = Field(
        description="When upload_url stops working (ISO 8601, UTC); with `already_uploaded`, "
        "when the file already held expires."
    )
    already_uploaded: bool | None = Field(
        default=None,
        description="Only with a `sha256`: true when the team already holds an unexpired file "
        "with this sha256 and size; `file_key` is that file and there is nothing to upload.",
    )
