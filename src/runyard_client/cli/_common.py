"""What every client command shares: the connection options (``--server``, ``--api-key``, with
``RUNYARD_URL``/``RUNYARD_API_KEY`` and the saved profile as fallbacks), ``--json`` output, rich
tables, and ``handles_errors``: the one wrapper that turns an SDK exception into a one-line red
reason on stderr and a non-zero exit code (never a traceback).

Exit codes: 1 refused or failed request, 2 usage (typer), 3 authentication or permission,
4 not found, 5 server unreachable, 6 task failed or cancelled, 7 wait timed out, 130 interrupted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runyard_client._client import Client
from runyard_client._errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RunyardError,
    TaskFailed,
    TransportError,
    WaitTimeout,
)
from runyard_client._models import Page, to_json

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="RUNYARD_URL",
        show_envvar=True,
        help="Server root URL (default: the saved profile's, else http://127.0.0.1:8000).",
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="RUNYARD_API_KEY",
        show_envvar=True,
        show_default=False,
        help="sk-/dk- key or session token (default: the key `runyard login` saved).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
PageOpt = Annotated[int, typer.Option("--page", min=1, help="Page number.")]
PerPageOpt = Annotated[int, typer.Option("--per-page", min=1, max=100, help="Items per page.")]


def transport_of(ctx: typer.Context) -> httpx.BaseTransport | None:
    """Tests hand an in-process transport through ``CliRunner.invoke(..., obj=...)``."""
    obj = ctx.obj
    value = obj.get("transport") if isinstance(obj, dict) else None
    return value if isinstance(value, httpx.BaseTransport) else None


def connect(ctx: typer.Context, server: str | None, api_key: str | None) -> Client:
    client = Client(server, api_key, transport=transport_of(ctx))
    if client.api_key is None:
        where = client.server_url
        client.close()
        raise fail(
            f"no credential for {where}: run `runyard login --server {where}`, or pass "
            "--api-key (or set RUNYARD_API_KEY)",
            3,
        )
    return client


def _exit_code(exc: RunyardError) -> int:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return 3
    if isinstance(exc, NotFoundError):
        return 4
    if isinstance(exc, TransportError):
        return 5
    if isinstance(exc, TaskFailed):
        return 6
    if isinstance(exc, WaitTimeout):
        return 7
    return 1


def describe(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        detail = ", ".join(
            x
            for x in (
                exc.error_code,
                f"HTTP {exc.status_code}",
                exc.request_id and f"request {exc.request_id}",
            )
            if x
        )
        text = f"{exc.error_message} ({detail})"
        # Each parameter's error once: the server's message may already list them.
        unsaid = [e for e in exc.errors or [] if str(e.get("error_message")) not in text]
        if unsaid:
            text += ": " + "; ".join(
                f"{e.get('parameter')}: {e.get('error_message')}" for e in unsaid
            )
        if isinstance(exc, AuthenticationError):
            text += "; check --api-key/RUNYARD_API_KEY or run `runyard login`"
        elif exc.error_code == "credential_kind_not_allowed":
            text += (
                "; without --api-key the CLI uses the session `runyard login` saved "
                "(log in with your email and password)"
            )
        return text
    return str(exc) or type(exc).__name__


def fail(message: str, code: int = 1) -> typer.Exit:
    one_line = " ".join(message.split())
    err.print(f"[red]error:[/red] {escape(one_line)}", soft_wrap=True)
    return typer.Exit(code)


def handles_errors(fn: F) -> F:
    """The single error-to-exit-code wrapper of the client commands."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except RunyardError as exc:
            raise fail(describe(exc), _exit_code(exc)) from None
        except (OSError, ValueError) as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def print_json(value: Any) -> None:
    typer.echo(to_json(value))


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], footer: str | None = None
) -> None:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        # The first column is the id to copy: never folded across lines.
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    if footer:
        out.print(footer, style="dim")


def print_page(
    result: Page[T],
    as_json: bool,
    title: str,
    columns: Sequence[str],
    row: Callable[[T], Sequence[Any]],
) -> None:
    """Every ``list`` command's output: the page as JSON (``--json``), else a table of
    ``row(item)`` under ``columns`` with the page's place in the whole list below it."""
    if as_json:
        print_json(result)
        return
    print_table(title, columns, (row(item) for item in result.items), page_footer(result.page_meta))


def page_footer(meta: Any) -> str:
    pages = max(1, -(-meta.total_count // meta.per_page))
    if getattr(meta, "total_exact", True) is False:  # a task list counts no further than 1,000
        return f"page {meta.current_page} of {pages}+ (more than {meta.total_count - 1})"
    return f"page {meta.current_page} of {pages} ({meta.total_count} in all)"


def short_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""
