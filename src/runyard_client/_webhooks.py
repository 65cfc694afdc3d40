"""``client.webhooks``: the team's webhooks, their delivery log, redelivery and a test
delivery. The server allows these to team admins with a user session (the CLI mints one from
the login ``runyard login`` saved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import Field

from runyard_client._base import Call, api, parse_none
from runyard_client._models import Model, Page
from runyard_client._resources import Resource, endpoint, model, page_of, paging, seg

X = TypeVar("X")
EVENTS = ("task.completed", "task.failed", "task.cancelled")


class Webhook(Model):
    id: str
    display_name: str = ""
    webhook_url: str
    webhook_events: list[str] = Field(default_factory=list)
    is_enabled: bool = True
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    consecutive_failures: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CreatedWebhook(Model):
    """A new webhook (or a rotation): ``webhook_secret`` is shown only here."""

    id: str
    webhook_secret: str


class WebhookDelivery(Model):
    id: str
    webhook_id: str
    task_id: str = ""
    event_type: str = ""
    event_id: str = ""
    delivery_status: str = ""
    attempt_count: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_latency_ms: int | None = None
    last_error: str = ""
    created_at: datetime | None = None
    completed_at: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class WebhookTest(Model):
    """What a test delivery gave: ``delivered`` when the receiver answered 2xx."""

    delivered: bool
    event_id: str
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


class Webhooks(Resource[X]):
    @endpoint
    def create(
        self, webhook_url: str, events: list[str] | None = None, display_name: str = ""
    ) -> Call[CreatedWebhook]:
        body = {
            "display_name": display_name,
            "webhook_url": webhook_url,
            "webhook_events": list(events or EVENTS),
        }
        return Call("POST", api("/webhooks"), model(CreatedWebhook), json=body)

    @endpoint
    def list(self, *, current_page: int = 1, per_page: int = 20) -> Call[Page[Webhook]]:
        return Call(
            "GET",
            api("/webhooks"),
            page_of("webhooks", Webhook),
            params=paging(current_page, per_page),
        )

    @endpoint
    def get(self, webhook_id: str) -> Call[Webhook]:
        return Call("GET", api(f"/webhooks/{seg(webhook_id)}"), model(Webhook))

    @endpoint
    def update(self, webhook_id: str, changes: dict[str, Any]) -> Call[Webhook]:
        """``display_name``, ``webhook_url``, ``webhook_events`` or ``is_enabled``."""
        return Call("PUT", api(f"/webhooks/{seg(webhook_id)}"), model(Webhook), json=changes)

    @endpoint
    def delete(self, webhook_id: str) -> Call[None]:
        return Call("DELETE", api(f"/webhooks/{seg(webhook_id)}"), parse_none)

    @endpoint
    def rotate_secret(self, webhook_id: str) -> Call[CreatedWebhook]:
        path = api(f"/webhooks/{seg(webhook_id)}/rotate-secret")
        return Call("POST", path, model(CreatedWebhook))

    @endpoint
    def deliveries(
        self, webhook_id: str, *, current_page: int = 1, per_page: int = 20
    ) -> Call[Page[WebhookDelivery]]:
        return Call(
            "GET",
            api(f"/webhooks/{seg(webhook_id)}/deliveries"),
            page_of("deliveries", WebhookDelivery),
            params=paging(current_page, per_page),
        )

    @endpoint
    def redeliver(self, delivery_id: str) -> Call[WebhookDelivery]:
        path = api(f"/webhooks/deliveries/{seg(delivery_id)}/redeliver")
        return Call("POST", path, model(WebhookDelivery))

    @endpoint
    def test(self, webhook_id: str) -> Call[WebhookTest]:
        """Send a signed ``webhook.test`` event now; the receiver's answer comes back."""
        return Call("POST", api(f"/webhooks/{seg(webhook_id)}/test"), model(WebhookTest))
