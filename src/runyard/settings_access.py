"""Settings of who gets in: session and refresh tokens, registration and invitations, the SMTP
server that emails invitations, and device pairing. Part of ``runyard.settings`` (which
re-exports them and composes them into ``Settings``); split off to keep that file readable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_AUTH_", extra="ignore")

    access_token_ttl: int = Field(default=900, description="Seconds a session token lives.")
    refresh_token_ttl: int = Field(
        default=30 * 86_400, description="Seconds a refresh token lives."
    )
    key_recheck_interval: float = Field(
        default=5.0, description="How often open WebSocket/SSE connections recheck their key (s)."
    )
    registration: Literal["invite_only", "open", "closed"] = Field(
        default="invite_only",
        description="Who may create an account: invite_only (by accepting an invitation), open "
        "(also POST /auth/signup) or closed (only `runyard admin create-user`).",
    )
    invitation_ttl: int = Field(
        default=7 * 86_400, ge=60, description="Seconds an invitation's link stays valid."
    )


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_SMTP_", extra="ignore")

    host: str = Field(
        default="", description="SMTP server that emails invitations; empty = no email sent."
    )
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (upgrade the connection), tls (implicit TLS, usually port 465) "
        "or none (plain; only for a relay on a trusted network).",
    )
    username: str = Field(default="", description="SMTP login; empty = no authentication.")
    password: str = Field(default="", description="SMTP password.")
    sender: str = Field(default="runyard@localhost", description="From address of the emails sent.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds one SMTP exchange may take.")


class PairingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_PAIRING_", extra="ignore")

    expires_in: int = Field(
        default=600, ge=1, le=3600, description="Seconds a device pairing waits for a confirm."
    )
    interval: int = Field(
        default=5, ge=1, le=60, description="Seconds a pairing device waits between polls."
    )
