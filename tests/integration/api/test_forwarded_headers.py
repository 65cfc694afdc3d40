"""Per-address limits count the peer's address, not one it claims (issue 32, item 7): on a real
uvicorn server configured as ``runyard serve`` configures it, ``X-Forwarded-For`` is trusted only
from the proxies named by ``RUNYARD_HTTP_FORWARDED_ALLOW_IPS`` (none by default; uvicorn alone
trusts 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from runyard.app import create_app
from runyard.settings import HttpSettings
from tests.support.app import make_settings
from tests.support.databases import sqlite_copy
from tests.support.live import live_server, live_settings, provision_team


@contextmanager
def _server(template: Path, tmp_path: Path, proxies: list[str]) -> Iterator[str]:
    db_url = sqlite_copy(template, tmp_path / "live.db")
    settings, port = live_settings(
        make_settings,
        db_url,
        tmp_path / "data",
        http=HttpSettings(forwarded_allow_ips=proxies),
    )
    provision_team(settings, email="owner@example.com")
    with live_server(create_app(settings, background=False), port, settings) as url:
        yield url


def _failed_logins(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [
            client.post(
                "/api/v1/auth/login",
                json={"email_address": "owner@example.com", "user_password": "wrong-password"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(count)
        ]


def _pairing_starts(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [
            client.post(
                "/api/v1/desktop/pair/start",
                json={"device_name": "laptop"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(count)
        ]


def test_a_rotating_forwarded_for_does_not_escape_per_address_limits(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    with _server(_sqlite_template, tmp_path, []) as url:
        logins = _failed_logins(url, 12)
        assert logins[:10] == [401] * 10 and logins[10:] == [429, 429], logins
        starts = _pairing_starts(url, 21)
        assert starts[:20] == [200] * 20 and starts[20] == 429, starts


def test_a_configured_proxy_is_trusted(_sqlite_template: Path, tmp_path: Path) -> None:
    with _server(_sqlite_template, tmp_path, ["127.0.0.1"]) as url:
        # Each forwarded address has its own budget: no 429 for 12 failures from 12 addresses.
        assert _failed_logins(url, 12) == [401] * 12
