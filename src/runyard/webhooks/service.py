"""Managing webhooks and recording delivery attempts. Never commits, except to release the
request's connection before a registration-time DNS lookup (as the run path does before a
store HEAD)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runyard.clock import Clock, iso_z
from runyard.db.base import new_id
from runyard.db.unit import UnitOfWork
from runyard.errors import Conflict, NotFound, Unprocessable
from runyard.models import Webhook, WebhookDelivery
from runyard.settings import WebhookSettings
from runyard.webhooks.outbound import AddressPolicy, AddressRefused
from runyard.webhooks.repository import DeliveryRepository, WebhookRepository
from runyard.webhooks.retries import next_attempt_at
from runyard.webhooks.schemas import WebhookCreate, WebhookUpdate
from runyard.webhooks.signing import new_secret

log = logging.getLogger("runyard.webhooks")
TEST_EVENT = "webhook.test"


class WebhookService:
    def __init__(self, uow: UnitOfWork, clock: Clock, settings: WebhookSettings) -> None:
        self.uow = uow
        self.repo = WebhookRepository(uow.session)
        self.deliveries = DeliveryRepository(uow.session)
        self.clock = clock
        self.policy = AddressPolicy(settings)

    async def _check_url(self, url: str) -> None:
        try:
            self.policy.check_url(url)
            # The DNS lookup is network I/O: no connection held meanwhile.
            await self.uow.commit()
            await self.policy.check(url)
        except AddressRefused as exc:
            raise Unprocessable(
                f"webhook_url is not allowed: {exc}.", code="webhook_url_not_allowed"
            ) from None

    async def get(self, team_id: str, webhook_id: str) -> Webhook:
        hook = await self.repo.get(team_id, webhook_id)
        if hook is None:
            raise NotFound("No such webhook in this team.", code="webhook_not_found")
        return hook

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[Webhook], int]:
        return await self.repo.page(team_id, offset, limit)

    async def create(self, team_id: str, body: WebhookCreate) -> tuple[Webhook, str]:
        await self._check_url(body.webhook_url)
        now = self.clock.now()
        secret = new_secret()
        hook = Webhook(
            id=new_id(),
            team_id=team_id,
            display_name=body.display_name,
            webhook_url=body.webhook_url,
            webhook_events=list(body.webhook_events),
            webhook_secret=secret,
            is_enabled=True,
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(hook)
        return hook, secret

    async def update(self, team_id: str, webhook_id: str, body: WebhookUpdate) -> Webhook:
        if body.webhook_url is not None:
            await self._check_url(body.webhook_url)
        hook = await self.get(team_id, webhook_id)
        if body.display_name is not None:
            hook.display_name = body.display_name
        if body.webhook_url is not None:
            hook.webhook_url = body.webhook_url
        if body.webhook_events is not None:
            hook.webhook_events = list(body.webhook_events)
        if body.is_enabled is not None and body.is_enabled != hook.is_enabled:
            hook.is_enabled = body.is_enabled
            hook.consecutive_failures, hook.failing_since = 0, None
            hook.disabled_at = None if body.is_enabled else self.clock.now()
            hook.disabled_reason = None if body.is_enabled else "disabled by an administrator"
            if body.is_enabled:
                self.uow.wake_webhooks()  # its pending deliveries resume
        hook.updated_at = self.clock.now()
        return hook

    async def delete(self, team_id: str, webhook_id: str) -> None:
        await self.repo.delete(await self.get(team_id, webhook_id))

    async def rotate(self, team_id: str, webhook_id: str) -> tuple[Webhook, str]:
        hook = await self.get(team_id, webhook_id)
        hook.webhook_secret = new_secret()
        hook.updated_at = self.clock.now()
        return hook, hook.webhook_secret

    async def test_attempt(self, team_id: str, webhook_id: str) -> tuple[Webhook, dict[str, Any]]:
        """The webhook and a test event for it; the caller sends it once the reads are
        committed (no connection is held while the receiver answers)."""
        hook = await self.get(team_id, webhook_id)
        payload = {
            "event_type": TEST_EVENT,
            "webhook_id": hook.id,
            "timestamp": iso_z(self.clock.now()),
        }
        await self.uow.commit()
        return hook, payload

    async def delivery_page(
        self, team_id: str, webhook_id: str, offset: int, limit: int
    ) -> tuple[list[WebhookDelivery], int]:
        hook = await self.get(team_id, webhook_id)
        return await self.deliveries.page(hook.id, offset, limit)

    async def redeliver(self, team_id: str, delivery_id: str) -> WebhookDelivery:
        """A new delivery of the same event (same ``webhook-id``, same body), due now."""
        old = await self.deliveries.get(team_id, delivery_id)
        if old is None:
            raise NotFound("No such delivery in this team.", code="delivery_not_found")
        hook = await self.get(team_id, old.webhook_id)
        if not hook.is_enabled:
            raise Conflict(
                "The webhook is disabled; enable it (PUT is_enabled: true) first.",
                code="webhook_disabled",
            )
        now = self.clock.now()
        row = WebhookDelivery(
            id=new_id(),
            team_id=team_id,
            webhook_id=hook.id,
            task_id=old.task_id,
            event_type=old.event_type,
            event_id=old.event_id,
            payload=old.payload,
            delivery_status="pending",
            attempt_count=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
        self.deliveries.add(row)
        self.uow.wake_webhooks()
        return row


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: a status code (any answer) or an error (no answer)."""

    status_code: int | None
    latency_ms: int
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryLog:
    """Records an attempt's outcome: success, the next retry, the end of the schedule, and the
    automatic disable of a webhook after a long run of failures."""

    def __init__(self, uow: UnitOfWork, settings: WebhookSettings, rng: random.Random) -> None:
        self.repo = DeliveryRepository(uow.session)
        self.settings = settings
        self.rng = rng

    async def record(self, delivery_id: str, attempt: int, outcome: Outcome, now: datetime) -> None:
        found = await self.repo.lock(delivery_id)
        if found is None:
            return  # the webhook was deleted meanwhile
        row, hook = found
        if row.delivery_status != "pending" or row.attempt_count != attempt:
            return  # our lease ran out and another worker took the row
        row.locked_until = None
        row.last_attempt_at = now
        row.last_status_code = outcome.status_code
        row.last_latency_ms = outcome.latency_ms
        row.last_error = outcome.error
        if outcome.succeeded:
            row.delivery_status, row.completed_at, row.next_attempt_at = "succeeded", now, None
            hook.consecutive_failures, hook.failing_since = 0, None
            return
        s = self.settings
        row.next_attempt_at = next_attempt_at(
            now, row.attempt_count, s.retry_schedule, s.retry_jitter, self.rng
        )
        if row.next_attempt_at is None:
            row.delivery_status, row.completed_at = "failed", now
        hook.consecutive_failures += 1
        hook.failing_since = hook.failing_since or now
        failing_for = now - hook.failing_since
        if (
            hook.is_enabled
            and hook.consecutive_failures >= s.disable_after_failures
            and failing_for >= timedelta(seconds=s.disable_after_seconds)
        ):
            hook.is_enabled = False
            hook.disabled_at = now
            last = outcome.error or outcome.status_code
            hook.disabled_reason = (
                f"{hook.consecutive_failures} consecutive failed attempts over "
                f"{int(failing_for.total_seconds())} s; last: {last}"
            )
            log.warning("webhook %s disabled: %s", hook.id, hook.disabled_reason)
