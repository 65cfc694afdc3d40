"""``runyard storage setup|check`` against the S3 test server and the embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from runyard.cli.storage import app
from runyard.settings import RetentionSettings
from runyard.storage.lifecycle import lifecycle_rules

BUCKET = "runyard-cli"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # keep table cells on one line for the assertions


@pytest.fixture
def s3_env(s3_reset: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in {
        "RUNYARD_ENVIRONMENT": "test",
        "RUNYARD_STORAGE": "s3",
        "RUNYARD_S3_BUCKET": BUCKET,
        "RUNYARD_S3_ENDPOINT": s3_reset,
        "RUNYARD_S3_ACCESS_KEY_ID": "test",
        "RUNYARD_S3_SECRET_ACCESS_KEY": "test",
        "RUNYARD_S3_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return s3_reset


def test_s3_check_fails_before_setup_and_passes_after(s3_env: str) -> None:
    runner = CliRunner()

    before = runner.invoke(app, ["check"])
    setup = runner.invoke(app, ["setup"])
    after = runner.invoke(app, ["check"])

    assert before.exit_code == 1, before.output
    assert "bucket reachable" in before.output and "FAIL" in before.output
    assert setup.exit_code == 0, setup.output
    assert "created bucket" in setup.output
    assert after.exit_code == 0, after.output
    for name in (
        "lifecycle inputs",
        "lifecycle outputs",
        "abort-multipart",
        "CORS",
        "second PUT refused (412)",
        "PUT without If-None-Match refused (403)",
    ):
        assert name in after.output
    assert "FAIL" not in after.output


def test_s3_setup_applies_the_rules_and_keeps_foreign_ones(s3_env: str) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3_env,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    foreign = {
        "ID": "logs",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [foreign]}
    )

    assert CliRunner().invoke(app, ["setup"]).exit_code == 0
    assert CliRunner().invoke(app, ["setup"]).exit_code == 0  # idempotent

    rules = client.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    by_id = {rule["ID"]: rule for rule in rules}
    assert set(by_id) == {"logs", "runyard-inputs", "runyard-outputs", "runyard-abort-multipart"}
    assert by_id["runyard-inputs"]["Expiration"]["Days"] == 1
    assert by_id["runyard-outputs"]["Expiration"]["Days"] == 7
    assert by_id["runyard-abort-multipart"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    cors = client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert len(cors) == 1 and "If-None-Match" in cors[0]["AllowedHeaders"]
    assert cors[0]["ExposeHeaders"] == ["ETag"]
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert objects == []  # check() cleans up its probes; setup writes none
    assert len(lifecycle_rules(RetentionSettings())) == 3


def test_s3_check_cleans_up_its_probe_objects(s3_env: str) -> None:
    import boto3
    from botocore.config import Config

    runner = CliRunner()
    assert runner.invoke(app, ["setup"]).exit_code == 0
    assert runner.invoke(app, ["check"]).exit_code == 0
    client = boto3.client(
        "s3",
        endpoint_url=s3_env,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_local_store_needs_no_setup_and_checks_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNYARD_ENVIRONMENT", "test")
    monkeypatch.setenv("RUNYARD_STORAGE", "local")
    monkeypatch.setenv("RUNYARD_LOCAL_STORE_ROOT", str(tmp_path / "objects"))
    runner = CliRunner()

    setup = runner.invoke(app, ["setup"])
    check = runner.invoke(app, ["check"])
    monkeypatch.setenv("RUNYARD_LOCAL_STORE_FREE_SPACE_FLOOR", str(1 << 62))
    too_full = runner.invoke(app, ["check"])

    assert setup.exit_code == 0 and "needs no setup" in setup.output
    assert check.exit_code == 0, check.output
    assert "directory writable" in check.output
    assert too_full.exit_code == 1
    assert "RUNYARD_LOCAL_STORE_FREE_SPACE_FLOOR" in too_full.output
