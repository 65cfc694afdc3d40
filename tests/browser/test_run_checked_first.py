"""Check before upload in the run form: a file of a type the workflow does not accept is
refused (next to its field) before anything is presigned or PUT; a good file then runs."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in


def test_a_bad_parameter_is_refused_before_any_upload(page: Page, dev: Dev, tmp_path: Path) -> None:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    sign_in(page, dev)
    page.get_by_role("link", name="Image to image").click()
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    page.get_by_label(re.compile("^Input image")).set_input_files(str(notes))
    page.get_by_role("button", name="Run", exact=True).click()
    problem = page.locator("#param-input_image-error")
    expect(problem).to_contain_text("text/plain is not accepted")
    shot(page, dev, "runs-checked-01-refused-before-upload")
    assert any(s.endswith("/validate") for s in sent), sent
    assert not any("/presign" in s or s.startswith("PUT ") for s in sent), sent

    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), "teal").save(photo)
    page.get_by_label(re.compile("^Input image")).set_input_files(str(photo))
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]+$"))
    assert any("/presign" in s for s in sent)
