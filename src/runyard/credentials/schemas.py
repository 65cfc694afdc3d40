from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from runyard.pagination import PageMeta


class CredentialCreate(BaseModel):
    kind: Literal["integration", "agent"]
    display_name: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class CredentialRead(BaseModel):
    id: str
    kind: str
    display_name: str
    key_prefix: str
    user_id: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    companion_of: str | None = Field(
        default=None,
        description="For an agent key from device pairing: the device key it was paired with "
        "(revoking that key revokes this one).",
    )


class CredentialCreated(BaseModel):
    id: str
    kind: str
    display_name: str
    key_prefix: str
    raw_key: str = Field(description="The secret; shown only in this response.")
    expires_at: datetime | None


class CredentialList(BaseModel):
    credentials: list[CredentialRead]
    page_meta: PageMeta
