from __future__ import annotations

import pytest
from pydantic import ValidationError

from runyard.settings import DatabaseSettings, Settings, estimated_entropy_bits


@pytest.mark.parametrize(
    "secret",
    ["", "changeme", "short-secret", "a" * 40, "ab" * 32, "0123456789" * 4, "password" * 5],
)
def test_prod_refuses_placeholder_and_guessable_secrets(secret: str) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="prod", secret_key=secret)


def test_a_generated_secret_is_accepted_and_old_ones_rotate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from runyard.cli.admin import app

    result = CliRunner().invoke(app, ["gen-secret"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert estimated_entropy_bits(secret) >= 128
    monkeypatch.setenv("RUNYARD_SECRET_KEY", secret)
    monkeypatch.setenv("RUNYARD_PREVIOUS_SECRET_KEYS", '["old-one", "older-one"]')
    s = Settings(environment="prod")
    assert s.token_secrets == (secret, "old-one", "older-one")


def test_rates_and_http_bounds_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_RATE_LIMIT_PRESIGN", "lots")
    with pytest.raises(ValidationError):
        Settings(environment="dev")
    monkeypatch.setenv("RUNYARD_RATE_LIMIT_PRESIGN", "5 per 2 seconds")
    monkeypatch.setenv("RUNYARD_HTTP_CORS_ALLOWED_ORIGINS", '["https://a.example"]')
    s = Settings(environment="dev")
    assert s.rate_limit.presign == "5 per 2 seconds"
    assert s.http.cors_allowed_origins == ["https://a.example"]


def test_env_names_do_not_collide_with_client_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_URL", "http://elsewhere")
    monkeypatch.setenv("RUNYARD_API_KEY", "sk-x")
    monkeypatch.setenv("RUNYARD_AGENT_KEY", "ak-x")
    monkeypatch.setenv("RUNYARD_DB_URL", "postgresql+asyncpg://db/x")
    monkeypatch.setenv("RUNYARD_SCHEDULER_HEARTBEAT_INTERVAL", "0.5")
    s = Settings(environment="dev")
    assert s.db.url == "postgresql+asyncpg://db/x"
    assert s.scheduler.heartbeat_interval == 0.5
    assert s.public_url == "http://127.0.0.1:8000"


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="dev", storage="s3")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://runyard@db/runyard", "postgresql+asyncpg://runyard@db/runyard"),
        ("postgres://db/runyard", "postgresql+asyncpg://db/runyard"),
        ("postgresql+asyncpg://db/runyard", "postgresql+asyncpg://db/runyard"),
        ("sqlite:///data/runyard.db", "sqlite+aiosqlite:///data/runyard.db"),
        ("sqlite+aiosqlite:///data/runyard.db", "sqlite+aiosqlite:///data/runyard.db"),
    ],
)
def test_a_database_url_means_the_driver_runyard_speaks(given: str, used: str) -> None:
    # A libpq DSN used to start a server on psycopg whose every run answered 500.
    assert DatabaseSettings(url=given).url == used


@pytest.mark.parametrize("given", ["postgresql+psycopg://db/x", "mysql://db/x", "runyard.db"])
def test_another_database_driver_is_refused_at_start(given: str) -> None:
    with pytest.raises(ValidationError, match="unsupported database URL scheme"):
        DatabaseSettings(url=given)
