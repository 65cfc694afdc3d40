"""Delivery against a real receiver on 127.0.0.1: signed events that verify with the documented
snippets, retries with the same webhook-id, rotation, redelivery, the delivery log, auto-disable,
the outbox joining the terminal transaction, and the connect-time address check."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import func, select

from runyard.models import Task, WebhookDelivery
from runyard.tasks import lifecycle
from runyard.webhooks.delivery import WebhookWorker
from tests.support import tasks as drive
from tests.support.app import Harness, Team
from tests.support.receiver import Receiver, receiver
from tests.support.webhook_docs import documented_functions, verify_both

PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 64
ALL = ["task.completed", "task.failed", "task.cancelled"]


def worker(h: Harness) -> WebhookWorker:
    w: WebhookWorker = h.app.state.services.webhooks
    return w


async def new_task(h: Harness, team: Team) -> str:
    key = await h.upload(team, PNG)
    r = await h.client.post(
        "/api/v1/r/workflows/slug/img2img/run",
        headers=team.auth("integration"),
        json={"parameters": {"input_image": key}},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


async def cancel(h: Harness, team: Team, task_id: str) -> None:
    r = await h.client.post(f"/api/v1/r/tasks/{task_id}/cancel", headers=team.auth("integration"))
    assert r.status_code == 200, r.text


async def hook(h: Harness, team: Team, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = await h.client.post(
        "/api/v1/webhooks",
        headers=team.auth(),
        json={"display_name": "t", "webhook_url": url, "webhook_events": events or ALL},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def deliveries(h: Harness, team: Team, hook_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=team.auth())
    assert r.status_code == 200, r.text
    return list(r.json()["deliveries"])


async def webhook(h: Harness, team: Team, hook_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/api/v1/webhooks/{hook_id}", headers=team.auth())
    return dict(r.json())


async def received(rx: Receiver, count: int) -> list[Any]:
    return await asyncio.to_thread(rx.wait_for, count, 10.0)


async def test_a_completed_task_is_delivered_signed_and_logged(
    harness: Harness, team_a: Team
) -> None:
    with receiver() as rx:
        created = await hook(harness, team_a, rx.url)
        task_id = await new_task(harness, team_a)
        await drive.complete(harness, task_id, {"image": b"out"})
        assert await worker(harness).deliver_due() == 1
        (got,) = await received(rx, 1)
    event = json.loads(got.body)
    assert set(event) == {
        "event_type",
        "task_id",
        "task_status",
        "workflow_slug",
        "workflow_version",
        "task_output",
        "task_error",
        "error_code",
        "error_message",
        "timestamp",
    }
    assert event["workflow_slug"] == "img2img" and event["workflow_version"] == 1
    assert event["error_code"] is None and event["error_message"] == ""
    assert event["event_type"] == "task.completed" and event["task_id"] == task_id
    assert event["task_status"] == "completed" and event["task_error"] == ""
    assert [o["output_id"] for o in event["task_output"]["outputs"]] == ["image"]
    assert event["timestamp"].endswith("Z")
    assert got.headers["content-type"] == "application/json"
    assert verify_both(created["webhook_secret"], got.headers, got.body)
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 10

    (log,) = await deliveries(harness, team_a, created["id"])
    assert log["delivery_status"] == "succeeded" and log["attempt_count"] == 1
    assert log["last_status_code"] == 200 and log["last_error"] == ""
    assert log["last_latency_ms"] is not None and log["next_attempt_at"] is None
    assert log["event_id"] == got.headers["webhook-id"] and log["task_id"] == task_id
    # The result stays fetchable through the API: the webhook is not the only copy.
    result = await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    assert result.json()["task_output"] == event["task_output"]


async def test_failed_and_cancelled_events_and_subscriptions(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    with receiver() as rx, receiver() as other:
        failed_only = await hook(harness, team_a, rx.url, ["task.failed"])
        await hook(harness, team_b, other.url)  # another team's webhook hears nothing of A
        cancelled = await new_task(harness, team_a)
        await cancel(harness, team_a, cancelled)
        failing = await new_task(harness, team_a)
        async with harness.app.state.services.db.unit() as uow:
            task = await uow.session.get(Task, failing)
            assert task is not None
            lifecycle.fail(uow, task, harness.clock.now(), "timed_out", "took too long")
        assert await worker(harness).deliver_due() == 1
        (got,) = await received(rx, 1)
        assert other.received == []
    event = json.loads(got.body)
    assert event["event_type"] == "task.failed" and event["task_id"] == failing
    assert event["task_error"] == "took too long" and event["task_output"] is None
    assert event["error_code"] == "timed_out" and event["error_message"] == "took too long"
    assert verify_both(failed_only["webhook_secret"], got.headers, got.body)


async def test_a_failing_receiver_gets_the_event_later_with_the_same_webhook_id(
    harness: Harness, team_a: Team
) -> None:
    with receiver(statuses=[500, 503]) as rx:
        created = await hook(harness, team_a, rx.url)
        task_id = await new_task(harness, team_a)
        await cancel(harness, team_a, task_id)
        assert await worker(harness).deliver_due() == 1
        (log,) = await deliveries(harness, team_a, created["id"])
        assert log["delivery_status"] == "pending" and log["attempt_count"] == 1
        assert log["last_status_code"] == 500 and log["last_error"] == "HTTP 500"
        assert log["next_attempt_at"] is not None
        assert await worker(harness).deliver_due() == 0  # not due yet: 1 s later
        harness.clock.advance(seconds=1.5)
        assert await worker(harness).deliver_due() == 1
        harness.clock.advance(seconds=1.5)
        assert await worker(harness).deliver_due() == 1
        attempts = await received(rx, 3)
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1  # the same bytes every time
    for a in attempts:
        assert verify_both(created["webhook_secret"], a.headers, a.body)
    (log,) = await deliveries(harness, team_a, created["id"])
    assert log["delivery_status"] == "succeeded" and log["attempt_count"] == 3
    assert log["event_id"] == attempts[0].headers["webhook-id"]
    assert (await webhook(harness, team_a, created["id"]))["consecutive_failures"] == 0


async def test_an_unreachable_receiver_is_retried_until_the_schedule_ends(
    harness: Harness, team_a: Team
) -> None:
    with receiver() as rx:
        dead = rx.url
    created = await hook(harness, team_a, dead)  # nothing listens there any more
    await cancel(harness, team_a, await new_task(harness, team_a))
    for _ in range(5):
        assert await worker(harness).deliver_due() == 1
        harness.clock.advance(seconds=1.5)
    assert await worker(harness).deliver_due() == 0
    (log,) = await deliveries(harness, team_a, created["id"])
    assert log["delivery_status"] == "failed" and log["attempt_count"] == 5
    assert log["last_status_code"] is None and "ConnectError" in log["last_error"]
    assert log["next_attempt_at"] is None and log["completed_at"] is not None


async def test_rotation_signs_the_next_attempt_with_the_new_secret_only(
    harness: Harness, team_a: Team
) -> None:
    with receiver(statuses=[500]) as rx:
        created = await hook(harness, team_a, rx.url)
        old = created["webhook_secret"]
        await cancel(harness, team_a, await new_task(harness, team_a))
        await worker(harness).deliver_due()
        r = await harness.client.post(
            f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=team_a.auth()
        )
        new = r.json()["webhook_secret"]
        harness.clock.advance(seconds=1.5)
        await worker(harness).deliver_due()
        first, second = await received(rx, 2)
    fns = documented_functions()
    assert verify_both(old, first.headers, first.body)
    assert verify_both(new, second.headers, second.body)
    assert not fns["verify_signature_256"](
        old, second.body, second.headers["x-webhook-signature-256"]
    )
    assert not fns["verify_standard_webhook"](old, second.headers, second.body)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_redelivery_sends_the_same_event_again(harness: Harness, team_a: Team) -> None:
    with receiver() as rx:
        created = await hook(harness, team_a, rx.url)
        await cancel(harness, team_a, await new_task(harness, team_a))
        await worker(harness).deliver_due()
        (log,) = await deliveries(harness, team_a, created["id"])
        r = await harness.client.post(
            f"/api/v1/webhooks/deliveries/{log['id']}/redeliver", headers=team_a.auth()
        )
        assert r.status_code == 202, r.text
        again = r.json()
        assert again["id"] != log["id"] and again["event_id"] == log["event_id"]
        assert again["delivery_status"] == "pending"
        await worker(harness).deliver_due()
        first, second = await received(rx, 2)
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert len(await deliveries(harness, team_a, created["id"])) == 2


async def test_redirects_are_not_followed(harness: Harness, team_a: Team) -> None:
    with receiver(statuses=[302]) as rx:
        created = await hook(harness, team_a, rx.url)
        await cancel(harness, team_a, await new_task(harness, team_a))
        await worker(harness).deliver_due()
        await received(rx, 1)
    (log,) = await deliveries(harness, team_a, created["id"])
    assert log["last_status_code"] == 302 and log["delivery_status"] == "pending"
    assert "redirects are not followed" in log["last_error"]


async def test_a_long_run_of_failures_disables_the_webhook(harness: Harness, team_a: Team) -> None:
    settings = harness.settings.webhook
    settings.disable_after_failures, settings.disable_after_seconds = 3, 1.0
    with receiver(statuses=[500] * 6) as rx:
        created = await hook(harness, team_a, rx.url)
        for _ in range(3):
            await cancel(harness, team_a, await new_task(harness, team_a))
        assert await worker(harness).deliver_due() == 3  # 3 failures, but within 1 s
        assert (await webhook(harness, team_a, created["id"]))["is_enabled"] is True
        harness.clock.advance(seconds=1.5)
        assert await worker(harness).deliver_due() == 3  # 6 failures over 1.5 s
        state = await webhook(harness, team_a, created["id"])
        assert state["is_enabled"] is False and state["disabled_at"]
        assert "consecutive failed attempts" in state["disabled_reason"]
        assert state["consecutive_failures"] == 6
        # Disabled: new events are not queued, pending ones wait.
        await cancel(harness, team_a, await new_task(harness, team_a))
        harness.clock.advance(seconds=1.5)
        assert await worker(harness).deliver_due() == 0
        assert len(await deliveries(harness, team_a, created["id"])) == 3
        r = await harness.client.put(
            f"/api/v1/webhooks/{created['id']}", headers=team_a.auth(), json={"is_enabled": True}
        )
        assert r.json()["is_enabled"] is True and r.json()["disabled_reason"] is None
        assert await worker(harness).deliver_due() == 3  # the receiver answers 200 now
        await received(rx, 9)
    logs = await deliveries(harness, team_a, created["id"])
    assert {d["delivery_status"] for d in logs} == {"succeeded"}


async def test_the_outbox_row_commits_or_rolls_back_with_the_terminal_state(
    harness: Harness, team_a: Team
) -> None:
    await hook(harness, team_a, "http://127.0.0.1:9/never")
    task_id = await new_task(harness, team_a)
    db = harness.app.state.services.db

    async def count() -> int:
        async with db.session() as session:
            n = await session.scalar(select(func.count()).select_from(WebhookDelivery))
            return int(n or 0)

    class Abort(Exception):
        pass

    try:
        async with db.unit() as uow:
            task = await uow.session.get(Task, task_id)
            assert task is not None
            lifecycle.cancel(uow, task, harness.clock.now())
            raise Abort
    except Abort:
        pass
    assert await count() == 0
    async with db.session() as session:
        task = await session.get(Task, task_id)
        assert task is not None and task.task_status == "pending"
    async with db.unit() as uow:
        task = await uow.session.get(Task, task_id)
        assert task is not None
        lifecycle.cancel(uow, task, harness.clock.now())
    assert await count() == 1


async def test_one_worker_per_attempt_and_stale_reports_are_ignored(
    harness: Harness, team_a: Team
) -> None:
    created = await hook(harness, team_a, "http://127.0.0.1:9/never")
    await cancel(harness, team_a, await new_task(harness, team_a))
    services = harness.app.state.services
    other = WebhookWorker(services.db, harness.settings.webhook, harness.clock)
    try:
        first = await worker(harness)._claim(10)
        assert len(first) == 1 and first[0].attempt == 1
        assert await other._claim(10) == []  # leased by the first worker
        harness.clock.advance(seconds=harness.settings.webhook.timeout + 31)
        second = await other._claim(10)  # the lease ran out: the attempt is made again
        assert len(second) == 1 and second[0].attempt == 2
        assert second[0].event_id == first[0].event_id
        from runyard.webhooks.service import DeliveryLog, Outcome

        async with services.db.unit() as uow:  # the first worker reports late: ignored
            await DeliveryLog(uow, harness.settings.webhook, worker(harness).rng).record(
                first[0].delivery_id, 1, Outcome(200, 5, ""), harness.clock.now()
            )
        (log,) = await deliveries(harness, team_a, created["id"])
        assert log["delivery_status"] == "pending" and log["attempt_count"] == 2
    finally:
        await other.sender.close()


async def test_a_name_resolving_to_a_private_address_is_refused_at_connect_time(
    harness: Harness, team_a: Team
) -> None:
    with receiver() as rx:
        local = f"http://localhost:{rx.port}/hook"
        created = await hook(harness, team_a, local)  # allowed while allow_private is on
        harness.settings.webhook.allow_private = False
        r = await harness.client.post(
            "/api/v1/webhooks",
            headers=team_a.auth(),
            json={"webhook_url": local, "webhook_events": ALL},
        )
        assert r.status_code == 422 and r.json()["error_code"] == "webhook_url_not_allowed"
        await cancel(harness, team_a, await new_task(harness, team_a))
        assert await worker(harness).deliver_due() == 1
        await asyncio.sleep(0.2)
        assert rx.received == []  # never connected
    (log,) = await deliveries(harness, team_a, created["id"])
    assert log["last_status_code"] is None and log["delivery_status"] == "pending"
    assert log["last_error"].startswith("refused: localhost is not an allowed webhook target")


async def test_the_worker_is_woken_by_the_commit_that_ends_the_task(
    harness: Harness, team_a: Team
) -> None:
    """The poll interval is 30 s here: only the after-commit wake-up can explain a fast send."""
    w = worker(harness)
    w.start()
    try:
        with receiver() as rx:
            await hook(harness, team_a, rx.url)
            task_id = await new_task(harness, team_a)
            started = time.monotonic()
            await cancel(harness, team_a, task_id)
            (got,) = await received(rx, 1)
        latency = got.at - started
        print(f"first-attempt latency after the terminal commit: {latency * 1000:.0f} ms")
        assert latency < 1.0, latency
    finally:
        await w.stop()
        w.sender = type(w.sender)(harness.settings.webhook)  # the app's stop closes it again
    assert json.loads(got.body)["task_id"] == task_id


async def test_the_sweeper_prunes_finished_deliveries_after_the_events_retention(
    harness: Harness, team_a: Team
) -> None:
    with receiver() as rx:
        created = await hook(harness, team_a, rx.url)
        await cancel(harness, team_a, await new_task(harness, team_a))
        await worker(harness).deliver_due()
        await received(rx, 1)
    pending = await hook(harness, team_a, "http://127.0.0.1:9/never")
    await cancel(harness, team_a, await new_task(harness, team_a))
    await worker(harness).deliver_due()
    harness.clock.advance(seconds=harness.settings.retention.events + 60)
    await harness.app.state.services.sweeper.sweep_once()
    # The succeeded one is gone; the second event (its receiver is gone now) is still pending.
    async with harness.app.state.services.db.session() as session:
        rows = list(await session.scalars(select(WebhookDelivery)))
    by_hook = {(r.webhook_id, r.delivery_status) for r in rows}
    assert len(rows) == 2
    assert by_hook == {(created["id"], "pending"), (pending["id"], "pending")}
