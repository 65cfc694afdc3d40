"""``runyard agents list``."""

from __future__ import annotations

import typer

from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    connect,
    handles_errors,
    print_page,
    short_time,
)

app = typer.Typer(help="The team's agents.", no_args_is_help=True)


@app.command("list")
@handles_errors
def list_agents(
    ctx: typer.Context,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Agents with their labels, status, load and last heartbeat."""
    with connect(ctx, server, api_key) as client:
        result = client.agents.list(current_page=page, per_page=per_page)
    print_page(
        result,
        as_json,
        "Agents",
        ["agent", "status", "labels", "running", "capacity", "heartbeat"],
        lambda a: (
            a.agent_id,
            a.agent_status,
            ",".join(a.agent_labels),
            a.running_tasks,
            a.capacity,
            short_time(a.last_heartbeat),
        ),
    )
