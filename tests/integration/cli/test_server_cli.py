"""The server-side commands: `runyard db upgrade`, `admin create-user|create-key`, and
`runyard serve` refusing placeholder secrets, through the real typer app on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from runyard.cli.main import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("RUNYARD_DB_URL", "RUNYARD_SECRET_KEY", "RUNYARD_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    return {"RUNYARD_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def test_db_upgrade_then_admin_commands(env: dict[str, str]) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    user = runner.invoke(
        app,
        [
            "admin",
            "create-user",
            "--email",
            "ops@example.com",
            "--password",
            "long-enough-pw",
            "--team",
            "Ops",
        ],
        env=env,
    )
    assert user.exit_code == 0, user.output
    team_id = user.output.strip().split("team ")[-1]
    key = runner.invoke(
        app, ["admin", "create-key", "--team-id", team_id, "--kind", "agent"], env=env
    )
    assert key.exit_code == 0 and key.output.strip().startswith("ak-"), key.output
    again = runner.invoke(
        app,
        ["admin", "create-user", "--email", "ops@example.com", "--password", "long-enough-pw"],
        env=env,
    )
    assert again.exit_code == 1 and "user_exists" in again.output
    bad_team = runner.invoke(app, ["admin", "create-key", "--team-id", "nope"], env=env)
    assert bad_team.exit_code == 1 and "team_not_found" in bad_team.output


@pytest.mark.parametrize("secret", ["", "changeme", "too-short", "a" * 40])
def test_serve_refuses_placeholder_secrets(env: dict[str, str], secret: str) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--port", "1"], env={**env, "RUNYARD_SECRET_KEY": secret}
    )
    assert result.exit_code == 2
    assert "RUNYARD_SECRET_KEY" in result.output and "Traceback" not in result.output


def test_admin_reset_password(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    made = runner.invoke(
        app,
        ["admin", "create-user", "--email", "u@example.com", "--password", "first-pass"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    reset = runner.invoke(
        app,
        ["admin", "reset-password", "--email", "U@example.com"],
        input="second-pass\nsecond-pass\n",
        env=env,
    )
    assert reset.exit_code == 0 and "sessions ended" in reset.output, reset.output
    weak = runner.invoke(
        app, ["admin", "reset-password", "--email", "u@example.com", "--password", "short"], env=env
    )
    assert weak.exit_code == 1 and "weak_password" in weak.output
    unknown = runner.invoke(
        app,
        ["admin", "reset-password", "--email", "x@example.com", "--password", "long-enough"],
        env=env,
    )
    assert unknown.exit_code == 1 and "user_not_found" in unknown.output

    async def check() -> bool:
        from runyard.auth.security import verify_password
        from runyard.db.engine import Database
        from runyard.settings import DatabaseSettings
        from runyard.teams.repository import TeamRepository

        db = Database(DatabaseSettings(url=env["RUNYARD_DB_URL"]))
        try:
            async with db.session() as session:
                user = await TeamRepository(session).user_by_email("u@example.com")
                assert user is not None
                return verify_password(user.password_hash, "second-pass")
        finally:
            await db.dispose()

    import asyncio

    assert asyncio.run(check())
