"""The dashboard ships inside the package and ``/`` serves it with the security headers and a
CSP that allows only this server's own scripts (no inline script, no eval)."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from starlette.testclient import TestClient

from runyard.app import create_app
from runyard.dashboard import STATIC_PACKAGE
from tests.support.app import make_settings


def test_static_assets_are_package_data() -> None:
    static = files(STATIC_PACKAGE) / "static"
    for name in ("index.html", "app.css", "js/main.js", "js/app.js", "vendor/preact-htm.js"):
        assert (static / name).is_file(), name
    assert "Apache License" in (static / "vendor" / "LICENSES.txt").read_text()
    # Every file ships in the wheel: the package-data globs reach each folder depth in use.
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    root = Path(str(static))
    for path in root.rglob("*"):
        if path.is_file():
            depth = len(path.relative_to(root).parts)
            assert f'"dashboard/static/{"/".join(["*"] * depth)}"' in pyproject, path


def test_root_serves_the_dashboard_with_security_headers(tmp_path: Path) -> None:
    app = create_app(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "data"),
        background=False,
    )
    client = TestClient(app)  # no lifespan: static routes need no services
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/js/main.js">' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None  # no inline script
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self' http://testserver" in csp

    module = client.get("/ui/js/main.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert module.headers["content-security-policy"] == csp
    assert module.headers["cache-control"] == "no-cache" and module.headers["etag"]
    # the API keeps its own, stricter policy
    api = client.get("/api/v1/r/tasks")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert client.get("/ui/nope.js").status_code == 404
    pair = client.get("/pair?user_code=ABCD-1234")  # the device-pairing address: the same page
    assert pair.status_code == 200 and pair.text == page.text
    assert pair.headers["content-security-policy"] == csp
