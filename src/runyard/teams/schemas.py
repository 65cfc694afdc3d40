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


class MemberAdd(BaseModel):
    email_address: str = Field(min_length=3, max_length=320)
    role: AssignableRole = "member"


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
