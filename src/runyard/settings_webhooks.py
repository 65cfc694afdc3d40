"""Settings of outgoing webhooks (``RUNYARD_WEBHOOK_*``). Part of ``runyard.settings`` (which
composes them into ``Settings`` and re-exports them); split off to keep that file readable."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RETRY_SCHEDULE = [0.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0]


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_WEBHOOK_", extra="ignore")

    retry_schedule: list[float] = Field(
        default=DEFAULT_RETRY_SCHEDULE,
        min_length=1,
        description="Seconds before each delivery attempt (JSON list; the first is the delay "
        "of the first attempt). The default's 10 attempts span ~27.6 h.",
    )
    retry_jitter: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Each retry delay is lengthened by a random fraction up to this.",
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds one delivery attempt may take.")
    poll_interval: float = Field(
        default=2.0, gt=0, description="Seconds between polls for due deliveries."
    )
    disable_after_failures: int = Field(
        default=15,
        ge=1,
        description="Consecutive failed attempts that, together with "
        "RUNYARD_WEBHOOK_DISABLE_AFTER_SECONDS, disable a webhook.",
    )
    disable_after_seconds: float = Field(
        default=86_400.0,
        ge=0,
        description="How long a webhook must have failed without a success before it is disabled.",
    )
    allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to private, loopback or link-local "
        "addresses (`runyard dev`: `true` unless set).",
    )
    allow_http: bool = Field(
        default=False,
        description="Allow http:// webhook URLs (`runyard dev`: `true` unless set).",
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookSettings:
        if any(d < 0 for d in self.retry_schedule):
            raise ValueError("RUNYARD_WEBHOOK_RETRY_SCHEDULE must not contain negative delays")
        return self
