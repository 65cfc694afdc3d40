"""``runyard workflows deploy PATH`` and ``runyard workflows test PATH:function``.

``deploy`` ships the ``@workflow`` functions of a file or folder (see ``Client.deploy``).
``test`` runs one function here, with no server, the way an agent runs a deployed task: in its
own process, with a ``TaskContext``, files given as ``-p key=@path``; its console lines and
progress are printed as they come and its outputs copied to ``--out``.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from runyard_client._bundles import DEFAULT_MAX_BYTES
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    ServerOpt,
    connect,
    err,
    fail,
    handles_errors,
    out,
    print_json,
)
from runyard_client.cli.run import parse_parameters

MaxSizeOpt = Annotated[
    int, typer.Option("--max-size", min=1, help="Largest bundle, in bytes (default 50 MiB).")
]


@handles_errors
def deploy(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A .py file or a folder of workflow code.")],
    max_size: MaxSizeOpt = DEFAULT_MAX_BYTES,
    requirements: Annotated[
        Path | None,
        typer.Option(
            "--requirements",
            help="A pip requirements file for the code (default: requirements.txt beside it, "
            "if any); agents install them with --python-index-url.",
            show_default=False,
        ),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ship the @workflow functions of PATH: a new version of each (naming the uploaded code),
    or none when nothing changed."""
    with connect(ctx, server, api_key) as client:
        results = client.deploy(path, max_bytes=max_size, requirements=requirements)
    if as_json:
        print_json(
            [
                {"changed": r.changed, "entrypoint": r.entrypoint, "workflow": r.workflow}
                for r in results
            ]
        )
        return
    for r in results:
        wf = r.workflow
        if r.changed:
            out.print(f"deployed {wf.workflow_slug}@{wf.version} ({r.entrypoint}, id {wf.id})")
        else:
            out.print(f"{wf.workflow_slug}@{wf.version} unchanged ({r.entrypoint}): no new version")


def _target(spec: str) -> tuple[Path, str]:
    """``file.py:function`` or ``folder:module:function`` → (root, entrypoint)."""
    path, sep, function = spec.rpartition(":")
    if not sep or not path or not function.isidentifier():
        raise typer.BadParameter(
            f"{spec!r}: give FILE.py:function (or FOLDER:module:function)", param_hint="TARGET"
        )
    folder, sep2, module = path.rpartition(":")
    if sep2 and Path(folder).is_dir():
        return Path(folder).resolve(), f"{module}:{function}"
    file = Path(path)
    if not file.is_file() or file.suffix != ".py":
        raise typer.BadParameter(f"{path} is not a .py file", param_hint="TARGET")
    return file.resolve().parent, f"{file.stem}:{function}"


def _stage_inputs(
    parameters: dict[str, Any], inputs: Path
) -> tuple[dict[str, Path], dict[str, str], dict[str, str]]:
    files: dict[str, Path] = {}
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    for key, value in list(parameters.items()):
        if not (isinstance(value, str) and value.startswith("@")):
            continue
        source = Path(value[1:]).expanduser()
        if not source.is_file():
            raise typer.BadParameter(f"{key}: {source} is not a file", param_hint="-p")
        folder = inputs / key
        folder.mkdir(parents=True)
        shutil.copyfile(source, folder / source.name)
        files[key], names[key] = folder / source.name, source.name
        types[key] = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        parameters[key] = source.name
    return files, names, types


@handles_errors
def test(
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="FILE.py:function or FOLDER:module:function.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value (JSON if it parses); key=@file for files."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the outputs are copied.")] = Path(
        "runyard-output"
    ),
) -> None:
    """Run a workflow function here, as an agent would, with no server."""
    try:
        from runyard_agent.runtimes.base import (
            ProgressReport,
            TaskCancelledError,
            TaskContext,
            TaskFailedError,
        )
        from runyard_agent.runtimes.bundles import CallbackSink, run_in_child
    except ImportError as exc:
        raise fail(
            f"`workflows test` needs the agent: pip install 'runyard[agent]' ({exc})"
        ) from exc
    root, entrypoint = _target(target)
    parameters = parse_parameters(param or [])

    def show_progress(report: ProgressReport) -> None:
        err.print(f"[dim]progress {report.progress:.0%} {report.message or ''}[/dim]")

    def show_line(stream: str, line: str) -> None:
        (out if stream == "stdout" else err).print(line, markup=False, highlight=False)

    with tempfile.TemporaryDirectory(prefix="runyard-test-") as scratch:
        work = Path(scratch)
        files, names, types = _stage_inputs(parameters, work / "inputs")
        (work / "outputs").mkdir()
        context = TaskContext(
            task_id="local-test",
            attempt=1,
            parameters=parameters,
            input_files=files,
            input_names=names,
            input_types=types,
            work_dir=work,
            output_dir=work / "outputs",
            report=show_progress,
        )
        try:
            sink = CallbackSink(show_line)
            outputs = asyncio.run(run_in_child(context, root, entrypoint, sink))
        except TaskFailedError as exc:
            raise fail(f"{exc.code}: {exc}", 6) from exc
        except TaskCancelledError as exc:
            raise fail("the function stopped itself (cancelled)", 6) from exc
        out_dir.mkdir(parents=True, exist_ok=True)
        for output in outputs:
            name = output.file_name or output.path.name
            shutil.copyfile(output.path, out_dir / name)
            out.print(f"output {output.output_id}: {out_dir / name} ({output.content_type})")
    for key, value in context.values.items():
        out.print(f"value {key}: {json.dumps(value, default=str)}")
