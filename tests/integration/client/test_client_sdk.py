"""The sync ``Client`` against the real app (in-process, SQLite): uploads, runs, tasks, errors."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from runyard.settings import LimitSettings
from runyard_client import (
    AuthenticationError,
    FileTooLarge,
    IdempotencyKeyReused,
    InvalidParameters,
    NotFoundError,
    PermissionDeniedError,
    Task,
    UploadError,
)
from runyard_client._uploads import status_call
from tests.integration.client.conftest import Live


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    return path


def test_upload_lands_bytes_and_echo_accepts_the_key(live: Live, photo: Path) -> None:
    seen: list[tuple[int, int]] = []
    with live.client() as client:
        key = client.upload(photo, progress=lambda sent, total: seen.append((sent, total)))
        assert key.startswith(f"inputs/{live.team.id}/") and key.endswith("/photo.png")
        assert seen[-1] == (photo.stat().st_size, photo.stat().st_size)
        task = client.run("echo", {"input_file": key})
        assert isinstance(task, Task) and not task.replayed
        info = task.refresh()
        assert info.task_status == "pending" and info.parameters["input_file"] == key
    put = next(r for r in live.transport.requests if r.method == "PUT")
    assert put.headers["If-None-Match"] == "*"
    assert put.headers["Content-Length"] == str(photo.stat().st_size)
    assert "Authorization" not in put.headers  # never send our key to the object store
    assert "transfer-encoding" not in put.headers


def test_the_object_store_has_the_bytes(live: Live, photo: Path) -> None:
    with live.client() as client:
        key = client.upload(photo)
    stored = live.harness.settings.data_dir
    matches = [p for p in stored.rglob("photo.png") if key.split("/")[-2] in str(p)]
    assert matches and matches[0].read_bytes() == photo.read_bytes()


def test_run_with_a_local_path_uploads_it_first(live: Live, photo: Path) -> None:
    with live.client() as client:
        task = client.run("echo", {"input_file": photo})
        info = client.tasks.get(task.id)
    assert info.parameters["input_file"].startswith(f"inputs/{live.team.id}/")


def test_run_with_an_at_string_uploads_only_for_file_parameters(live: Live, photo: Path) -> None:
    with live.client() as client:
        task = client.run("img2img", {"input_image": f"@{photo}", "prompt": "blur"})
        info = task.refresh()
    assert info.parameters["input_image"].endswith("/photo.png")
    assert info.parameters["prompt"] == "blur"


def test_run_by_workflow_id_and_by_slug_at_version(live: Live, photo: Path) -> None:
    with live.client() as client:
        wf = client.workflows.get_by_slug("echo")
        assert client.workflows.get(wf.id).workflow_slug == "echo"
        key = client.upload(photo)
        by_id = client.run(wf.id, {"input_file": key}).refresh()
        by_version = client.run(f"echo@{wf.version}", {"input_file": key}).refresh()
    assert by_id.workflow_id == wf.id == by_version.workflow_id


def test_idempotency_key_replays_the_same_task(live: Live, photo: Path) -> None:
    with live.client() as client:
        key = client.upload(photo)
        first = client.run("echo", {"input_file": key}, idempotency_key="k-1")
        again = client.run("echo", {"input_file": key}, idempotency_key="k-1")
        assert again.id == first.id and again.replayed and not first.replayed
        with pytest.raises(IdempotencyKeyReused) as caught:
            client.run("img2img", {"input_image": key}, idempotency_key="k-1")
    assert caught.value.status_code == 409
    assert caught.value.error_code == "idempotency_key_reused" and caught.value.request_id


def test_tasks_list_get_cancel_and_result_before_completion(live: Live, photo: Path) -> None:
    with live.client() as client:
        task = client.run("echo", {"input_file": photo})
        page = client.tasks.list(per_page=5)
        assert [t.id for t in page.items] == [task.id] and page.page_meta.total_count == 1
        assert client.tasks.list(task_status="completed").items == []
        result = task.result()
        assert result.task_status == "pending"
        assert result.task_output is None and result.download_url is None
        assert result.download_urls is None and result.expires_at is None
        cancelled = task.cancel()
        assert cancelled.is_success and task.refresh().task_status == "cancelled"
        assert task.cancel().is_success  # a terminal task is left as it is
        assert client.tasks.get(task.id).task_status == "cancelled"


def test_error_mapping(live: Live, photo: Path) -> None:
    with (
        live.client(api_key="sk-not-a-real-key") as client,
        pytest.raises(AuthenticationError) as e401,
    ):
        client.tasks.list()
    assert e401.value.status_code == 401 and e401.value.request_id

    with live.client("agent") as client, pytest.raises(PermissionDeniedError) as e403:
        client.tasks.list()
    assert e403.value.status_code == 403 and e403.value.error_code

    with live.client() as client:
        with pytest.raises(NotFoundError) as e404:
            client.tasks.get(str(uuid.uuid4()))
        assert e404.value.error_code == "task_not_found" and e404.value.request_id
        with pytest.raises(NotFoundError):
            client.run("no-such-workflow", {})

        with pytest.raises(FileTooLarge) as e413:
            client.files.presign("huge.bin", 524_288_001)
        assert e413.value.status_code == 413 and e413.value.error_code == "file_too_large"
        assert e413.value.request_id

        with pytest.raises(InvalidParameters) as e422:
            client.run("img2img", {"strength": 7})
        err = e422.value
        assert err.status_code == 422 and err.error_code == "invalid_parameters"
        assert {e["parameter"] for e in err.errors} >= {"input_image", "strength"}
        assert all(e["error_code"] and e["error_message"] for e in err.errors)


def test_management_writes_refuse_integration_keys(live: Live) -> None:
    definition = {
        "workflow_slug": "hello",
        "tool_type": "python",
        "workflow_json": {"entrypoint": "pkg.mod:fn"},
    }
    with live.client() as client, pytest.raises(PermissionDeniedError):
        client.workflows.import_(definition)
    with live.client("device") as client:
        wf = client.workflows.import_(definition)
        assert wf.workflow_slug == "hello" and wf.version == 1
        wf2 = client.workflows.update(wf.id, {"description": "v2"})
        assert wf2.version == 2
        client.workflows.delete(wf.id)
        with pytest.raises(NotFoundError):
            client.workflows.get(wf.id)


def test_over_the_limit_with_a_key_needs_a_session_token(live: Live, photo: Path) -> None:
    with (
        live.client("device", single_upload_limit=100) as client,
        pytest.raises(FileTooLarge) as caught,
    ):
        client.upload(photo)
    assert "session token" in str(caught.value)
    assert not any(r.url.path.endswith("/presign") for r in live.transport.requests)


def test_session_token_auth_and_device_keys(live: Live) -> None:
    with live.client("session") as client:
        me = client.auth.me()
        assert me.email_address == "alice@example.com" and me.teams[0].id == live.team.id
        created = client.credentials.create("integration", "ci", 30)
        assert created.raw_key.startswith("sk-")
        assert created.id in {c.id for c in client.credentials.list().items}
        client.credentials.revoke(created.id)
        assert client.agents.list().page_meta.total_count == 0
    with live.client(api_key=created.raw_key) as revoked, pytest.raises(AuthenticationError):
        revoked.tasks.list()


MIB = 1024 * 1024


@pytest.mark.parametrize("live_settings", [{"limits": LimitSettings(part_size=5 * MIB)}])
def test_multipart_parts_resume_and_run(live: Live, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MIB + 123))
    live.transport.drop = lambda r: r.method == "PUT" and r.url.params.get("partNumber") == "2"
    with live.client("session", single_upload_limit=MIB, max_retries=0) as client:
        with pytest.raises(UploadError) as caught:
            client.upload(big)
        upload_id = caught.value.upload_id
        assert upload_id
        live.transport.drop = lambda r: False
        before = len([r for r in live.transport.requests if r.method == "PUT"])
        key = client.upload(big, resume_upload_id=upload_id)
        puts = [r for r in live.transport.requests if r.method == "PUT"][before:]
        assert [r.url.params["partNumber"] for r in puts] == ["2"]  # 1 and 3 were kept
        assert key.endswith("/big.bin")
        assert client.run("echo", {"input_file": key}).refresh().task_status == "pending"
    stored = [p for p in live.harness.settings.data_dir.rglob("big.bin") if p.is_file()]
    assert [p.read_bytes() == big.read_bytes() for p in stored] == [True]


def test_multipart_refuses_keys_server_side_too(live: Live, tmp_path: Path) -> None:
    with live.client("device") as client, pytest.raises(AuthenticationError) as caught:
        client._executor.execute(status_call("anything"))
    assert caught.value.error_code == "credential_kind_not_allowed"
