"""``runyard storage setup|check``: prepare and verify the object store before going live.

A bucket without lifecycle rules keeps every upload forever, and a store that ignores
``If-None-Match`` lets clients overwrite each other's files; both fail silently in production,
so they are set up and probed here, from the operator's shell, with the server's own settings.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.errors import exits_cleanly
from runyard.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Set up and check the object store.")

_LOCAL_NOTE = (
    "The embedded store (RUNYARD_STORAGE=local) needs no setup: it refuses overwrites and checks "
    "signed headers itself, and the server removes expired inputs, outputs and unfinished "
    "uploads on its own."
)


def _s3_failure(console: Console, exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] the S3 store refused or could not be reached: {exc}")
    return typer.Exit(1)


@app.command()
@exits_cleanly
def setup() -> None:
    """Create the bucket if needed and apply lifecycle (retention) and CORS rules."""
    settings = Settings()
    console = Console()
    if settings.storage == "local":
        console.print(_LOCAL_NOTE)
        console.print(f"Objects live in {settings.local_store_root}.")
        return
    from botocore.exceptions import BotoCoreError, ClientError

    from runyard.storage.lifecycle import setup_bucket
    from runyard.storage.s3 import S3Storage

    storage = S3Storage(settings.s3)
    try:
        done = setup_bucket(storage, settings.retention, settings.http.cors_allowed_origins)
    except (BotoCoreError, ClientError) as exc:
        raise _s3_failure(console, exc) from None
    finally:
        storage.client.close()
    for line in done:
        console.print(f"[green]✓[/green] {line}")
    console.print("Run `runyard storage check` to verify.")


@app.command()
@exits_cleanly
def check() -> None:
    """Verify the store: reachable, retention rules, CORS, presigned PUT, 412, 403."""
    settings = Settings()
    console = Console()
    from runyard.storage.lifecycle import check_local

    if settings.storage == "local":
        console.print(_LOCAL_NOTE)
        results = check_local(settings)
    else:
        from botocore.exceptions import BotoCoreError, ClientError

        from runyard.storage.lifecycle import check_bucket
        from runyard.storage.s3 import S3Storage

        storage = S3Storage(settings.s3)
        try:
            results = check_bucket(storage, settings.retention, settings.http.cors_allowed_origins)
        except (BotoCoreError, ClientError) as exc:
            raise _s3_failure(console, exc) from None
        finally:
            storage.client.close()
    table = Table(title=f"runyard storage check ({settings.storage})")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail / fix")
    for result in results:
        verdict = "[green]pass[/green]" if result.ok else "[red]FAIL[/red]"
        shown = [result.detail] if result.ok else [result.detail, f"fix: {result.fix}"]
        table.add_row(result.name, verdict, " — ".join(p for p in shown if p and p != "fix: "))
    console.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed.[/red]")
        raise typer.Exit(1)
    console.print("[green]All checks passed.[/green]")
