"""Retention (contract sections 1, 4 and 6) with the injectable clock: inputs kept 1 day, outputs
7 days, unfinished multipart uploads 1 day. The sweeper is called directly, as its loop would.

No S3 server here deletes expired objects (see the shared notes), so on S3 the tests check the
database's verdict and the bucket's lifecycle *configuration*; on the embedded store the sweeper
itself deletes the bytes, and the tests check they are gone."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from uploads_helpers import MIB, Uploader, payload, s3_settings, stored_bytes, upload_staged

from runyard.models import StoredFile, Task, TaskOutput, WorkflowVersion
from runyard.retention.sweeper import Sweeper
from runyard.settings import RetentionSettings
from runyard.storage.lifecycle import check_bucket, lifecycle_rules, setup_bucket
from runyard.storage.s3 import S3Storage
from runyard.tasks.assignments import InputExpired, load_inputs
from tests.support.app import Harness
from tests.support.s3 import reset_s3
from tests.support.tasks import complete

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
LOCAL = pytest.mark.parametrize("backend", ["local"], indirect=True)
DAY = 86_400


async def sweep(h: Harness) -> dict[str, int]:
    counts: dict[str, int] = await Sweeper(
        h.app.state.services.db, h.settings, h.app.state.services.storage, h.clock
    ).sweep_once()
    return counts


@SQLITE
async def test_inputs_expire_after_one_day(alice: Uploader, harness: Harness) -> None:
    single = await alice.single(b"single input")
    multi = await alice.upload(payload(6 * MIB), "b.bin")
    harness.clock.advance(seconds=DAY - 60)
    assert (await sweep(harness))["files"] == 0
    for key in (single, multi):
        assert (await alice.run_echo(key)).status_code == 202
    harness.clock.advance(seconds=61)
    assert (await sweep(harness))["files"] == 2
    for key in (single, multi):
        r = await alice.run_echo(key)
        assert r.status_code == 422 and r.json()["error_code"] == "invalid_parameters", r.text
        assert r.json()["errors"][0]["error_code"] == "file_expired"
    async with harness.app.state.services.db.session() as session:
        statuses = set(await session.scalars(select(StoredFile.file_status)))
    assert statuses == {"expired"}
    local = harness.app.state.services.storage.backend == "local"
    for key in (single, multi):  # on S3 the bucket's lifecycle rule deletes them
        assert (stored_bytes(harness, key) is None) is local


@LOCAL
async def test_outputs_expire_after_seven_days(alice: Uploader, harness: Harness) -> None:
    key = await alice.single(b"input")
    task_id = (await alice.run_echo(key)).json()["task_id"]
    await complete(harness, task_id, {"copy": b"the output"})
    headers = alice.team.auth("integration")
    result = await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=headers)
    assert result.status_code == 200 and result.json()["download_url"], result.text
    assert (await harness.client.get(result.json()["download_url"])).content == b"the output"
    async with harness.app.state.services.db.session() as session:
        out = (await session.scalars(select(TaskOutput).where(TaskOutput.task_id == task_id))).one()
    assert stored_bytes(harness, out.object_key) == b"the output"
    harness.clock.advance(days=7, seconds=-60)
    assert (await sweep(harness))["outputs"] == 0
    assert (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=headers)
    ).status_code == 200
    harness.clock.advance(seconds=61)
    assert (await sweep(harness))["outputs"] == 1
    r = await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=headers)
    assert r.status_code == 410 and r.json()["error_code"] == "outputs_expired", r.text
    assert stored_bytes(harness, out.object_key) is None


@SQLITE
async def test_unfinished_multipart_uploads_are_aborted_after_one_day(
    alice: Uploader,
    harness: Harness,
) -> None:
    upload = await alice.initiate(12 * MIB)
    await alice.send(upload, payload(12 * MIB), [1])
    row = await alice.row(upload["upload_id"])
    harness.clock.advance(seconds=DAY + 1)
    # Expired as soon as the day is over, before any sweep.
    assert (await alice.status(upload["upload_id"])).json()["upload_status"] == "expired"
    r = await alice.presign(upload, [2])
    assert r.status_code == 410 and r.json()["error_code"] == "upload_expired"
    assert upload_staged(harness, row.file_key, row.backend_upload_id)
    assert (await sweep(harness))["uploads"] == 1
    assert not upload_staged(harness, row.file_key, row.backend_upload_id)
    # The sweep that expires a row also prunes it (finished rows older than the retention
    # are pruned, and an expired row is exactly that old), so the id is then unknown.
    r = await alice.status(upload["upload_id"])
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        assert r.json()["upload_status"] == "expired"


@SQLITE
@LOCAL
async def test_task_whose_input_expired_before_an_agent_took_it(
    alice: Uploader,
    harness: Harness,
) -> None:
    """The dispatcher only assigns to connected agents, so this calls what it calls for each
    assignment (``load_inputs``); the dispatcher turns ``InputExpired`` into ``input_expired``."""
    key = await alice.single(b"input")
    task_id = (await alice.run_echo(key)).json()["task_id"]
    async with harness.app.state.services.db.session() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        version = await session.get(WorkflowVersion, (task.workflow_id, task.workflow_version))
        assert version is not None
        storage, settings = harness.app.state.services.storage, harness.settings
        inputs = await load_inputs(session, task, version, storage, settings, harness.clock.now())
        assert [i.parameter for i in inputs] == ["input_file"]
        harness.clock.advance(seconds=DAY + 1)
        with pytest.raises(InputExpired) as raised:
            await load_inputs(session, task, version, storage, settings, harness.clock.now())
        assert raised.value.parameter == "input_file"


def test_lifecycle_rules_on_the_s3_test_server(uploads_s3_endpoint: str) -> None:
    reset_s3(uploads_s3_endpoint)
    storage = S3Storage(s3_settings(uploads_s3_endpoint))
    try:
        retention = RetentionSettings()
        setup_bucket(storage, retention)
        rules = storage.client.get_bucket_lifecycle_configuration(Bucket=storage.bucket)["Rules"]
        by_id = {r["ID"]: r for r in rules}
        assert set(by_id) == {r["ID"] for r in lifecycle_rules(retention)}
        expiry = {
            r["Filter"]["Prefix"]: r["Expiration"]["Days"] for r in rules if "Expiration" in r
        }
        assert expiry == {"inputs/": 1, "outputs/": 7}
        aborts = [
            r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            for r in rules
            if "AbortIncompleteMultipartUpload" in r
        ]
        assert aborts == [1]
        assert all(r["Status"] == "Enabled" for r in rules)
        setup_bucket(storage, retention)  # idempotent: the same rules, not twice
        again = storage.client.get_bucket_lifecycle_configuration(Bucket=storage.bucket)
        assert len(again["Rules"]) == len(rules)
    finally:
        storage.client.close()


def test_setup_writes_the_cors_rule_of_the_allowed_origins(uploads_s3_endpoint: str) -> None:
    reset_s3(uploads_s3_endpoint)
    storage = S3Storage(s3_settings(uploads_s3_endpoint))
    origins = ["https://app.example.com"]
    try:
        setup_bucket(storage, RetentionSettings(), origins)
        rules = storage.client.get_bucket_cors(Bucket=storage.bucket)["CORSRules"]
        ours = [r for r in rules if r.get("ID") == "runyard-uploads"]
        assert len(ours) == 1 and ours[0]["AllowedOrigins"] == origins
        assert {"PUT", "GET", "HEAD"} <= set(ours[0]["AllowedMethods"])
        assert "ETag" in ours[0]["ExposeHeaders"]
        assert "If-None-Match" in ours[0]["AllowedHeaders"]
        results = {r.name: r.ok for r in check_bucket(storage, RetentionSettings(), origins)}
        assert results["CORS for browser uploads"]
    finally:
        storage.client.close()
