from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from runyard.api_docs import errors
from runyard.db.base import new_id
from runyard.deps import ClockDep, SettingsDep, TeamAdmin, UnitDep
from runyard.models import Webhook, WebhookDelivery
from runyard.pagination import PageDep
from runyard.providers import provider
from runyard.webhooks.delivery import Attempt, WebhookWorker
from runyard.webhooks.schemas import (
    DeliveryList,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookSecret,
    WebhookTestResult,
    WebhookUpdate,
)
from runyard.webhooks.service import WebhookService

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _read(hook: Webhook) -> WebhookRead:
    return WebhookRead.model_validate(hook, from_attributes=True)


def _delivery(row: WebhookDelivery, first_delay: float) -> DeliveryRead:
    read = DeliveryRead.model_validate(row, from_attributes=True)
    if row.attempt_count == 0 and read.next_attempt_at is not None:
        # A new row holds the event time; the schedule's first delay applies on top.
        read.next_attempt_at += timedelta(seconds=first_delay)
    return read


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    operation_id="webhooks_create",
    responses=errors(422),
)
async def create_webhook(
    body: WebhookCreate, principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep
) -> WebhookCreated:
    """Subscribe an `https://` URL to terminal task events. The secret is shown only here (and
    on rotation); every delivery is signed with it (see docs/webhooks.md)."""
    service = WebhookService(uow, clock, settings.webhook)
    hook, secret = await service.create(principal.team, body)
    return WebhookCreated(id=hook.id, webhook_secret=secret)


@router.get("", response_model=WebhookList, operation_id="webhooks_list", responses=errors())
async def list_webhooks(
    principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep, page: PageDep
) -> WebhookList:
    """The team's webhooks, newest first (never their secrets)."""
    hooks, total = await WebhookService(uow, clock, settings.webhook).page(
        principal.team, page.offset, page.per_page
    )
    return WebhookList(webhooks=[_read(h) for h in hooks], page_meta=page.meta(total))


@router.get(
    "/{webhook_id}",
    response_model=WebhookRead,
    operation_id="webhooks_get",
    responses=errors(404),
)
async def get_webhook(
    webhook_id: str, principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep
) -> WebhookRead:
    """One webhook: its subscription and whether it is enabled (and if not, why)."""
    return _read(await WebhookService(uow, clock, settings.webhook).get(principal.team, webhook_id))


@router.put(
    "/{webhook_id}",
    response_model=WebhookRead,
    operation_id="webhooks_update",
    responses=errors(404, 422),
)
async def update_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    principal: TeamAdmin,
    uow: UnitDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> WebhookRead:
    """Change the name, URL or events, or enable/disable; omitted fields are kept."""
    service = WebhookService(uow, clock, settings.webhook)
    return _read(await service.update(principal.team, webhook_id, body))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    operation_id="webhooks_delete",
    responses=errors(404),
)
async def delete_webhook(
    webhook_id: str, principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """Delete a webhook and its delivery log; nothing more is sent to it."""
    await WebhookService(uow, clock, settings.webhook).delete(principal.team, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookSecret,
    operation_id="webhooks_rotate_secret",
    responses=errors(404),
)
async def rotate_secret(
    webhook_id: str, principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep
) -> WebhookSecret:
    """A new secret, shown only here. The next attempt (retries included) is signed with it only."""
    hook, secret = await WebhookService(uow, clock, settings.webhook).rotate(
        principal.team, webhook_id
    )
    return WebhookSecret(id=hook.id, webhook_secret=secret)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    operation_id="webhooks_deliveries",
    responses=errors(404),
)
async def list_deliveries(
    webhook_id: str,
    principal: TeamAdmin,
    uow: UnitDep,
    clock: ClockDep,
    settings: SettingsDep,
    page: PageDep,
) -> DeliveryList:
    """The webhook's delivery log, newest first: status, attempts, the last attempt's status
    code, latency and error, and when the next attempt is due."""
    rows, total = await WebhookService(uow, clock, settings.webhook).delivery_page(
        principal.team, webhook_id, page.offset, page.per_page
    )
    return DeliveryList(
        deliveries=[_delivery(r, settings.webhook.retry_schedule[0]) for r in rows],
        page_meta=page.meta(total),
    )


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=202,
    operation_id="webhooks_redeliver",
    responses=errors(404, 409),
)
async def redeliver(
    delivery_id: str, principal: TeamAdmin, uow: UnitDep, clock: ClockDep, settings: SettingsDep
) -> DeliveryRead:
    """Send the event again now, as a new delivery with the same `webhook-id` and body."""
    row = await WebhookService(uow, clock, settings.webhook).redeliver(principal.team, delivery_id)
    return _delivery(row, settings.webhook.retry_schedule[0])


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookTestResult,
    operation_id="webhooks_test",
    responses=errors(404),
)
async def test_webhook(
    webhook_id: str,
    principal: TeamAdmin,
    uow: UnitDep,
    clock: ClockDep,
    settings: SettingsDep,
    worker: Annotated[WebhookWorker, Depends(provider("webhooks", WebhookWorker))],
) -> WebhookTestResult:
    """Send a signed `webhook.test` event to the webhook now (also when it is disabled) and
    answer what the receiver said: the quickest check of a URL, a secret and a verifier. The
    test is not kept in the delivery log and is not retried."""
    hook, payload = await WebhookService(uow, clock, settings.webhook).test_attempt(
        principal.team, webhook_id
    )
    event_id = "msg_" + new_id().replace("-", "")
    attempt = Attempt("test", 1, event_id, hook.webhook_url, hook.webhook_secret, payload)
    outcome = await worker.sender.send(attempt)
    return WebhookTestResult(
        delivered=outcome.succeeded,
        event_id=event_id,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        payload=payload,
    )
