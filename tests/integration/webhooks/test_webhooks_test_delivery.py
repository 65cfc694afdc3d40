"""The test delivery (`POST /webhooks/{id}/test`): a signed `webhook.test` event sent at once,
the receiver's answer reported, nothing kept in the delivery log; another team's webhook and
other credentials refused."""

from __future__ import annotations

import json

from tests.support.app import Harness, Team
from tests.support.receiver import receiver
from tests.support.webhook_docs import verify_both


async def create(h: Harness, team: Team, url: str) -> dict[str, str]:
    r = await h.client.post(
        "/api/v1/webhooks",
        headers=team.auth(),
        json={"display_name": "t", "webhook_url": url, "webhook_events": ["task.completed"]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_test_delivery_reaches_the_receiver_signed(harness: Harness, team_a: Team) -> None:
    with receiver() as rx:
        hook = await create(harness, team_a, rx.url)
        r = await harness.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=team_a.auth())
        assert r.status_code == 200, r.text
        (got,) = rx.received
    body = r.json()
    assert body["delivered"] is True and body["status_code"] == 200 and body["error"] == ""
    event = json.loads(got.body)
    assert event == body["payload"]
    assert event["event_type"] == "webhook.test" and event["webhook_id"] == hook["id"]
    assert got.headers["webhook-id"] == body["event_id"]
    assert verify_both(hook["webhook_secret"], got.headers, got.body)
    log = await harness.client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=team_a.auth()
    )
    assert log.json()["deliveries"] == []


async def test_a_failing_receiver_is_reported_not_raised(harness: Harness, team_a: Team) -> None:
    with receiver(statuses=[503]) as rx:
        hook = await create(harness, team_a, rx.url)
        r = await harness.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=team_a.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["delivered"] is False and body["status_code"] == 503
    assert body["error"] == "HTTP 503"
    with receiver() as rx:
        port = rx.port
    hook = await create(harness, team_a, f"http://127.0.0.1:{port}/gone")
    r = await harness.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=team_a.auth())
    body = r.json()
    assert body["delivered"] is False and body["status_code"] is None and body["error"]


async def test_another_teams_webhook_and_other_keys_are_refused(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    with receiver() as rx:
        hook = await create(harness, team_a, rx.url)
        other = await harness.client.post(
            f"/api/v1/webhooks/{hook['id']}/test", headers=team_b.auth()
        )
        assert other.status_code == 404 and other.json()["error_code"] == "webhook_not_found"
        sk = await harness.client.post(
            f"/api/v1/webhooks/{hook['id']}/test", headers=team_a.auth("integration")
        )
        assert sk.status_code == 403, sk.text
        assert rx.received == []
