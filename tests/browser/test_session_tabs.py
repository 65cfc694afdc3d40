"""Sessions across tabs: a second tab opens signed in (the first hands the session over, nothing
in localStorage or cookies), a refused access token in one tab is renewed through the leading
tab without signing anybody out, and signing out (or in) in one tab does it in all."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in


def test_a_second_tab_is_signed_in_and_sign_out_is_everywhere(page: Page, dev: Dev) -> None:
    sign_in(page, dev)
    second = page.context.new_page()
    second.goto(dev.url + "/#/tasks")
    expect(second.get_by_role("button", name="Sign out")).to_be_visible()
    expect(second.get_by_role("heading", name="Tasks")).to_be_visible()
    assert second.evaluate("Object.keys(localStorage).length") == 0
    assert page.context.cookies() == []
    shot(second, dev, "tabs-01-second-tab-signed-in")

    # The second tab's access token is refused: it asks the leading (first) tab instead of
    # presenting the shared refresh token itself, and both go on with the same session.
    before = json.loads(page.evaluate("sessionStorage.getItem('runyard.session')"))
    refreshes: list[str] = []
    second.on("request", lambda r: refreshes.append(r.url) if "/auth/refresh" in r.url else None)
    second.evaluate(
        """() => { const t = JSON.parse(sessionStorage.getItem('runyard.session'));
        t.access_token = 'not-a-token'; sessionStorage.setItem('runyard.session',
        JSON.stringify(t)); }"""
    )
    second.reload()
    expect(second.get_by_role("button", name="Sign out")).to_be_visible()
    expect(second.get_by_role("heading", name="Tasks")).to_be_visible()
    page.get_by_role("link", name="Agents").click()
    expect(page.get_by_role("heading", name="Agents")).to_be_visible()
    assert refreshes == []
    adopted = json.loads(second.evaluate("sessionStorage.getItem('runyard.session')"))
    assert adopted == before  # the leader's pair, handed over

    second.get_by_role("button", name="Sign out").click()
    expect(second.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    shot(page, dev, "tabs-02-signed-out-everywhere")

    sign_in(page, dev)
    expect(second.get_by_role("button", name="Sign out")).to_be_visible()
    second.close()
