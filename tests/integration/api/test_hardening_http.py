"""The HTTP edge on a real uvicorn server: header and query bounds in the error shape, a 500
that keeps the keep-alive connection usable, security headers, Swagger UI from the server itself,
CORS for browsers (API and embedded store), escaped access-log paths, agent connect limits."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets.sync.client as wsc
from websockets.exceptions import InvalidStatus

from runyard.app import create_app
from runyard.settings import HttpSettings, RateLimitSettings
from tests.support.app import make_settings
from tests.support.databases import sqlite_copy
from tests.support.live import live_server, live_settings, provision_team

ORIGIN = "https://app.example.com"


@dataclass
class Live:
    url: str
    integration_key: str

    @property
    def host(self) -> str:
        return str(urlsplit(self.url).netloc)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.integration_key}"}


@pytest.fixture
def live(_sqlite_template: Path, tmp_path: Path) -> Iterator[Live]:
    db_url = sqlite_copy(_sqlite_template, tmp_path / "live.db")
    settings, port = live_settings(
        make_settings,
        db_url,
        tmp_path / "data",
        http=HttpSettings(cors_allowed_origins=[ORIGIN]),
        rate_limit=RateLimitSettings(agent_connects="3/minute"),
    )
    team = provision_team(settings)
    app = create_app(settings, background=False)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with live_server(app, port, settings) as url:
        yield Live(url, team.integration_key)


def error_body(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = dict(r.json())
    assert set(body) >= {"error_message", "error_code", "request_id"}
    return body


def test_a_500_keeps_the_connection_and_the_error_shape(live: Live) -> None:
    conn = http.client.HTTPConnection(live.host, timeout=10)
    try:
        conn.request("GET", "/boom")
        first = conn.getresponse()
        body = json.loads(first.read())
        assert first.status == 500 and body["error_code"] == "internal_error"
        assert body["request_id"] and "a bug" not in json.dumps(body)
        sock = conn.sock
        conn.request("GET", "/healthz")
        second = conn.getresponse()
        second.read()
        assert second.status == 200
        assert conn.sock is sock  # the same keep-alive connection, not a reconnect
    finally:
        conn.close()


def test_header_count_and_size_are_bounded(live: Live) -> None:
    many = [(f"x-h{i}", "v") for i in range(5000)]
    with httpx.Client(base_url=live.url) as c:
        r = c.get("/healthz", headers=many)
        assert error_body(r, 431)["error_code"] == "headers_too_large"
        r = c.get("/healthz", headers={"x-big": "a" * (1024 * 1024)})
        assert error_body(r, 431)["error_code"] == "headers_too_large"
        assert c.get("/healthz", headers=[(f"x-h{i}", "v") for i in range(20)]).status_code == 200


def raw_get(live: Live, target: str) -> tuple[int, str, dict[str, Any]]:
    """(status, content type, JSON body) of a GET that httpx would refuse to send."""
    conn = http.client.HTTPConnection(live.host, timeout=10)
    try:
        conn.request("GET", target, headers=live.auth())
        r = conn.getresponse()
        return r.status, r.getheader("content-type") or "", json.loads(r.read())
    finally:
        conn.close()


def test_query_parameters_and_urls_are_bounded(live: Live) -> None:
    for query, status, code in (
        # past the HTTP parser's own limit: refused by uvicorn, in our shape
        ("&".join(f"p{i}=1" for i in range(10_000)), 400, "malformed_request"),
        ("&".join("p" for _ in range(10_000)), 414, "url_too_long"),
        ("&".join(f"p{i}" for i in range(500)), 400, "too_many_query_parameters"),
    ):
        got, content_type, body = raw_get(live, f"/api/v1/r/tasks?{query}")
        assert (got, body["error_code"]) == (status, code), body
        assert content_type.startswith("application/json") and body["request_id"], body
    assert raw_get(live, "/api/v1/r/tasks?per_page=2&current_page=1")[0] == 200


def test_security_headers_on_api_answers(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        for r in (c.get("/healthz"), c.get("/api/v1/r/tasks"), c.get("/openapi.json")):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "default-src 'none'" in r.headers["content-security-policy"]


def test_docs_are_served_without_a_cdn(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        for page in ("/docs", "/redoc"):
            html = c.get(page)
            assert html.status_code == 200
            assert "https://" not in html.text and "http://" not in html.text, html.text
            csp = html.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            r = c.get(f"/docs/static/{asset}")
            assert r.status_code == 200 and len(r.content) > 10_000
            assert r.headers["x-content-type-options"] == "nosniff"


def test_a_browser_can_presign_and_put(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        pre = c.options(
            "/api/v1/r/files/presign",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
        refused = c.options(
            "/api/v1/r/files/presign",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert error_body(refused, 400)["error_code"] == "cors_refused"
        presigned = c.post(
            "/api/v1/r/files/presign",
            headers={**live.auth(), "Origin": ORIGIN},
            json={"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"},
        )
        assert presigned.status_code == 200
        assert presigned.headers["access-control-allow-origin"] == ORIGIN
        body = presigned.json()
        put_pre = c.options(
            body["upload_url"],
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "if-none-match",
            },
        )
        assert put_pre.status_code == 200, put_pre.text
        assert "PUT" in put_pre.headers["access-control-allow-methods"]
        put = c.put(
            body["upload_url"], content=b"abc", headers={**body["upload_headers"], "Origin": ORIGIN}
        )
        assert put.status_code == 200, put.text
        assert put.headers["access-control-allow-origin"] == ORIGIN
        assert "etag" in put.headers["access-control-expose-headers"].lower()


def test_agent_connects_are_rate_limited(live: Live) -> None:
    ws_url = live.url.replace("http://", "ws://") + "/api/v1/agent/ws"
    statuses = []
    for _ in range(5):
        try:
            with wsc.connect(ws_url, additional_headers={"Authorization": "Bearer ak-guess"}):
                statuses.append(101)
        except InvalidStatus as exc:
            statuses.append(exc.response.status_code)
            last = exc.response
    assert statuses == [401, 401, 401, 429, 429], statuses
    assert int(last.headers["Retry-After"]) >= 1
    assert json.loads(last.body or b"{}")["error_code"] == "rate_limited"
