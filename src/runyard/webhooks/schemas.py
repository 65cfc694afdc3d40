from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from runyard.pagination import PageMeta

WebhookEvent = Literal["task.completed", "task.failed", "task.cancelled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


def _unique(events: list[WebhookEvent]) -> list[WebhookEvent]:
    return list(dict.fromkeys(events))


class WebhookCreate(BaseModel):
    display_name: str = Field(default="", max_length=200)
    webhook_url: str = Field(min_length=1, max_length=2048, description="An https:// URL.")
    webhook_events: list[WebhookEvent] = Field(min_length=1, max_length=3)

    @field_validator("webhook_events")
    @classmethod
    def _dedupe(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        return _unique(events)


class WebhookUpdate(BaseModel):
    """Fields left out keep their value. ``is_enabled: true`` re-enables a webhook that was
    disabled (its failure count starts again); its pending deliveries resume."""

    display_name: str | None = Field(default=None, max_length=200)
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2048)
    webhook_events: list[WebhookEvent] | None = Field(default=None, min_length=1, max_length=3)
    is_enabled: bool | None = None

    @field_validator("webhook_events")
    @classmethod
    def _dedupe(cls, events: list[WebhookEvent] | None) -> list[WebhookEvent] | None:
        return None if events is None else _unique(events)


class WebhookRead(BaseModel):
    id: str
    display_name: str
    webhook_url: str
    webhook_events: list[str]
    is_enabled: bool
    disabled_reason: str | None = Field(description="Why it was disabled (null when enabled).")
    disabled_at: datetime | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(BaseModel):
    id: str
    webhook_secret: str = Field(description="`whsec_…`; shown only here and on rotation.")


class WebhookSecret(BaseModel):
    id: str
    webhook_secret: str = Field(description="The new secret; the old one stops at once.")


class WebhookList(BaseModel):
    webhooks: list[WebhookRead]
    page_meta: PageMeta


class DeliveryRead(BaseModel):
    id: str
    webhook_id: str
    task_id: str
    event_type: str
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    delivery_status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str
    created_at: datetime
    completed_at: datetime | None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryRead]
    page_meta: PageMeta


class WebhookTestResult(BaseModel):
    """What one test attempt gave. It is sent at once, signed like any delivery, and not kept
    in the delivery log (it belongs to no task)."""

    delivered: bool = Field(description="The receiver answered 2xx.")
    event_id: str = Field(description="The `webhook-id` header of the test event.")
    status_code: int | None = Field(description="The receiver's status code (null: no answer).")
    latency_ms: int
    error: str = Field(description='Why it failed ("" when delivered).')
    payload: dict[str, Any] = Field(description="The body that was sent.")
