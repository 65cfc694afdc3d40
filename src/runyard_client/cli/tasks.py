"""``runyard tasks list|show|cancel|result|wait|download|logs``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from runyard_client._models import TaskEvent
from runyard_client._sse import log_lines
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    connect,
    err,
    handles_errors,
    out,
    print_json,
    print_page,
    print_table,
    short_time,
)
from runyard_client.cli.run import follow

app = typer.Typer(help="Inspect and control tasks.", no_args_is_help=True)
TaskArg = Annotated[str, typer.Argument(help="Task id.")]


@app.command("list")
@handles_errors
def list_tasks(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="pending, waiting, queued, running, completed, failed or cancelled."
        ),
    ] = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's tasks, newest first."""
    with connect(ctx, server, api_key) as client:
        result = client.tasks.list(task_status=status, current_page=page, per_page=per_page)
    print_page(
        result,
        as_json,
        "Tasks",
        ["id", "workflow", "status", "progress", "created", "error"],
        lambda t: (
            t.id,
            f"{t.workflow_slug}@{t.workflow_version}",
            t.task_status,
            f"{t.progress:.0%}",
            short_time(t.created_at),
            t.task_error_code or t.task_error,
        ),
    )


@app.command("show")
@handles_errors
def show(
    ctx: typer.Context,
    task_id: TaskArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One task: status, progress, parameters, error, timestamps."""
    with connect(ctx, server, api_key) as client:
        info = client.tasks.get(task_id)
    if as_json:
        print_json(info)
        return
    body = info.model_dump(mode="json")
    reason = body.pop("waiting_reason", None)
    for name, value in body.items():
        out.print(f"[bold]{name}[/bold]: {escape(str(value))}", soft_wrap=True)
    if reason:
        out.print(f"[bold yellow]waiting because[/bold yellow]: {escape(reason['message'])}")


@app.command("cancel")
@handles_errors
def cancel(
    ctx: typer.Context,
    task_id: TaskArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a task that has not finished (a finished one is left as it is)."""
    with connect(ctx, server, api_key) as client:
        result = client.tasks.cancel(task_id)
    if as_json:
        print_json(result)
    else:
        out.print(f"task {task_id}: {result.task_status or 'cancel requested'}")


@app.command("logs")
@handles_errors
def logs(
    ctx: typer.Context,
    task_id: TaskArg,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the task ends.")
    ] = False,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """What the task's process printed (stdout, stderr, logging)."""
    with connect(ctx, server, api_key) as client:
        if not follow_:
            typer.echo(client.tasks.logs(task_id), nl=False)
            return

        def show(event: TaskEvent) -> None:
            if event.event == "log":
                for line in log_lines(event.data):
                    typer.echo(line)

        info = client.task(task_id).wait(on_progress=show)
    if info.task_status != "completed":
        err.print(f"task {task_id} {info.task_status}: {info.task_error or ''}".rstrip(": "))


@app.command("result")
@handles_errors
def result(
    ctx: typer.Context,
    task_id: TaskArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Outputs and fresh download URLs (empty until the task completes)."""
    with connect(ctx, server, api_key) as client:
        body = client.tasks.result(task_id)
    if as_json:
        print_json(body)
        return
    out.print(
        f"task {body.id} {body.task_status}" + (f": {body.task_error}" if body.task_error else "")
    )
    outputs = body.task_output.outputs if body.task_output else []
    urls = body.download_urls or {}
    print_table(
        "Outputs",
        ["output", "file", "type", "bytes", "sha256", "url"],
        (
            (
                o.output_id,
                o.file_name,
                o.content_type,
                o.file_size,
                o.sha256 or "",
                urls.get(o.output_id),
            )
            for o in outputs
        ),
    )


@app.command("wait")
@handles_errors
def wait(
    ctx: typer.Context,
    task_id: TaskArg,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow a task until it finishes (non-zero exit if it fails)."""
    with connect(ctx, server, api_key) as client:
        info = follow(client.task(task_id), timeout, quiet=as_json)
    if as_json:
        print_json(info)
    else:
        out.print(f"task {info.id} {info.task_status}")


@app.command("download")
@handles_errors
def download(
    ctx: typer.Context,
    task_id: TaskArg,
    directory: Annotated[Path, typer.Argument(file_okay=False)] = Path("."),
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Save a completed task's outputs in DIRECTORY."""
    with connect(ctx, server, api_key) as client:
        paths = client.task(task_id).download(directory)
    if as_json:
        print_json([str(p) for p in paths])
    else:
        for path in paths:
            out.print(str(path))
