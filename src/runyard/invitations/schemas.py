from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from runyard.pagination import PageMeta

InvitableRole = Literal["owner", "admin", "member", "viewer"]


class InvitationCreate(BaseModel):
    email_address: str = Field(min_length=3, max_length=320)
    role: InvitableRole = "member"


class InvitationCreated(BaseModel):
    id: str
    email_address: str
    role: str
    accept_url: str = Field(
        description="The link to send the invitee; its token is shown only here (and emailed "
        "when the server has SMTP configured)."
    )
    expires_at: datetime
    emailed: bool = Field(description="Whether the server is emailing the link (SMTP set up).")


class InvitationRead(BaseModel):
    id: str
    email_address: str
    role: str
    invited_by: str | None
    created_at: datetime
    expires_at: datetime


class InvitationList(BaseModel):
    invitations: list[InvitationRead]
    page_meta: PageMeta


class InvitationAccept(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Without a session: the password of the account to create for the invited "
        "address (or of the existing account of that address).",
    )
    display_name: str = Field(default="", max_length=200)


class InvitationAccepted(BaseModel):
    """A session like login's, in the team just joined."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"
    team_id: str
    role: str
