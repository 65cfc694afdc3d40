from __future__ import annotations

import typer

from runyard.cli.errors import exits_cleanly

app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@app.command("upgrade")
@exits_cleanly
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database at RUNYARD_DB_URL to the latest schema (safe to re-run)."""
    from runyard.migrations import upgrade as run_upgrade
    from runyard.settings import DatabaseSettings

    url = DatabaseSettings().url
    run_upgrade(url, revision)
    typer.echo(f"database at {revision}")
