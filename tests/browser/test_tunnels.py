"""A member opens an agent's ComfyUI in Chromium through a tunnel: the app (the repository's
ComfyUI stand-in, whose page calls absolute paths and opens /ws like ComfyUI's frontend) runs
beside a real agent that has no inbound port; the page loads at the tunnel origin, its socket
goes live and a queued prompt reports back over it. Then the tunnel is closed and the page
says so."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Dev, shot, sign_in
from tests.support.processes import Proc, python_cmd, wait_http, wait_until
from tests.support.s3 import free_port


@pytest.fixture
def comfy_tunnel_agent(dev: Dev, tmp_path: Path) -> Iterator[str]:
    """The stand-in and an agent for it (whose default tunnel port is the stand-in's)."""
    session = dev.session_headers()  # once: each login counts against the login rate limit
    # An agent_id of its own: the dev server (one per session) binds an agent_id to the first
    # agent key that used it, and each test makes a new key.
    agent_id = f"comfy-tunnel-{uuid.uuid4().hex[:6]}"
    key = httpx.post(
        dev.api + "/credentials",
        headers=session,
        json={"kind": "agent", "display_name": "tunnel agent"},
        timeout=10,
    ).json()["raw_key"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    port = free_port()
    standin = Proc(
        "comfyui-standin",
        python_cmd("-m", "runyard_testing.comfyui_standin", "--port", str(port)),
        env, tmp_path,
    )  # fmt: skip
    agent = Proc(
        "tunnel-agent",
        python_cmd("-m", "runyard_agent", "--agent-id", agent_id, "--labels", "comfyui",
                   "--work-dir", str(tmp_path), "--comfyui-url", f"http://127.0.0.1:{port}"),
        {**env, "RUNYARD_URL": dev.url, "RUNYARD_AGENT_KEY": key}, tmp_path,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/queue", proc=standin)
        wait_until(
            lambda: any(
                a["agent_id"] == agent_id and a["connected"]
                for a in httpx.get(dev.api + "/r/agents", headers=session).json()["agent_list"]
            ),
            90,  # bounded: an agent starting on a busy 2-core machine can take a while
        )
        yield agent_id
    finally:
        agent.stop()
        standin.stop()


def test_comfyui_opens_through_a_tunnel_with_its_socket_live(
    browser: Browser, dev: Dev, comfy_tunnel_agent: str
) -> None:
    headers = dev.session_headers()
    r = httpx.post(
        f"{dev.api}/agents/{comfy_tunnel_agent}/tunnels",
        headers=headers,
        json={"protocol": "http"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    tunnel = r.json()
    assert tunnel["url"].startswith("http://localhost:")  # its own origin, beside 127.0.0.1
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page: Page = context.new_page()
        page.goto(tunnel["url"])
        expect(page.locator("#version")).to_have_text("0.3.64")
        expect(page.locator("#socket")).to_have_text("live")
        expect(page.locator("#prompt")).to_have_text("done", timeout=20_000)
        # What the real frontend needs too: a large bundle and its modules, settings saved and
        # read back, a listing with a query string (the stand-in checks Host against Origin).
        expect(page.locator("#frontend")).to_have_text(
            "setting 200 1.27.10, userdata 404, bundle 4194304 bytes + 24 modules",
            timeout=30_000,
        )
        assert page.url.rstrip("/").endswith(tunnel["url"].split("/_runyard")[0].rsplit(":", 1)[1])
        shot(page, dev, "tunnel-comfyui-live")
        # The link was spent: opening it again (another browser) is refused.
        again = httpx.get(tunnel["url"], timeout=10)
        assert again.status_code == 410 and again.json()["error_code"] == "tunnel_link_expired"
        # Without the cookie nothing passes the tunnel origin.
        bare = httpx.get(tunnel["url"].split("/_runyard")[0] + "/api/system_stats", timeout=10)
        assert bare.status_code == 401
        httpx.delete(f"{dev.api}/tunnels/{tunnel['id']}", headers=headers, timeout=10)
        expect(page.locator("#socket")).to_contain_text("closed 4000", timeout=15_000)

        def closed_page() -> bool:
            page.reload()
            return "tunnel_closed" in page.content()

        wait_until(closed_page, 15)
    finally:
        context.close()


def test_the_agents_page_opens_comfyui_and_closes_tunnels(
    page: Page, dev: Dev, comfy_tunnel_agent: str
) -> None:
    sign_in(page, dev, "/#/agents")
    page.get_by_role("link", name=comfy_tunnel_agent).click()
    expect(page.get_by_role("heading", name=f"Agent {comfy_tunnel_agent}")).to_be_visible()
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Open ComfyUI", exact=True).click()
    comfy = opened.value
    expect(comfy.locator("#socket")).to_have_text("live")
    expect(comfy.locator("#version")).to_have_text("0.3.64")
    close_buttons = page.get_by_role("button", name=re.compile("^Close tunnel"))
    expect(close_buttons).to_have_count(1)
    expect(page.get_by_role("cell", name="http")).to_have_count(1)
    shot(page, dev, "agent-tunnels")
    close_buttons.first.click()
    expect(close_buttons).to_have_count(0)
    expect(page.get_by_role("cell", name=re.compile("^closed"))).to_have_count(1)
    expect(comfy.locator("#socket")).to_contain_text("closed 4000", timeout=15_000)
