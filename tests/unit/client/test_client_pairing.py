"""``runyard login --device``'s polling loop against a scripted server: it waits ``interval``
between polls, adds 5 s after each ``slow_down`` (RFC 8628), and stops on a denial."""

from __future__ import annotations

import json

import httpx
import pytest
import typer

from runyard_client.cli.pairing import pair_device
from tests.unit.client.client_mocks import error, make_client

STARTED = {
    "device_code": "pc-secret",
    "user_code": "BCDF-GHJK",
    "verification_uri": "http://api.test/#/pair",
    "verification_uri_complete": "http://api.test/#/pair?user_code=BCDF-GHJK",
    "expires_in": 600,
    "interval": 2,
}


def scripted(polls: list[httpx.Response]) -> tuple[list[str], object]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert "authorization" not in request.headers  # pairing needs no credential
        if request.url.path.endswith("/start"):
            assert json.loads(request.content) == {"device_name": "box", "with_agent_key": True}
            return httpx.Response(200, json=STARTED)
        assert json.loads(request.content) == {"device_code": "pc-secret"}
        return polls.pop(0)

    return seen, handler


def test_polls_every_interval_and_slows_down_by_five_seconds() -> None:
    approved = {"status": "approved", "device_key": "dk-x", "agent_key": "ak-y", "team_id": "t"}
    seen, handler = scripted(
        [
            httpx.Response(200, json={"status": "pending"}),
            error(400, "slow_down"),
            httpx.Response(200, json={"status": "pending"}),
            httpx.Response(200, json=approved),
        ]
    )
    sleeps: list[float] = []
    with make_client(handler, api_key=None) as client:  # type: ignore[arg-type]
        paired = pair_device(client, "box", True, sleep=sleeps.append)
    assert (paired.device_key, paired.agent_key, paired.team_id) == ("dk-x", "ak-y", "t")
    assert sleeps == [2, 2, 7, 7]
    assert seen[0].endswith("/desktop/pair/start") and len(seen) == 5


@pytest.mark.parametrize(("code", "exit_code"), [("access_denied", 3), ("expired_token", 1)])
def test_a_denied_or_expired_pairing_exits_non_zero(code: str, exit_code: int) -> None:
    _, handler = scripted([error(400, code)])
    with make_client(handler, api_key=None) as client, pytest.raises(typer.Exit) as exited:  # type: ignore[arg-type]
        pair_device(client, "box", True, sleep=lambda s: None)
    assert exited.value.exit_code == exit_code
