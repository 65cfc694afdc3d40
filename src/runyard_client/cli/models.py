"""``runyard models upload|list|disable|enable|rm``: the team's model library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runyard_client._errors import NotFoundError, UploadError
from runyard_client._models import MultipartUpload
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
)
from runyard_client.cli._resume import ResumeBook
from runyard_client.cli.upload import transfer_bars

app = typer.Typer(help="The team's model library, synced to its agents.", no_args_is_help=True)

ModelArg = Annotated[str, typer.Argument(help="The model's id (see `runyard models list`).")]


@app.command("upload")
@handles_errors
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    model_type: Annotated[
        str, typer.Option("--type", help="ComfyUI models subfolder: checkpoints, loras, vae…")
    ],
    model_path: Annotated[
        str | None,
        typer.Option("--path", help="Path under models/<type>/ (default: the file's name)."),
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--name", help="Display name (default: the file's name).")
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Finish an interrupted multipart upload (its upload_id)."),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a model file (sha256 computed here; bytes the team holds already are not sent
    again; large files in parts) and register it. A multipart upload that stopped (the command
    killed, the connection lost) resumes when the same command runs again: the parts the store
    holds are not sent again."""
    book = ResumeBook()
    with connect(ctx, server, api_key) as client, transfer_bars() as bars:
        server_url = client.server_url
        noted = resume or book.get(file, server_url)

        live: list[str] = []

        def started(upload: MultipartUpload, stored: int) -> None:
            live.append(upload.upload_id)
            book.note(file, server_url, upload.upload_id)
            if stored:
                err.print(
                    f"resuming multipart upload {upload.upload_id}: {stored} of "
                    f"{upload.part_count} parts already stored, not sent again"
                )
            else:
                err.print(
                    f"multipart upload {upload.upload_id} ({upload.part_count} parts); if it "
                    "stops, run the same command again to resume it"
                )

        bar = bars.add_task(file.name, total=file.stat().st_size)
        args = (file, model_type, model_path, display_name)
        progress = lambda sent, total: bars.update(bar, completed=sent, total=total)  # noqa: E731
        try:
            row = client.upload_model(*args, progress, resume_upload_id=noted, on_multipart=started)
        except (UploadError, NotFoundError):
            if noted is None or resume is not None or live:
                raise  # not a noted upload refused before any part was sent
            # The noted upload is gone (completed, aborted or expired): start a new one.
            book.forget(file, server_url)
            row = client.upload_model(*args, progress, on_multipart=started)
        book.forget(file, server_url)
    if as_json:
        print_json(row)
    else:
        out.print(f"{row.id} {row.model_type}/{row.model_path} sha256:{row.sha256}")


@app.command("list")
@handles_errors
def list_models(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only `active` or `disabled` models.")
    ] = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's models by type and path."""
    with connect(ctx, server, api_key) as client:
        result = client.models.list(current_page=page, per_page=per_page, model_status=status)
    print_page(
        result,
        as_json,
        "Models",
        ["id", "type", "path", "name", "bytes", "status", "sha256"],
        lambda m: (
            m.id,
            m.model_type,
            m.model_path,
            m.display_name,
            m.file_size,
            m.model_status,
            m.sha256[:12],
        ),
    )


@app.command("disable")
@handles_errors
def disable(
    ctx: typer.Context,
    model_id: ModelArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Take a model out of the agents' sync set."""
    with connect(ctx, server, api_key) as client:
        row = client.models.disable(model_id)
    out.print(f"{row.id} disabled")


@app.command("enable")
@handles_errors
def enable(
    ctx: typer.Context,
    model_id: ModelArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Put a disabled model back in the agents' sync set."""
    with connect(ctx, server, api_key) as client:
        row = client.models.enable(model_id)
    out.print(f"{row.id} active")


@app.command("rm")
@handles_errors
def remove(
    ctx: typer.Context,
    model_id: ModelArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Delete a model from the library."""
    with connect(ctx, server, api_key) as client:
        client.models.delete(model_id)
    out.print(f"{model_id} deleted")
