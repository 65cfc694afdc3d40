"""Deleting a team against a real server, on the embedded store and on the S3 test server:
its running task is cancelled on its agent, the agent is disconnected, its keys and sessions
stop working, and nothing it stored is left; the other team keeps everything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from tests.acceptance.conftest import BUCKET, Stack, acked_sleep
from tests.support.fake_agent import FakeAgent


def stored_keys(stack: Stack, prefix: str) -> list[str]:
    if stack.leg == "e2e-sqlite-local":
        root = Path(stack.env["RUNYARD_DATA_DIR"]) / "objects"
        return [str(p.relative_to(root)) for p in (root / prefix).rglob("*") if p.is_file()]
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.env["RUNYARD_S3_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def upload_as(stack: Stack, key: str) -> str:
    p = httpx.post(
        f"{stack.base}/files/presign",
        headers=stack.headers(key),
        json={"file_name": "a.txt", "file_size": 5, "content_type": "text/plain"},
    )
    body = p.json()
    put = httpx.put(body["upload_url"], content=b"other", headers=body["upload_headers"])
    assert put.status_code == 200, put.text
    return str(body["file_key"])


async def test_a_deleted_team_leaves_nothing_running_usable_or_stored(stack: Stack) -> None:
    team, other = stack.team, stack.other_team
    assert other is not None
    owner = stack.session_headers()
    agent = FakeAgent(stack.url, team.agent_key, "doomed")
    await agent.connect()
    try:
        await asyncio.to_thread(stack.upload, b"team input")
        other_key = await asyncio.to_thread(upload_as, stack, other.integration_key)
        task_id = await acked_sleep(stack, agent)
        grant = await agent.output_url(task_id, 1, "image", 6)
        put = httpx.put(grant["upload_url"], content=b"output", headers=grant["upload_headers"])
        assert put.status_code == 200, put.text
        waiting = await asyncio.to_thread(stack.run, "sleep-gpu", {"seconds": 0})
        assert stored_keys(stack, f"inputs/{team.team_id}/")
        assert stored_keys(stack, f"outputs/{team.team_id}/")

        url = f"{stack.url}/api/v1/teams/{team.team_id}"
        untyped = httpx.request("DELETE", url, headers=owner, json={})
        assert untyped.status_code == 422
        wrong = httpx.request("DELETE", url, headers=owner, json={"team_name": "my team"})
        assert wrong.status_code == 422 and wrong.json()["error_code"] == "team_name_mismatch"
        deleted = httpx.request("DELETE", url, headers=owner, json={"team_name": "My team"})
        assert deleted.status_code == 204, deleted.text

        cancel = await agent.expect("task.cancel", timeout=10)
        assert cancel["task_id"] == task_id
        try:  # then the connection is closed
            await agent.expect("server.welcome", timeout=10)
            raise AssertionError("the agent's connection stayed open")
        except ConnectionError:
            assert agent.close_code is not None
    finally:
        await agent.close()

    for kind in ("integration_key", "device_key"):
        r = httpx.get(f"{stack.base}/tasks/{waiting}", headers=stack.headers(getattr(team, kind)))
        assert r.status_code == 401, (kind, r.text)
    in_team = httpx.get(f"{stack.base}/tasks", headers={**owner, "X-Team-ID": team.team_id})
    assert in_team.status_code == 403 and in_team.json()["error_code"] == "not_a_member"
    me = httpx.get(f"{stack.url}/api/v1/users/me", headers=owner).json()
    assert me["teams"] == []
    reconnect = FakeAgent(stack.url, team.agent_key, "doomed")
    try:
        await reconnect.connect()
        raise AssertionError("the deleted team's agent key still connects")
    except Exception as exc:  # refused at the handshake or closed before the welcome
        assert not isinstance(exc, AssertionError)
    finally:
        await reconnect.close()
    assert stored_keys(stack, f"inputs/{team.team_id}/") == []
    assert stored_keys(stack, f"outputs/{team.team_id}/") == []
    # the other team is untouched
    assert other_key in stored_keys(stack, f"inputs/{other.team_id}/")
    r = httpx.get(f"{stack.base}/tasks", headers=stack.headers(other.integration_key))
    assert r.status_code == 200


def test_a_removed_members_event_stream_ends_at_once(stack: Stack) -> None:
    import time

    owner = stack.session_headers()
    team = stack.team.team_id
    invited = httpx.post(
        f"{stack.url}/api/v1/teams/{team}/invitations",
        headers=owner,
        json={"email_address": "watcher@example.com", "role": "viewer"},
    ).json()
    joined = httpx.post(
        f"{stack.url}/api/v1/invitations/accept",
        json={"token": invited["accept_url"].split("token=")[1], "password": "watch-password"},
    ).json()
    watcher = {"Authorization": f"Bearer {joined['access_token']}"}
    me = httpx.get(f"{stack.url}/api/v1/users/me", headers=watcher).json()
    task_id = stack.run("sleep", {"seconds": 1})  # no agent: the task waits, the stream stays
    with httpx.stream(
        "GET",
        f"{stack.base}/tasks/{task_id}/events",
        headers=watcher,
        timeout=httpx.Timeout(30, read=30),
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        removed = httpx.delete(f"{stack.url}/api/v1/teams/{team}/members/{me['id']}", headers=owner)
        assert removed.status_code == 204
        started = time.monotonic()
        rest = list(lines)  # ends when the server closes the stream
        assert time.monotonic() - started < 10
    assert any("not_a_member" in line for line in rest)
    again = httpx.get(f"{stack.base}/tasks/{task_id}", headers={**watcher, "X-Team-ID": team})
    assert again.status_code == 403 and again.json()["error_code"] == "not_a_member"
