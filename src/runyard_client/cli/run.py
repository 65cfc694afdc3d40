"""``runyard run WORKFLOW -p key=value …``: submit a task, optionally wait and download.

Values are JSON when they parse as JSON (``strength=0.7``, ``flag=true``), else strings;
``input_image=@photo.png`` uploads the file first (for a parameter of type ``file``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn

from runyard_client._client import Client
from runyard_client._models import TaskEvent, TaskInfo
from runyard_client._tasks import Task
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    ServerOpt,
    connect,
    err,
    handles_errors,
    out,
    print_json,
)
from runyard_client.cli.upload import transfer_bars


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="-p")
        parameters[key.strip()] = parse_value(raw)
    return parameters


def parse_value(raw: str) -> Any:
    if raw.startswith("@"):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _check_files(parameters: dict[str, Any]) -> None:
    for key, value in parameters.items():
        if isinstance(value, str) and value.startswith("@") and not Path(value[1:]).is_file():
            raise typer.BadParameter(f"{key}: {value[1:]} is not a file", param_hint="-p")


def submit(
    client: Client,
    workflow: str,
    parameters: dict[str, Any],
    idempotency_key: str | None,
    priority: int | None = None,
) -> Task:
    """Run, with one transfer bar per uploaded file."""
    if not any(isinstance(v, str) and v.startswith("@") for v in parameters.values()):
        return client.run(workflow, parameters, idempotency_key, priority=priority)
    bars_by_key: dict[str, TaskID] = {}
    with transfer_bars() as bars:

        def report(key: str, sent: int, total: int) -> None:
            if key not in bars_by_key:
                bars_by_key[key] = bars.add_task(f"{key}", total=total)
            bars.update(bars_by_key[key], completed=sent, total=total)

        return client.run(workflow, parameters, idempotency_key, progress=report, priority=priority)


def follow(task: Task, timeout: float | None, quiet: bool) -> TaskInfo:
    """Wait with a live line: status, progress bar, the agent's message."""
    if quiet:
        return task.wait(timeout, raise_on_failure=True)
    line = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[note]}"),
        console=err,
        transient=True,
    )
    with line:
        row = line.add_task(f"task {task.id[:8]} pending", total=1.0, note="")

        def show(event: TaskEvent) -> None:
            changes: dict[str, Any] = {}
            if event.task_status:
                changes["description"] = f"task {task.id[:8]} {event.task_status}"
            if event.progress is not None:
                changes["completed"] = event.progress
            if event.message:
                changes["note"] = event.message[:60]
            line.update(row, **changes)

        return task.wait(timeout, show, raise_on_failure=True)


@handles_errors
def run(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="Slug, slug@version or workflow id.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="key=value (JSON if it parses); key=@file uploads the file."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the task to finish.")] = False,
    download: Annotated[
        Path | None,
        typer.Option(
            "--download", file_okay=False, help="Wait, then save the outputs in this directory."
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Repeat-safe submit: the same key and body give the same task. "
            "Without it a fresh key is sent, so the client's own retries never run twice.",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up waiting after this many seconds.")
    ] = None,
    priority: Annotated[
        int | None,
        typer.Option(
            "--priority",
            min=-10,
            max=10,
            help="-10 (last) to 10 (first); default: the workflow's. A task of priority p is "
            "ranked as if submitted p minutes earlier.",
        ),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a task to a workflow."""
    parameters = parse_parameters(param or [])
    _check_files(parameters)
    with connect(ctx, server, api_key) as client:
        task = submit(client, workflow, parameters, idempotency_key, priority)
        if not (wait or download):
            if as_json:
                print_json({"task_id": task.id, "replayed": task.replayed})
            else:
                out.print(f"task {task.id} submitted" + (" (replayed)" if task.replayed else ""))
            return
        info = follow(task, timeout, quiet=as_json)
        paths = task.download(download) if download is not None else []
    if as_json:
        body = info.model_dump(mode="json")
        if download is not None:
            body["downloaded"] = [str(p) for p in paths]
        print_json(body)
        return
    out.print(f"task {task.id} {info.task_status}")
    for path in paths:
        out.print(str(path))
