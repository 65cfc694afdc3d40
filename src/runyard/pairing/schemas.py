from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class PairStart(BaseModel):
    device_name: str = Field(min_length=1, max_length=200)
    with_agent_key: bool = Field(
        default=False,
        description="Also mint a companion `ak-` agent key (the confirming user must be admin+).",
    )


class PairStarted(BaseModel):
    device_code: str = Field(description="The device's secret: poll with it, never show it.")
    user_code: str = Field(description="Short code the user confirms, e.g. `BCDF-GHJK`.")
    verification_uri: str = Field(description="The dashboard page where the user confirms.")
    verification_uri_complete: str = Field(description="The same page with the code filled in.")
    expires_in: int = Field(description="Seconds until the pairing expires.")
    interval: int = Field(description="Seconds to wait between polls.")


class PairPoll(BaseModel):
    device_code: str = Field(min_length=1, max_length=200)


class PairPolled(BaseModel):
    status: Literal["pending", "approved"]
    device_key: str | None = Field(default=None, description="The `dk-` key; delivered once.")
    agent_key: str | None = Field(
        default=None, description="The companion `ak-` key when it was asked for, else null."
    )
    team_id: str | None = None


class PairConfirm(BaseModel):
    user_code: str = Field(min_length=1, max_length=32)


class PairDecided(BaseModel):
    status: Literal["approved", "denied"]
    device_name: str


class PairPending(BaseModel):
    """What the dashboard shows before the user confirms (RFC 8628 asks that the user can tell
    which device they are about to authorise)."""

    device_name: str
    with_agent_key: bool
    pairing_status: Literal["pending", "approved", "denied", "delivered"]
    created_at: datetime
    expires_at: datetime
