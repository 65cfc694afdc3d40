"""The gateway's log stays quiet about clients that merely go away (issue 32, item 8): a client
that closes before its hello leaves no traceback, and a refused handshake (bad key) is not an
ERROR. On a real uvicorn server configured as ``runyard serve`` configures it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import websockets.sync.client as wsc
from websockets.exceptions import InvalidStatus

from runyard.app import create_app
from tests.support.app import make_settings
from tests.support.databases import sqlite_copy
from tests.support.live import live_server, live_settings, provision_team


def test_clients_that_go_away_leave_no_traceback(
    _sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_url = sqlite_copy(_sqlite_template, tmp_path / "live.db")
    settings, port = live_settings(make_settings, db_url, tmp_path / "data")
    team = provision_team(settings)
    caplog.set_level(logging.INFO)
    with live_server(create_app(settings, background=False), port, settings) as url:
        ws_url = url.replace("http://", "ws://") + "/api/v1/agent/ws"
        for _ in range(3):
            # Accepted, then gone before the hello.
            with wsc.connect(
                ws_url, additional_headers={"Authorization": f"Bearer {team.agent_key}"}
            ) as ws:
                ws.close()
            with (  # refused: a bad key
                pytest.raises(InvalidStatus),
                wsc.connect(ws_url, additional_headers={"Authorization": "Bearer ak-nope"}),
            ):
                pass
        time.sleep(0.5)  # the server notices the closes
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert noisy == [], [(r.name, r.levelname, r.getMessage()) for r in noisy]
