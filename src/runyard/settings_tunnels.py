"""Settings of tunnels to agents' local ports (``RUNYARD_TUNNEL_*``). Part of
``runyard.settings`` (which composes them into ``Settings``); split off to keep that file
readable."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TunnelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_TUNNEL_", extra="ignore")

    base_url: str | None = Field(
        default=None,
        description="The origin HTTP tunnels are served at (e.g. https://tunnels.example.com), "
        "a host name of its own pointed at the same servers: a tunnelled app (ComfyUI) calls "
        "absolute paths (/api/…, /ws), so it must own the root of an origin. Without it, "
        "`runyard serve` offers TCP tunnels only; `runyard dev` uses http://localhost:PORT.",
    )
    internal_url: str | None = Field(
        default=None,
        description="How the other server processes reach this one (e.g. http://10.0.0.5:8000) "
        "to relay a tunnel to an agent connected here. Default: http://127.0.0.1:PORT of "
        "`runyard serve`.",
    )
    idle_timeout: float = Field(
        default=900.0, gt=0, description="Seconds a tunnel stays open with no session."
    )
    entry_ttl: float = Field(
        default=120.0, gt=0, description="Seconds the one-time link of an HTTP tunnel is valid."
    )
    cookie_ttl: float = Field(
        default=12 * 3600.0,
        gt=0,
        description="Seconds the browser's credential for one tunnel stays valid.",
    )
    max_per_agent: int = Field(default=8, ge=1, description="Open tunnels per agent.")
    max_per_team: int = Field(default=32, ge=1, description="Open tunnels per team.")
    open_timeout: float = Field(
        default=10.0, gt=0, description="Seconds the agent has to connect the tunnelled port."
    )
    sweep_interval: float = Field(
        default=2.0,
        gt=0,
        description="How often each process ends idle and closed tunnels' sessions and reads "
        "which of its agents have an exclusive tunnel open.",
    )

    @field_validator("base_url", "internal_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None
