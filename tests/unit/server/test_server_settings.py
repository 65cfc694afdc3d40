from __future__ import annotations

import pytest
from pydantic import ValidationError

from runyard.settings import Settings


@pytest.mark.parametrize("secret", ["", "changeme", "short-secret"])
def test_prod_refuses_placeholder_secrets(secret: str) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="prod", secret_key=secret)


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
