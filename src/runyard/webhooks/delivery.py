"""The delivery worker: a ``BackgroundLoop`` in every server process, woken after a commit
that queued deliveries, else polling every ``poll_interval``.

One pass: (1) a short unit of work claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
SQLite has one writer) and leases them (``locked_until``, ``attempt_count + 1``), so one worker
sends each attempt however many processes run; (2) with **no** transaction open, each attempt is
signed afresh and POSTed; (3) each outcome is recorded in its own short unit of work, fenced by
the attempt number. A process killed between (1) and (3) leaves a lease that runs out, and the
attempt is made again (receivers deduplicate on ``webhook-id``)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.db.unit import connection_held
from runyard.settings import WebhookSettings
from runyard.webhooks.outbound import AddressPolicy, AddressRefused, PinnedTransport
from runyard.webhooks.repository import DeliveryRepository
from runyard.webhooks.service import DeliveryLog, Outcome
from runyard.webhooks.signing import signed_headers

log = logging.getLogger("runyard.webhooks")
BATCH = 50
MAX_INFLIGHT = 200  # attempts in flight per process
LEASE_MARGIN = 30.0  # seconds a lease outlives the attempt's timeout
ERROR_LIMIT = 500


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempt: int
    event_id: str
    url: str
    secret: str
    payload: dict[str, Any]


def body_of(payload: dict[str, Any]) -> bytes:
    """The same bytes on every attempt (compact JSON of the stored payload)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender:
    """POSTs one signed attempt through the pinned transport; never raises for the network."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            transport=PinnedTransport(AddressPolicy(settings)),
            follow_redirects=False,
            timeout=settings.timeout,
        )

    async def send(self, attempt: Attempt) -> Outcome:
        if connection_held():
            raise RuntimeError("a webhook was sent while a database transaction is open")
        body = body_of(attempt.payload)
        headers = signed_headers(attempt.secret, attempt.event_id, int(time.time()), body)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.timeout):
                response = await self.client.post(attempt.url, content=body, headers=headers)
        except AddressRefused as exc:
            return Outcome(None, _ms(started), f"refused: {exc}"[:ERROR_LIMIT])
        except TimeoutError:
            return Outcome(None, _ms(started), f"timed out after {self.settings.timeout} s")
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT])
        error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            error += " (redirects are not followed)"
        return Outcome(response.status_code, _ms(started), error)

    async def close(self) -> None:
        await self.client.aclose()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class WebhookWorker(BackgroundLoop):
    name = "webhooks"

    def __init__(
        self,
        db: Database,
        settings: WebhookSettings,
        clock: Clock,
        sender: WebhookSender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings.poll_interval)
        self.db = db
        self.settings = settings
        self.clock = clock
        self.sender = sender or WebhookSender(settings)
        self.rng = rng or random.Random()
        self._inflight: set[asyncio.Task[None]] = set()

    async def run_once(self) -> object:
        # Attempts run beside the loop: a slow receiver never delays the next event's attempt.
        return await self.deliver_due(wait=False)

    async def deliver_due(self, *, wait: bool = True) -> int:
        """Claim what is due and send it (and, with ``wait``, record every outcome before
        returning); the number of attempts started."""
        room = min(BATCH, MAX_INFLIGHT - len(self._inflight))
        if room <= 0:
            return 0
        attempts = await self._claim(room)
        tasks = []
        for attempt in attempts:
            task = asyncio.create_task(self._attempt(attempt), name="runyard-webhook-attempt")
            self._inflight.add(task)
            task.add_done_callback(self._done)
            tasks.append(task)
        if wait and tasks:
            await asyncio.gather(*tasks)
        if len(attempts) == room:
            self.wake()  # more may be due
        return len(attempts)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook attempt failed", exc_info=task.exception())
        if len(self._inflight) == MAX_INFLIGHT - 1:
            self.wake()

    async def _claim(self, limit: int) -> list[Attempt]:
        now = self.clock.now()
        first_due = now - timedelta(seconds=self.settings.retry_schedule[0])
        lease = now + timedelta(seconds=self.settings.timeout + LEASE_MARGIN)
        async with self.db.unit() as uow:
            claimed = await DeliveryRepository(uow.session).claim_due(now, first_due, limit)
            attempts = []
            for row, hook in claimed:
                row.attempt_count += 1
                row.locked_until = lease
                attempts.append(
                    Attempt(
                        row.id,
                        row.attempt_count,
                        row.event_id,
                        hook.webhook_url,
                        hook.webhook_secret,
                        dict(row.payload),
                    )
                )
        return attempts

    async def _attempt(self, attempt: Attempt) -> None:
        outcome = await self.sender.send(attempt)
        log.info(
            "webhook delivery=%s attempt=%d status=%s latency_ms=%d %s",
            attempt.delivery_id,
            attempt.attempt,
            outcome.status_code,
            outcome.latency_ms,
            outcome.error,
        )
        async with self.db.unit() as uow:
            await DeliveryLog(uow, self.settings, self.rng).record(
                attempt.delivery_id, attempt.attempt, outcome, self.clock.now()
            )

    async def stop(self) -> None:
        """Attempts still in flight are abandoned: their leases run out and they are retried."""
        await super().stop()
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self.sender.close()
