"""``runyard agent`` / ``python -m runyard_agent``: run an agent until SIGTERM or Ctrl-C.

Exit codes: 0 after a clean shutdown, 2 for bad options, 3 when the server refused the agent for
good (bad key, agent_id taken, unsupported protocol). The agent key is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import typer

from runyard_agent.connection import Agent
from runyard_agent.options import AgentOptions, AgentRejectedError

__all__ = ["EXIT_REJECTED", "agent", "main"]

EXIT_REJECTED = 3
_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def agent(
    key: Annotated[
        str,
        typer.Option(
            "--key",
            envvar="RUNYARD_AGENT_KEY",
            help="Agent key (starts with ak-), created on the server. Prefer the environment "
            "variable so the key stays out of the process list.",
            show_default=False,
        ),
    ],
    server: Annotated[
        str,
        typer.Option(
            "--server",
            envvar="RUNYARD_URL",
            help="Root URL of the Runyard server; the agent dials <server>/api/v1/agent/ws.",
        ),
    ] = "http://127.0.0.1:8000",
    agent_id: Annotated[
        str | None,
        typer.Option(
            "--agent-id",
            help="Name of this agent, unique in the team; bound to the key that first uses it. "
            "Default: this machine's hostname.",
            show_default=False,
        ),
    ] = None,
    labels: Annotated[
        str,
        typer.Option(
            "--labels",
            help="Comma-separated labels; the agent gets tasks of workflows whose required "
            "labels it all has.",
        ),
    ] = "cpu",
    capacity: Annotated[
        int,
        typer.Option("--capacity", min=1, max=1024, help="How many tasks may run at once."),
    ] = 1,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Where task files are downloaded and produced (one directory per task, removed "
            "when it ends). Default: a new temporary directory.",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
    comfyui_url: Annotated[
        str,
        typer.Option("--comfyui-url", help="ComfyUI server used for comfyui workflows only."),
    ] = "http://127.0.0.1:8188",
    comfyui_dir: Annotated[
        Path | None,
        typer.Option(
            "--comfyui-dir",
            help="ComfyUI's base directory (holding input/, output/, temp/), when ComfyUI runs "
            "on this machine. The agent then removes each task's uploads and the outputs it "
            "collected from there once the task has ended; ComfyUI has no API for that. "
            "It also keeps the team's model library in models/ (synced from the server). "
            "Default: files stay in ComfyUI's folders; no library sync.",
            show_default=False,
            file_okay=False,
            exists=True,
        ),
    ] = None,
    comfyui_keep_files: Annotated[
        bool,
        typer.Option(
            "--comfyui-keep-files",
            help="With --comfyui-dir, keep the inputs and outputs in ComfyUI's folders anyway "
            "(for debugging a workflow in ComfyUI's UI).",
        ),
    ] = False,
    comfyui_model_budget: Annotated[
        float,
        typer.Option(
            "--comfyui-model-budget",
            min=0.001,
            help="With --comfyui-dir: GB of disk for models that workflows declare and the agent "
            "downloads into ComfyUI's models/ folders; beyond it the least recently used ones it "
            "downloaded are removed (and cached library bytes no active model uses; active "
            "library models are never removed for the budget).",
        ),
    ] = 50.0,
    comfyui_command: Annotated[
        str | None,
        typer.Option(
            "--comfyui-command",
            help='Start and supervise ComfyUI with this command (e.g. "python main.py --listen '
            "127.0.0.1 --port {port}\"; {port} is --comfyui-url's port). The agent warms it up, "
            "restarts it when it exits (a task it was running runs again), and restarts it when "
            "a cancelled prompt does not stop within 3 s. Default: ComfyUI is run by you.",
            show_default=False,
        ),
    ] = None,
    comfyui_gpus: Annotated[
        str,
        typer.Option(
            "--comfyui-gpus",
            help="With --comfyui-command: comma-separated GPU ids (e.g. 0,1). One ComfyUI per "
            "GPU (CUDA_VISIBLE_DEVICES set, ports counting up from --comfyui-url's) and one "
            "task slot each; this sets the capacity.",
        ),
    ] = "",
    comfyui_python: Annotated[
        str | None,
        typer.Option(
            "--comfyui-python",
            help="The Python of ComfyUI, into which the team's custom node packages' "
            "requirements.txt are installed (pip, never replacing its torch packages). Default: "
            "the first word of --comfyui-command when it is a python.",
            show_default=False,
        ),
    ] = None,
    comfyui_preview_interval: Annotated[
        float,
        typer.Option(
            "--comfyui-preview-interval",
            min=0.0,
            help="Send ComfyUI's live preview images (sampler steps, when ComfyUI makes them: "
            "--preview-method) to the server, the latest one at most every this many seconds "
            "per task; 0 sends none.",
        ),
    ] = 1.0,
    tunnel_port: Annotated[
        list[int] | None,
        typer.Option(
            "--tunnel-port",
            min=1,
            max=65535,
            help="A port on 127.0.0.1 that members may open a tunnel to through the server "
            "(repeatable, e.g. --tunnel-port 8188 --tunnel-port 8888). Default: the ComfyUI "
            "port of --comfyui-url when ComfyUI runs on this machine.",
            show_default=False,
        ),
    ] = None,
    no_tunnels: Annotated[
        bool,
        typer.Option("--no-tunnels", help="Allow no tunnels to this machine at all."),
    ] = False,
    python_tasks_per_process: Annotated[
        int,
        typer.Option(
            "--python-tasks-per-process",
            min=1,
            help="Deployed python code: how many tasks of one version a warm process serves "
            "before a new one is started (module state stays between them); 1 runs every task "
            "in a fresh process.",
        ),
    ] = 100,
    python_fresh_process: Annotated[
        bool,
        typer.Option("--python-fresh-process", help="Same as --python-tasks-per-process 1."),
    ] = False,
    python_index_url: Annotated[
        str | None,
        typer.Option(
            "--python-index-url",
            help="Deployed python code: install each bundle's requirements (its "
            "requirements.txt) from this package index, once per set, into <work dir>/envs. "
            "Default: requirements must be installed where the agent runs; a task whose are "
            "not fails naming them.",
            show_default=False,
        ),
    ] = None,
    task_memory_mb: Annotated[
        float | None,
        typer.Option(
            "--task-memory-mb",
            min=1,
            help="Deployed python code: memory (address space, MB) a task may add to its "
            "process; the lower of this and the workflow's memory_mb applies.",
            show_default=False,
        ),
    ] = None,
    task_cpu_seconds: Annotated[
        float | None,
        typer.Option(
            "--task-cpu-seconds",
            min=1,
            help="Deployed python code: CPU seconds a task may use; the lower of this and the "
            "workflow's cpu_seconds applies.",
            show_default=False,
        ),
    ] = None,
    drain_timeout: Annotated[
        float,
        typer.Option(
            "--drain-timeout",
            min=0.0,
            help="On SIGTERM/Ctrl-C, seconds to let running tasks finish before handing them "
            "back to the server. A second signal stops at once.",
        ),
    ] = 30.0,
    log_level: Annotated[
        str,
        typer.Option("--log-level", help="debug, info, warning or error."),
    ] = "info",
) -> None:
    """Run a Runyard agent: connect to the server, run assigned tasks, report back."""
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise typer.BadParameter(f"unknown log level {log_level!r}", param_hint="--log-level")
    if not key.startswith("ak-"):
        raise typer.BadParameter(
            "this is not an agent key; agent keys start with ak-", param_hint="--key"
        )
    gpus = [gpu.strip() for gpu in comfyui_gpus.split(",") if gpu.strip()]
    if gpus:
        capacity = len(gpus)  # one slot per ComfyUI process
    try:
        options = AgentOptions(
            agent_key=key,
            agent_id=agent_id or socket.gethostname(),
            server_url=server,
            labels=[label.strip() for label in labels.split(",") if label.strip()],
            capacity=capacity,
            work_dir=work_dir,
            comfyui_url=comfyui_url or None,
            comfyui_dir=comfyui_dir,
            comfyui_keep_files=comfyui_keep_files,
            comfyui_model_budget=int(comfyui_model_budget * 1024**3),
            comfyui_command=comfyui_command or None,
            comfyui_gpus=gpus,
            comfyui_python_path=comfyui_python,
            comfyui_preview_interval=comfyui_preview_interval,
            python_tasks_per_process=1 if python_fresh_process else python_tasks_per_process,
            python_index_url=python_index_url,
            task_memory_mb=task_memory_mb,
            task_cpu_seconds=task_cpu_seconds,
            drain_timeout=drain_timeout,
            tunnel_ports=[] if no_tunnels else (list(tunnel_port) if tunnel_port else None),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _configure_logging(level)
    try:
        asyncio.run(_serve(Agent(options)))
    except AgentRejectedError:
        raise typer.Exit(EXIT_REJECTED) from None  # the agent already logged the reason


async def _serve(runner: Agent) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(signum, runner.stop)
    await runner.run()


def _configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format=_LOG_FORMAT, stream=sys.stderr, force=True)
    # httpx logs every request URL at INFO, and signed URLs carry their signature.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(agent)
    app()
