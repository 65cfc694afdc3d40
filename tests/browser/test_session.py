"""Sign in, refresh rotation on a 401, team switcher, sign out; the phone-width layout."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, assert_labelled, shot, sign_in


def _tokens(page: Page) -> dict[str, str]:
    return dict(json.loads(page.evaluate("sessionStorage.getItem('runyard.session')")))


def test_sign_in_rotate_and_sign_out(page: Page, dev: Dev) -> None:
    page.goto(dev.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    page.get_by_label("Email address").fill(dev.creds["email_address"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    shot(page, dev, "session-01-refused")

    sign_in(page, dev)
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    expect(page.get_by_role("link", name="Image to image")).to_be_visible()
    expect(page.get_by_label("Team")).to_have_value(dev.creds["team_id"])
    assert page.evaluate("Object.keys(localStorage).length") == 0
    shot(page, dev, "session-02-workflows")

    # An access token the server refuses: the next call rotates the pair and goes on.
    first = _tokens(page)
    page.evaluate(
        """() => { const t = JSON.parse(sessionStorage.getItem('runyard.session'));
        t.access_token = 'not-a-token'; sessionStorage.setItem('runyard.session',
        JSON.stringify(t)); }"""
    )
    page.reload()
    expect(page.get_by_role("link", name="Image to image")).to_be_visible()
    second = _tokens(page)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != "not-a-token"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('runyard.session')") is None
    # logout ended the session: its refresh token no longer works
    r = httpx.post(dev.api + "/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401


def test_phone_width(page: Page, dev: Dev) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, dev, "/#/tasks")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    shot(page, dev, "session-03-phone-tasks")
    page.get_by_role("link", name="Agents").click()
    # The tasks page (left behind) names local-agent too: wait for the agents page first.
    expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="local-agent")).to_be_visible()
    shot(page, dev, "session-04-phone-agents")


def test_keyboard_only_sign_in_and_labelled_controls(page: Page, dev: Dev) -> None:
    page.goto(dev.url + "/#/tasks")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Email address").focus()
    page.keyboard.type(dev.creds["email_address"])
    page.keyboard.press("Tab")
    page.keyboard.type(dev.creds["user_password"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    for path in ("/#/tasks", "/#/workflows/import", "/#/credentials", "/#/members", "/#/pair"):
        page.goto(dev.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert_labelled(page)
    page.goto(dev.url + "/#/workflows")
    page.get_by_role("link", name="Image to image").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Image to image")).to_be_focused()  # new page's top
    expect(page.get_by_label(re.compile("^Input image"))).to_be_visible()
    assert_labelled(page)
