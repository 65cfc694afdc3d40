"""Every query on webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, or_, select

from runyard.db.repository import Repository
from runyard.models import Webhook, WebhookDelivery

# Asked by every unit of work that ends a task: built once.
_ENABLED = (
    select(Webhook)
    .where(Webhook.team_id == bindparam("team_id"), Webhook.is_enabled.is_(True))
    .order_by(Webhook.id)
)


class WebhookRepository(Repository):
    async def get(self, team_id: str, webhook_id: str) -> Webhook | None:
        hook = await self.session.get(Webhook, webhook_id)
        return hook if hook is not None and hook.team_id == team_id else None

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[Webhook], int]:
        where = Webhook.team_id == team_id
        total = await self.session.scalar(select(func.count()).select_from(Webhook).where(where))
        rows = await self.session.scalars(
            select(Webhook)
            .where(where)
            .order_by(Webhook.created_at.desc(), Webhook.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def enabled(self, team_id: str) -> list[Webhook]:
        """The team's enabled webhooks (a team has few)."""
        return list(await self.session.scalars(_ENABLED, {"team_id": team_id}))

    async def delete(self, hook: Webhook) -> None:
        await self.session.delete(hook)


class DeliveryRepository(Repository):
    async def get(self, team_id: str, delivery_id: str) -> WebhookDelivery | None:
        row = await self.session.get(WebhookDelivery, delivery_id)
        return row if row is not None and row.team_id == team_id else None

    async def page(
        self, webhook_id: str, offset: int, limit: int
    ) -> tuple[list[WebhookDelivery], int]:
        where = WebhookDelivery.webhook_id == webhook_id
        total = await self.session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(where)
        )
        rows = await self.session.scalars(
            select(WebhookDelivery)
            .where(where)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def claim_due(
        self, now: datetime, first_due_before: datetime, limit: int
    ) -> list[tuple[WebhookDelivery, Webhook]]:
        """Pending deliveries whose attempt is due, of enabled webhooks, not leased by another
        worker; locked (rows another process holds are skipped: one worker per row)."""
        D = WebhookDelivery
        due = or_(
            and_(D.attempt_count == 0, D.next_attempt_at <= first_due_before),
            and_(D.attempt_count > 0, D.next_attempt_at <= now),
        )
        rows = await self.session.execute(
            select(D, Webhook)
            .join(Webhook, Webhook.id == D.webhook_id)
            .where(
                D.delivery_status == "pending",
                due,
                or_(D.locked_until.is_(None), D.locked_until <= now),
                Webhook.is_enabled.is_(True),
            )
            .order_by(D.next_attempt_at, D.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=D)
        )
        return [(d, h) for d, h in rows.tuples()]

    async def lock(self, delivery_id: str) -> tuple[WebhookDelivery, Webhook] | None:
        row = (
            await self.session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id == delivery_id)
                .with_for_update()  # the webhook too: its failure count is updated
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def prune(self, finished_before: datetime) -> None:
        """Drop the log of deliveries that ended (succeeded or failed) before the cutoff."""
        await self.session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.delivery_status.in_(("succeeded", "failed")),
                WebhookDelivery.completed_at < finished_before,
            )
        )
