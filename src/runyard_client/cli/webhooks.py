"""``runyard webhooks add|list|rm|enable|disable|rotate|deliveries|redeliver|test``.

The server allows webhooks to team admins with a user session: with no ``--api-key`` the
commands mint one from the login ``runyard login`` saved (``cli/_session.py``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from runyard_client._webhooks import EVENTS
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    handles_errors,
    out,
    page_footer,
    print_json,
    print_page,
    print_table,
    short_time,
)
from runyard_client.cli._session import connect_session

app = typer.Typer(
    help="Manage the team's webhooks (admins; the session `runyard login` saved).",
    no_args_is_help=True,
)
IdArg = Annotated[str, typer.Argument(help="The webhook's id (`runyard webhooks list`).")]


@app.command("add")
@handles_errors
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The receiver's https:// URL.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", help=f"Repeatable; one of {', '.join(EVENTS)} (default all)."
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A name to recognise it by.")] = "",
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe a URL to task events; its signing secret is printed once."""
    with connect_session(ctx, server, api_key) as client:
        created = client.webhooks.create(url, event or list(EVENTS), name)
    if as_json:
        print_json(created)
        return
    out.print(f"webhook {created.id} created; its signing secret is shown only now:")
    typer.echo(created.webhook_secret)
    out.print(f"Send a test event: runyard webhooks test {created.id}", style="dim")


@app.command("list")
@handles_errors
def list_webhooks(
    ctx: typer.Context,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's webhooks, newest first (never their secrets)."""
    with connect_session(ctx, server, api_key) as client:
        result = client.webhooks.list(current_page=page, per_page=per_page)
    print_page(
        result,
        as_json,
        "Webhooks",
        ["id", "name", "url", "events", "enabled", "failures"],
        lambda h: (
            h.id,
            h.display_name,
            h.webhook_url,
            ", ".join(h.webhook_events),
            "yes" if h.is_enabled else f"no ({h.disabled_reason})",
            h.consecutive_failures,
        ),
    )


@app.command("rm")
@handles_errors
def remove(
    ctx: typer.Context,
    webhook_id: IdArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a webhook and its delivery log."""
    with connect_session(ctx, server, api_key) as client:
        client.webhooks.delete(webhook_id)
    if as_json:
        print_json({"id": webhook_id, "deleted": True})
    else:
        out.print(f"deleted {webhook_id}")


def _set_enabled(ctx: typer.Context, webhook_id: str, enabled: bool, *conn: str | None) -> None:
    with connect_session(ctx, conn[0], conn[1]) as client:
        hook = client.webhooks.update(webhook_id, {"is_enabled": enabled})
    out.print(f"{hook.id} {'enabled' if hook.is_enabled else 'disabled'}")


@app.command("enable")
@handles_errors
def enable(
    ctx: typer.Context, webhook_id: IdArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Enable a webhook again (its pending deliveries resume)."""
    _set_enabled(ctx, webhook_id, True, server, api_key)


@app.command("disable")
@handles_errors
def disable(
    ctx: typer.Context, webhook_id: IdArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Stop deliveries to a webhook (they wait until it is enabled)."""
    _set_enabled(ctx, webhook_id, False, server, api_key)


@app.command("rotate")
@handles_errors
def rotate(
    ctx: typer.Context, webhook_id: IdArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """A new signing secret, printed once; the old one stops at once."""
    with connect_session(ctx, server, api_key) as client:
        rotated = client.webhooks.rotate_secret(webhook_id)
    typer.echo(rotated.webhook_secret)


@app.command("deliveries")
@handles_errors
def deliveries(
    ctx: typer.Context,
    webhook_id: IdArg,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The webhook's delivery log, newest first."""
    with connect_session(ctx, server, api_key) as client:
        result = client.webhooks.deliveries(webhook_id, current_page=page, per_page=per_page)
    if as_json:
        print_json(result)
        return
    print_table(
        "Deliveries",
        ["id", "event", "task", "status", "attempts", "last answer", "next attempt"],
        (
            (
                d.id,
                d.event_type,
                d.task_id,
                d.delivery_status,
                d.attempt_count,
                d.last_error or d.last_status_code,
                short_time(d.next_attempt_at),
            )
            for d in result.items
        ),
        page_footer(result.page_meta),
    )


@app.command("redeliver")
@handles_errors
def redeliver(
    ctx: typer.Context,
    delivery_id: Annotated[str, typer.Argument(help="A delivery's id (`… deliveries`).")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a delivery's event again now (same webhook-id, same body)."""
    with connect_session(ctx, server, api_key) as client:
        row = client.webhooks.redeliver(delivery_id)
    if as_json:
        print_json(row)
    else:
        out.print(f"queued delivery {row.id} (event {row.event_id})")


@app.command("test")
@handles_errors
def test(
    ctx: typer.Context,
    webhook_id: IdArg,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a signed `webhook.test` event now and show the receiver's answer (exit 1 if it
    did not answer 2xx)."""
    with connect_session(ctx, server, api_key) as client:
        result = client.webhooks.test(webhook_id)
    if as_json:
        print_json(result)
    elif result.delivered:
        out.print(f"delivered: HTTP {result.status_code} in {result.latency_ms} ms")
    else:
        answer = f"HTTP {result.status_code}" if result.status_code else "no answer"
        out.print(f"[red]not delivered[/red]: {answer} ({result.error})")
    if not result.delivered:
        raise typer.Exit(1)
