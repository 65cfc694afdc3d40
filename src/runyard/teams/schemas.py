from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from runyard.pagination import PageMeta

AssignableRole = Literal["admin", "member", "viewer"]


class TeamCreate(BaseModel):
    display_name: str = Field(min_length=1, max_length=200)


class TeamCreated(BaseModel):
    id: str


class TeamUpdate(BaseModel):
    display_name: str = Field(min_length=1, max_length=200)


class TeamRead(BaseModel):
    id: str
    display_name: str
    created_at: datetime


class TeamTransfer(BaseModel):
    user_id: str = Field(min_length=1, max_length=36, description="The member to make owner.")


class TeamDelete(BaseModel):
    team_name: str = Field(
        min_length=1, max_length=200, description="The team's name, typed back to confirm."
    )


class UserUpdate(BaseModel):
    display_name: str = Field(min_length=0, max_length=200)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TeamOfUser(BaseModel):
    id: str
    display_name: str
    role: str


class UserRead(BaseModel):
    id: str
    email_address: str
    display_name: str
    created_at: datetime
    teams: list[TeamOfUser]


class MemberUpdate(BaseModel):
    role: AssignableRole


class MemberRead(BaseModel):
    user_id: str
    email_address: str
    display_name: str
    role: str
    created_at: datetime


class MemberList(BaseModel):
    members: list[MemberRead]
    page_meta: PageMeta
