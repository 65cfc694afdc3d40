"""``runyard workflows list|show|import|deploy|test``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    connect,
    handles_errors,
    out,
    print_json,
    print_page,
    print_table,
)
from runyard_client.cli.deploy import deploy as deploy_command
from runyard_client.cli.deploy import test as test_command

app = typer.Typer(
    help="List, inspect, import and deploy workflows; test a Python one locally.",
    no_args_is_help=True,
)
app.command("deploy")(deploy_command)
app.command("test")(test_command)


@app.command("list")
@handles_errors
def list_workflows(
    ctx: typer.Context,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's workflows (latest versions)."""
    with connect(ctx, server, api_key) as client:
        result = client.workflows.list(current_page=page, per_page=per_page)
    print_page(
        result,
        as_json,
        "Workflows",
        ["slug", "version", "type", "status", "labels", "parameters"],
        lambda w: (
            w.workflow_slug,
            w.version,
            w.tool_type,
            w.workflow_status,
            ",".join(w.required_labels),
            ", ".join(str(p.get("key")) for p in w.parameters),
        ),
    )


@app.command("show")
@handles_errors
def show(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="Slug, slug@version or id.")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A workflow and its parameters."""
    with connect(ctx, server, api_key) as client:
        wf = client.workflows.resolve(workflow)
    if as_json:
        print_json(wf)
        return
    out.print(
        f"[bold]{wf.workflow_slug}[/bold]@{wf.version} ({wf.tool_type}, "
        f"{wf.workflow_status}) id {wf.id}"
    )
    if wf.description:
        out.print(wf.description)
    print_table(
        "Parameters",
        ["key", "type", "required", "default", "details"],
        (
            (
                p.get("key"),
                p.get("type"),
                "yes" if p.get("required") else "",
                p.get("default"),
                _details(p),
            )
            for p in wf.parameters
        ),
    )


def _details(p: dict[str, Any]) -> str:
    parts = [
        f"{k}={p[k]}"
        for k in ("min", "max", "max_length", "options", "accept")
        if p.get(k) is not None
    ]
    return " ".join(parts)


def read_definition(path: Path) -> dict[str, Any]:
    """A workflow definition from YAML or JSON (YAML also reads JSON)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{path} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one workflow definition (a mapping)")
    return data


@app.command("import")
@handles_errors
def import_workflow(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="A workflow definition, YAML or JSON."
        ),
    ],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workflow, or a new version of the one with the same workflow_slug."""
    definition = read_definition(file)
    with connect(ctx, server, api_key) as client:
        wf = client.workflows.import_(definition)
    if as_json:
        print_json(wf)
    else:
        out.print(f"imported {wf.workflow_slug}@{wf.version} (id {wf.id})")
