"""Admin pages: credentials (secret shown once, copy, revoke), members (add, role, remove) with
the team switcher, the device pairing page, and a ComfyUI export imported with its parameters
picked in the page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Dev, assert_labelled, shot, sign_in

COMFY_GRAPH = {
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 42, "steps": 20, "cfg": 7.5, "model": ["4", 0], "denoise": 1},
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "10": {
        "class_type": "LoadImage",
        "inputs": {"image": "example.png"},
        "_meta": {"title": "Photo"},
    },
    "9": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "out"}},
}


def test_credentials_create_copy_revoke(page: Page, dev: Dev) -> None:
    sign_in(page, dev)
    page.get_by_role("link", name="Credentials").click()
    page.get_by_label("Name").fill("browser-ci")
    page.get_by_role("button", name="Create").click()
    raw = page.locator("#raw-key").inner_text()
    assert raw.startswith("sk-")
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    shot(page, dev, "admin-01-secret-once")
    assert raw not in page.url
    assert page.evaluate("JSON.stringify(sessionStorage)").find(raw) < 0
    headers = {"Authorization": f"Bearer {raw}"}
    assert httpx.get(dev.api + "/r/workflows", headers=headers).status_code == 200

    page.get_by_role("button", name="Done").click()
    expect(page.locator("#raw-key")).to_have_count(0)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Revoke browser-ci").click()
    expect(page.get_by_role("row", name=re.compile("browser-ci")).locator(".badge")).to_have_text(
        "revoked"
    )
    shot(page, dev, "admin-02-revoked")
    assert httpx.get(dev.api + "/r/workflows", headers=headers).status_code == 401


def _create_user(dev: Dev, email: str, password: str, team: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env["RUNYARD_DB_URL"] = f"sqlite+aiosqlite:///{dev.data_dir / 'runyard.db'}"
    subprocess.run(
        [sys.executable, "-m", "runyard", "admin", "create-user", "--email", email,
         "--password", password, "--team", team],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_members_and_team_switch(page: Page, dev: Dev) -> None:
    email, password = "second@example.com", "second-password-1"
    _create_user(dev, email, password, "Second team")
    sign_in(page, dev)
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Invite").click()
    link = page.locator("#invite-link").inner_text()
    expect(page.get_by_role("row", name=re.compile(email))).to_be_visible()  # pending
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(link)  # signed in: one button, as this user
    page.get_by_role("button", name="Join the team").click()
    switch = page.get_by_label("Team", exact=True)
    expect(switch.locator("option")).to_have_count(2)
    expect(switch).to_have_value(dev.creds["team_id"])  # the team just joined
    expect(page.get_by_role("link", name="Image to image")).to_be_visible()
    expect(page.get_by_role("link", name="Import a workflow")).to_have_count(0)  # a viewer
    expect(page.get_by_role("link", name="Members")).to_have_count(0)
    page.get_by_role("link", name="Image to image").click()
    expect(page.get_by_text("Viewers cannot start runs.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Runyard")).to_be_visible()
    sign_in(page, dev, "/#/members")
    role = page.get_by_label(f"Role of {email}")
    expect(role).to_have_value("viewer")
    role.select_option("member")
    expect(role).to_have_value("member")
    shot(page, dev, "admin-03-members")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Remove {email}").click()
    expect(page.get_by_role("cell", name=email)).to_have_count(0)


def test_pair_page_posts_the_code(page: Page, dev: Dev) -> None:
    seen: list[dict[str, object]] = []

    def confirm(route: Route) -> None:
        seen.append({"body": route.request.post_data_json, "headers": route.request.headers})
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"status": "approved", "device_name": "Studio laptop"}),
        )

    page.route("**/api/v1/desktop/pair/confirm", confirm)
    page.route(
        "**/api/v1/desktop/pair/lookup",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps(
                {
                    "device_name": "Studio laptop",
                    "with_agent_key": False,
                    "pairing_status": "pending",
                    "created_at": "2026-01-01T00:00:00Z",
                    "expires_at": "2026-01-01T00:10:00Z",
                }
            ),
        ),
    )
    sign_in(page, dev, "/pair?user_code=WXYZ-1234")  # the address a device shows
    code = page.get_by_label("Code from the device")
    expect(code).to_have_value("WXYZ-1234")
    expect(page.get_by_text("Device asking: Studio laptop")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="Studio laptop")).to_be_visible()
    shot(page, dev, "admin-04-pair-approved")
    assert seen[0]["body"] == {"user_code": "WXYZ-1234"}
    headers = seen[0]["headers"]
    assert isinstance(headers, dict)
    assert headers["authorization"].startswith("Bearer ")
    assert headers["x-team-id"] == dev.creds["team_id"]

    # The server's own answer (a contract error body) is shown as it is.
    page.unroute("**/api/v1/desktop/pair/confirm")
    refusal = {
        "error_message": "No pairing waits for this code.",
        "error_code": "pairing_not_found",
        "request_id": "r1",
    }
    page.route(
        "**/api/v1/desktop/pair/confirm",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body=json.dumps(refusal)
        ),
    )
    page.unroute("**/api/v1/desktop/pair/lookup")  # without a lookup the form still works
    page.goto(dev.url + "/#/pair?user_code=NOPE-0000")  # the same form, routed in the fragment
    expect(code).to_have_value("NOPE-0000")
    expect(page.get_by_text("Device asking")).to_have_count(0)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("No pairing waits for this code.")

    decided: list[object] = []

    def deny(route: Route) -> None:
        decided.append(route.request.post_data_json)
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"status": "denied", "device_name": "Unknown box"}),
        )

    page.route("**/api/v1/desktop/pair/deny", deny)
    code.fill("EVIL-0001")
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("status").filter(has_text="Unknown box")).to_contain_text("Denied")
    assert decided == [{"user_code": "EVIL-0001"}]


def test_comfyui_export_import_picks_parameters(page: Page, dev: Dev, tmp_path: Path) -> None:
    export = tmp_path / "portrait_api.json"
    export.write_text(json.dumps(COMFY_GRAPH))
    sign_in(page, dev, "/#/workflows/import")
    page.get_by_label("Workflow file").set_input_files(str(export))
    expect(
        page.get_by_role("heading", name="ComfyUI export: choose the parameters")
    ).to_be_visible()
    expect(page.get_by_label("Slug")).to_have_value("portrait-api")
    page.get_by_label("KSampler #3").and_(page.locator("[id^=pick-]")).first.check()  # seed
    page.get_by_label("Photo #10").check()
    expect(page.get_by_label("Type for 10.image")).to_have_value("file")
    page.get_by_label("Key for 10.image").fill("photo")
    assert_labelled(page)
    shot(page, dev, "admin-05-comfy-pick")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="portrait_api")).to_be_visible()
    expect(page.get_by_role("cell", name="3.seed")).to_be_visible()
    expect(page.get_by_role("cell", name="10.image")).to_be_visible()
    expect(page.locator("td > code", has_text=re.compile("^photo$"))).to_be_visible()
    expect(page.get_by_label(re.compile("^Photo · image"))).to_have_attribute("type", "file")
