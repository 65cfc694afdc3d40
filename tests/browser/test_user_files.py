"""User files never run as script on the server's origin (issue 32, item 3): a task output named
``x.js`` declared ``application/javascript`` and downloaded from the embedded store (same origin
as the dashboard) satisfies the dashboard's ``script-src 'self'``; the store serves such types as
``application/octet-stream`` (with ``nosniff``), so Chromium refuses to run it. The download
itself still works: same bytes, same file name."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.browser.conftest import Dev, shot

SCRIPT = b"window.__userFileRan = true;\n"


def _output_url(dev: Dev, name: str, content_type: str, data: bytes) -> str:
    """Run the built-in echo on a file: the signed download URL of its copy."""
    auth = {"Authorization": f"Bearer {dev.creds['integration_key']}"}
    with httpx.Client(base_url=dev.api + "/r", headers=auth, timeout=10) as client:
        p = client.post(
            "/files/presign",
            json={"file_name": name, "file_size": len(data), "content_type": content_type},
        ).json()
        put = httpx.put(p["upload_url"], content=data, headers=p["upload_headers"], timeout=10)
        assert put.status_code == 200, put.text
        run = client.post(
            "/workflows/slug/echo/run", json={"parameters": {"input_file": p["file_key"]}}
        )
        assert run.status_code == 202, run.text
        task_id = run.json()["task_id"]
        deadline = time.monotonic() + 60
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = client.get(f"/tasks/{task_id}").json()
            if task["task_status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.2)
        assert task["task_status"] == "completed", task
        result = client.get(f"/tasks/{task_id}/result").json()
        return str(result["download_url"])


def test_a_javascript_output_does_not_run_on_the_dashboard(page: Page, dev: Dev) -> None:
    url = _output_url(dev, "x.js", "application/javascript", SCRIPT)
    assert url.startswith(dev.url), url  # the embedded store: the dashboard's own origin
    page.goto(dev.url + "/")  # the dashboard, with its Content-Security-Policy
    outcome = page.evaluate(
        """(src) => new Promise((resolve) => {
            const script = document.createElement("script");
            script.src = src;
            script.onload = () => resolve(window.__userFileRan === true ? "ran" : "loaded");
            script.onerror = () => resolve(window.__userFileRan === true ? "ran" : "refused");
            document.head.appendChild(script);
        })""",
        url,
    )
    shot(page, dev, "user-file-script-refused")
    assert outcome == "refused", outcome
    download = httpx.get(url, timeout=10)
    assert download.status_code == 200 and download.content == SCRIPT
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "x.js" in download.headers["content-disposition"]


def test_html_and_svg_outputs_are_inert_downloads(dev: Dev) -> None:
    for name, content_type, data in (
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("image.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    ):
        got = httpx.get(_output_url(dev, name, content_type, data), timeout=10)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"] == "application/octet-stream", name
        assert got.headers["content-disposition"].startswith("attachment"), name
