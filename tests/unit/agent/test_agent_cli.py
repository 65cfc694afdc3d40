"""The agent command line: options, help, refusals before any connection is tried."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from runyard_agent.cli import agent

runner = CliRunner()


def app() -> typer.Typer:
    application = typer.Typer()
    application.command()(agent)
    return application


def test_help_explains_every_option_and_never_shows_the_key():
    result = runner.invoke(
        app(), ["--help"], env={"RUNYARD_AGENT_KEY": "ak-topsecret", "COLUMNS": "200"}
    )
    assert result.exit_code == 0
    for option in (
        "--server",
        "--key",
        "--agent-id",
        "--labels",
        "--capacity",
        "--work-dir",
        "--comfyui-url",
        "--comfyui-dir",
        "--comfyui-keep-files",
        "--comfyui-model-budget",
        "--comfyui-command",
        "--comfyui-gpus",
        "--comfyui-python",
        "--drain-timeout",
        "--log-level",
        "RUNYARD_URL",
        "RUNYARD_AGENT_KEY",
    ):
        assert option in result.output
    assert "ak-topsecret" not in result.output


def test_the_key_is_required():
    result = runner.invoke(app(), [], env={"RUNYARD_AGENT_KEY": None})
    assert result.exit_code == 2
    assert "--key" in result.output


def test_a_key_of_another_kind_is_refused_without_echoing_it():
    result = runner.invoke(app(), ["--key", "sk-integration-secret"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "agent keys start with ak-" in result.output
    assert "sk-integration-secret" not in result.output


def test_a_bad_server_url_is_refused():
    result = runner.invoke(
        app(), ["--key", "ak-x", "--server", "ftp://nowhere"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "http://" in result.output


def test_capacity_must_be_positive():
    result = runner.invoke(app(), ["--key", "ak-x", "--capacity", "0"])
    assert result.exit_code == 2


def test_gpus_need_a_command():
    result = runner.invoke(
        app(), ["--key", "ak-x", "--comfyui-gpus", "0,1"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "--comfyui-command" in result.output
