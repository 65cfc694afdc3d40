from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt


class PresignRequest(BaseModel):
    file_name: str = Field(min_length=1, max_length=1024, examples=["photo.png"])
    file_size: StrictInt = Field(ge=1, description="Exact size in bytes; the PUT must send it.")
    content_type: str = Field(
        default="application/octet-stream",
        max_length=255,
        examples=["image/png"],
        pattern=r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?$",
    )


class PresignResponse(BaseModel):
    file_key: str = Field(description="Pass this as the value of a `file` parameter.")
    upload_url: str = Field(description="PUT the file body here.")
    upload_headers: dict[str, str] = Field(
        description="Send every one of these headers with the PUT, verbatim (they are signed)."
    )
    expires_at: str = Field(description="When upload_url stops working (ISO 8601, UTC).")
