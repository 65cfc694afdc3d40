"""The Webhooks page (/#/webhooks): add a receiver on this machine (`runyard dev` allows
http://127.0.0.1), the secret shown once, a test delivery that reaches the receiver signed,
the delivery log, disable/enable and delete."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, assert_labelled, shot, sign_in
from tests.support.receiver import receiver
from tests.support.webhook_docs import verify_both


def test_add_test_disable_delete_a_webhook(page: Page, dev: Dev) -> None:
    sign_in(page, dev)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    assert_labelled(page)
    with receiver() as rx:
        page.get_by_label("URL").fill(rx.url)
        page.get_by_label("Name").fill("local receiver")
        page.get_by_label("task.cancelled").uncheck()
        page.get_by_role("button", name="Add").click()
        secret = page.locator("#webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        shot(page, dev, "webhooks-01-secret-once")
        page.get_by_role("button", name="Done").click()
        row = page.get_by_role("row", name=re.compile("local receiver"))
        expect(row).to_contain_text("task.completed, task.failed")

        row.get_by_role("button", name="Send test").click()
        expect(page.locator("#test-result")).to_contain_text("Test event delivered: HTTP 200")
        (got,) = rx.wait_for(1)
        shot(page, dev, "webhooks-02-test-delivered")
    assert json.loads(got.body)["event_type"] == "webhook.test"
    assert verify_both(secret, got.headers, got.body)

    row.get_by_role("button", name="Deliveries").click()
    expect(page.get_by_text("No deliveries yet")).to_be_visible()
    row.get_by_role("button", name="Disable").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    shot(page, dev, "webhooks-03-disabled")
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("enabled")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()


def test_a_refused_url_says_why(page: Page, dev: Dev) -> None:
    sign_in(page, dev, "/#/webhooks")
    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Add").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("must start with https:// or http://")
    expect(alert).to_contain_text("webhook_url_not_allowed")
