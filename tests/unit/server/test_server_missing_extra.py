"""`pip install runyard` has no server: `runyard dev` (and the other server and agent commands)
say which extra to install instead of typer's bare "No such command"."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from runyard.cli.main import mount_missing


def test_a_missing_extra_says_what_to_install() -> None:
    app = typer.Typer()
    mount_missing(app, ("serve", "dev"), "server")
    mount_missing(app, ("agent",), "agent")
    result = CliRunner().invoke(app, ["dev", "--data-dir", "x", "--port", "8001"])
    assert result.exit_code == 2
    assert "pip install 'runyard[server]'" in result.output
    assert "runyard dev" in result.output
    agent = CliRunner().invoke(app, ["agent", "--help"])
    assert agent.exit_code == 2 and "runyard[agent]" in agent.output
