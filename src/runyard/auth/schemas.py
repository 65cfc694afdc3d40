from __future__ import annotations

from pydantic import BaseModel, Field


class LoginRequest(BaseModel):
    email_address: str = Field(min_length=3, max_length=320)
    user_password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class DeviceKeyCreate(BaseModel):
    device_name: str = Field(min_length=1, max_length=200)


class DeviceKeyCreated(BaseModel):
    id: str
    kind: str = "device"
    key_prefix: str
    raw_key: str


class Success(BaseModel):
    is_success: bool = True


class SignupRequest(BaseModel):
    email_address: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)
