"""What every benchmark row needs: processes with their logs, free ports, throwaway databases
(PostgreSQL created and dropped here, SQLite files), provisioning, RSS and percentiles.

Sizes come from the environment (``BENCH_*``, see ``bench/__main__.py``) so a quick run can
shrink them; nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

PG_ADMIN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def say(message: str) -> None:
    """Progress on stderr, so the table on stdout stays one table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}


@dataclass
class Row:
    """One line of the table: what was measured, the goal, and whether it was met."""

    id: str
    what: str
    measured: str
    goal: str = ""
    ratio: float | None = None  # measured / goal-threshold, as the goal reads
    met: bool | None = None


class Proc:
    """A child process with its output in ``<logs>/<name>.log``; stopped by whoever started it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()

    def tail(self, n: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{proc.tail()}")


# ------------------------------------------------------------------ databases


def pg_dsn(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def _pg_admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_recreate(name: str) -> str:
    """A fresh, empty database; returns its libpq DSN."""
    asyncio.run(
        _pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            f'DROP DATABASE IF EXISTS "{name}"',
            f'CREATE DATABASE "{name}"',
        )
    )
    return pg_dsn(name)


def pg_drop(name: str) -> None:
    asyncio.run(
        _pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            f'DROP DATABASE IF EXISTS "{name}"',
        )
    )


def pg_available() -> bool:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError):
        return False
    return True


async def pg_analyze(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# ------------------------------------------------------------------ a Runyard stack

SLEEP_WORKFLOWS: list[dict[str, Any]] = [
    {
        "workflow_slug": "sleep",
        "tool_type": "python",
        "required_labels": ["cpu"],
        "task_timeout": 600,
        "max_retries": 2,
        "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
        "parameters": [{"key": "seconds", "type": "number", "default": 0, "min": 0, "max": 60}],
    },
    {
        # For the in-process BenchAgent only (label "bench"): real agents never take these.
        "workflow_slug": "noop-bench",
        "tool_type": "python",
        "required_labels": ["bench"],
        "task_timeout": 600,
        "max_retries": 0,
        "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
        "parameters": [],
    },
    {
        # The seed flow's no-op: a file parameter (downloaded by the agent), nothing done to it.
        "workflow_slug": "sleep-file",
        "tool_type": "python",
        "required_labels": ["cpu"],
        "task_timeout": 600,
        "max_retries": 2,
        "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
        "parameters": [
            {"key": "input_file", "type": "file", "required": True},
            {"key": "seconds", "type": "number", "default": 0, "min": 0, "max": 60},
        ],
    },
]


@dataclass
class Keys:
    team_id: str
    integration_key: str
    agent_key: str
    device_key: str = ""


def prepare_database(db_url: str) -> Keys:
    """Migrate, ANALYZE (PostgreSQL), provision a team and import the bench workflows."""
    from runyard.bootstrap import provision
    from runyard.clock import SystemClock
    from runyard.db.engine import Database
    from runyard.migrations import upgrade
    from runyard.settings import DatabaseSettings, Settings
    from runyard.workflows.schemas import WorkflowDefinition
    from runyard.workflows.service import WorkflowService

    upgrade(db_url)

    async def go() -> Keys:
        if db_url.startswith("postgresql"):
            await pg_analyze(db_url.replace("postgresql+asyncpg://", "postgresql://"))
        db = Database(DatabaseSettings(url=db_url))
        try:
            team = await provision(db, Settings(environment="test", secret_key=SECRET))
            async with db.session() as session:
                service = WorkflowService(session, SystemClock())
                for raw in SLEEP_WORKFLOWS:
                    await service.import_definition(
                        team.team_id, WorkflowDefinition.model_validate(raw)
                    )
                await session.commit()
            return Keys(team.team_id, team.integration_key, team.agent_key, team.device_key)
        finally:
            await db.dispose()

    return asyncio.run(go())


def server_env(db_url: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        RUNYARD_DB_URL=db_url,
        RUNYARD_SECRET_KEY=SECRET,
        RUNYARD_ENVIRONMENT="test",
        RUNYARD_PUBLIC_URL=f"http://127.0.0.1:{port}",
        RUNYARD_DATA_DIR=str(data_dir),
        RUNYARD_STORAGE="local",
        RUNYARD_LOG_LEVEL="WARNING",
        RUNYARD_LOCAL_STORE_FREE_SPACE_FLOOR="0",
        RUNYARD_LIMIT_BYTES_PRESIGNED_PER_DAY=str(10**18),
        RUNYARD_LIMIT_QUEUED_TASKS_PER_TEAM=str(10**9),
    )
    env.update(extra)
    return env


def start_server(name: str, env: dict[str, str], port: int, logs: Path) -> Proc:
    proc = Proc(name, [sys.executable, "-m", "runyard", "serve", "--port", str(port)], env, logs)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def start_agent(
    name: str, url: str, agent_key: str, capacity: int, logs: Path, **extra: str
) -> Proc:
    env = clean_env()
    env.update(RUNYARD_URL=url, RUNYARD_AGENT_KEY=agent_key, **extra)
    work = logs / f"work-{name}"
    work.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "runyard_agent", "--agent-id", name, "--labels", "cpu"]
    args += ["--capacity", str(capacity), "--work-dir", str(work), "--log-level", "warning"]
    return Proc(name, args, env, logs)


def wait_agents(url: str, key: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{url}/api/v1/r/agents", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
        agents = r.json().get("agent_list", [])
        if sum(1 for a in agents if a.get("agent_status") == "idle") >= count:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{count} agents did not connect to {url}")


def print_table(rows: list[Row]) -> None:
    width = max(len(r.what) for r in rows)
    mwidth = max(len(r.measured) for r in rows)
    print(f"{'id':5} {'row':{width}}  {'measured':{mwidth}}  {'goal':10} {'ratio':>6}  result")
    print("-" * (width + mwidth + 36))
    for r in rows:
        ratio = f"{r.ratio:6.2f}" if r.ratio is not None else " " * 6
        result = "" if r.met is None else ("met" if r.met else "MISSED")
        print(f"{r.id:5} {r.what:{width}}  {r.measured:{mwidth}}  {r.goal:10} {ratio}  {result}")
    print("ratio: measured against the goal, >= 1.00 means met.")
