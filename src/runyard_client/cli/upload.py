"""``runyard upload FILE``: upload with a progress bar, print the ``file_key``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    ServerOpt,
    connect,
    err,
    handles_errors,
    print_json,
)


@contextmanager
def transfer_bars() -> Iterator[Progress]:
    """Bars with size, speed and ETA, on stderr so stdout stays the command's answer."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with progress:
        yield progress


@handles_errors
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="MIME type (default: guessed from the name)."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="Finish an interrupted multipart upload with this upload_id."
        ),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a file and print its file_key (pass it as a `file` parameter within 1 day)."""
    with connect(ctx, server, api_key) as client, transfer_bars() as bars:
        bar = bars.add_task(file.name, total=file.stat().st_size)
        key = client.upload(
            file,
            content_type,
            lambda sent, total: bars.update(bar, completed=sent, total=total),
            resume_upload_id=resume,
        )
    if as_json:
        print_json({"file_key": key})
    else:
        typer.echo(key)
