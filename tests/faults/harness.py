"""The fault suite's cluster: ``runyard serve`` and ``runyard agent`` processes over one
PostgreSQL database, a submitter that retries with one Idempotency-Key per run, and the
read-outs every fault test checks (task rows, the agents' execution ledgers, the servers'
assignment log lines, the event log)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from runyard.bootstrap import Provisioned, provision
from runyard.db.engine import Database
from runyard.migrations import upgrade
from runyard.settings import DatabaseSettings, Settings
from tests.faults.ledger_workflow import AGENT_ENV, LEDGER_ENV
from tests.support.processes import Proc, python_cmd, wait_http
from tests.support.s3 import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = "faults-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
LEDGER_SLUG = "ledger"
TERMINAL = ("completed", "failed", "cancelled")
ASSIGNED = re.compile(r"assigned task=(\S+) attempt=(\d+) agent=(\S+)")


def size(name: str, full: int) -> int:
    """A count of the suite: the issue's count (what CI runs), or ``RUNYARD_FAULTS_<name>`` to
    run fewer while developing."""
    value = os.environ.get(f"RUNYARD_FAULTS_{name}")
    return int(value) if value else full


# ---------------------------------------------------------------- databases


def asyncpg_dsn(admin_dsn: str, dbname: str) -> str:
    return admin_dsn.rsplit("/", 1)[0] + f"/{dbname}"


def sqlalchemy_url(admin_dsn: str, dbname: str) -> str:
    return asyncpg_dsn(admin_dsn, dbname).replace("postgresql://", "postgresql+asyncpg://", 1)


def create_database(admin_dsn: str, dbname: str) -> str:
    async def go() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{dbname}"')
        finally:
            await conn.close()

    asyncio.run(go())
    url = sqlalchemy_url(admin_dsn, dbname)
    upgrade(url)
    return url


def drop_database(admin_dsn: str, dbname: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        finally:
            await conn.close()

    with contextlib.suppress(OSError, asyncpg.PostgresError):  # a throwaway cluster is gone
        asyncio.run(go())


class OwnPostgres:
    """A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``) on a free port under a temp
    dir, so a test may restart it. As root, it runs as the ``postgres`` user."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        found = shutil.which("pg_ctl")
        if not bins and not found:
            raise RuntimeError("pg_ctl not found (in /usr/lib/postgresql/*/bin or on PATH)")
        self.bin = bins[-1].parent if bins else Path(str(found)).parent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="runyard-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.restarts = 0

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")

    def _ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            *args,
        )

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        self._ctl("start")

    def restart(self, mode: str) -> None:
        """``fast`` (sessions terminated, clean checkpoint) or ``immediate`` (crash recovery)."""
        self._ctl("-m", mode, "restart")
        self.restarts += 1

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


# ---------------------------------------------------------------- the cluster


def provision_team(db_url: str) -> Provisioned:
    async def go() -> Provisioned:
        from runyard.clock import SystemClock
        from runyard.workflows.schemas import WorkflowDefinition
        from runyard.workflows.service import WorkflowService

        db = Database(DatabaseSettings(url=db_url))
        try:
            settings = Settings(environment="test", secret_key=SECRET)
            team = await provision(db, settings, email="faults@example.com", password="faults-pw-1")
            async with db.session() as session:
                await WorkflowService(session, SystemClock()).import_definition(
                    team.team_id,
                    WorkflowDefinition.model_validate(
                        {
                            "workflow_slug": LEDGER_SLUG,
                            "tool_type": "python",
                            "required_labels": ["cpu"],
                            "task_timeout": 600,
                            "max_retries": 2,
                            "workflow_json": {
                                "entrypoint": "tests.faults.ledger_workflow:run",
                            },
                            "parameters": [
                                {"key": "seconds", "type": "number", "default": 0, "min": 0},
                                {
                                    "key": "first_attempt_seconds",
                                    "type": "number",
                                    "default": 0,
                                    "min": 0,
                                },
                            ],
                        }
                    ),
                )
                await session.commit()
            return team
        finally:
            await db.dispose()

    return asyncio.run(go())


@dataclass
class TaskRow:
    id: str
    task_status: str
    retry_count: int
    attempt: int
    agent_id: str | None
    task_error_code: str | None
    task_error: str


@dataclass
class Cluster:
    admin_dsn: str
    dbname: str
    db_url: str
    team: Provisioned
    logs: Path
    env: dict[str, str]
    ports: list[int] = field(default_factory=list)
    servers: dict[int, Proc] = field(default_factory=dict)
    agents: dict[str, Proc] = field(default_factory=dict)
    all_procs: list[Proc] = field(default_factory=list)

    # -- processes
    def url(self, index: int = 0) -> str:
        while len(self.ports) <= index:
            self.ports.append(free_port())
        return f"http://127.0.0.1:{self.ports[index]}"

    def start_server(self, index: int = 0, **extra_env: str) -> Proc:
        url = self.url(index)
        data = self.logs / f"data-{index}"
        data.mkdir(exist_ok=True)
        proc = Proc(
            f"server{index}-{len(self.all_procs)}",
            python_cmd("-m", "runyard", "serve", "--port", str(self.ports[index])),
            {
                **self.env,
                "RUNYARD_PUBLIC_URL": url,
                "RUNYARD_DATA_DIR": str(data),
                **extra_env,
            },
            self.logs,
        )
        self.all_procs.append(proc)
        self.servers[index] = proc
        wait_http(url + "/healthz", timeout=60, proc=proc)
        return proc

    def kill_server(self, index: int = 0) -> None:
        proc = self.servers[index]
        proc.signal(signal.SIGKILL)
        proc.wait(30)

    def start_agent(self, agent_id: str, server: int = 0, capacity: int = 4) -> Proc:
        work = self.logs / f"work-{agent_id}"
        work.mkdir(exist_ok=True)
        env = {
            **self.env,
            "RUNYARD_URL": self.url(server),
            "RUNYARD_AGENT_KEY": self.team.agent_key,
            LEDGER_ENV: str(self.logs / f"ledger-{agent_id}.txt"),
            AGENT_ENV: agent_id,
        }
        proc = Proc(
            f"agent-{agent_id}-{len(self.all_procs)}",
            python_cmd(
                "-m",
                "runyard_agent",
                "--agent-id",
                agent_id,
                "--labels",
                "cpu",
                "--capacity",
                str(capacity),
                "--work-dir",
                str(work),
            ),
            env,
            self.logs,
        )
        self.all_procs.append(proc)
        self.agents[agent_id] = proc
        return proc

    def wait_agents(self, agent_ids: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        connected: set[str] = set()
        while time.monotonic() < deadline:
            try:
                r = httpx.get(
                    f"{self.url(0)}/api/v1/r/agents",
                    headers=self.headers(),
                    timeout=10,
                )
                connected = {a["agent_id"] for a in r.json()["agent_list"] if a["connected"]}
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            if set(agent_ids) <= connected:
                return
            for agent_id in agent_ids:
                proc = self.agents[agent_id]
                if not proc.alive():
                    raise RuntimeError(f"agent {agent_id} exited:\n{proc.log()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"agents {agent_ids} not all connected within {timeout} s: {connected}")

    def stop_all(self) -> None:
        for proc in [*self.agents.values(), *self.servers.values()]:
            proc.stop()
        for proc in self.all_procs:
            proc.stop(timeout=5)

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.team.integration_key}"}

    # -- read-outs
    def _query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(asyncpg_dsn(self.admin_dsn, self.dbname))
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(go())

    def tasks(self) -> dict[str, TaskRow]:
        rows = self._query(
            "SELECT id, task_status, retry_count, attempt, agent_id, task_error_code, task_error "
            "FROM tasks"
        )
        return {r["id"]: TaskRow(**dict(r)) for r in rows}

    def queued_events(self) -> Counter[str]:
        """Per task, how many times its event log says it was handed to an agent."""
        rows = self._query(
            "SELECT task_id, count(*) AS n FROM task_events "
            "WHERE event = 'status' AND data->>'task_status' = 'queued' GROUP BY task_id"
        )
        return Counter({r["task_id"]: int(r["n"]) for r in rows})

    def executions(self) -> dict[tuple[str, int], list[str]]:
        """(task_id, attempt) -> the agents that started it, from every agent's ledger."""
        seen: dict[tuple[str, int], list[str]] = {}
        for path in sorted(self.logs.glob("ledger-*.txt")):
            for line in path.read_text().splitlines():
                task_id, attempt, agent = line.split()
                seen.setdefault((task_id, int(attempt)), []).append(agent)
        return seen

    def assignments(self) -> dict[tuple[str, int], list[str]]:
        """(task_id, attempt) -> the servers whose log says they assigned it."""
        seen: dict[tuple[str, int], list[str]] = {}
        for proc in self.all_procs:
            if not proc.name.startswith("server"):
                continue
            for m in ASSIGNED.finditer(proc.log()):
                seen.setdefault((m[1], int(m[2])), []).append(proc.name)
        return seen

    def wait_finished(self, task_ids: set[str], timeout: float) -> dict[str, TaskRow]:
        """Every task's row once all are terminal, or the rows as they are at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.tasks()
            left = [t for t in task_ids if t not in rows or rows[t].task_status not in TERMINAL]
            if not left or time.monotonic() >= deadline:
                return rows
            time.sleep(0.5)


# ---------------------------------------------------------------- the submitter


@dataclass
class Submitter:
    """Submits runs, each with its own Idempotency-Key, retrying the same key on connection
    errors and 5xx (the server died or is restarting, the database is down) until accepted."""

    urls: list[str]
    headers: dict[str, str]
    parameters: dict[str, Any]
    give_up_after: float = 120.0
    accepted: dict[str, str] = field(default_factory=dict)  # key -> task_id
    refused: dict[str, str] = field(default_factory=dict)  # key -> why
    retries: int = 0
    replayed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit_one(self, client: httpx.Client, index: int) -> None:
        key = str(uuid.uuid4())
        started = time.monotonic()
        attempt = 0
        while True:
            url = self.urls[(index + attempt) % len(self.urls)]
            try:
                r = client.post(
                    f"{url}/api/v1/r/workflows/slug/{LEDGER_SLUG}/run",
                    headers={**self.headers, "Idempotency-Key": key},
                    json={"parameters": self.parameters},
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code == 202:
                    with self.lock:
                        self.accepted[key] = r.json()["task_id"]
                        if r.headers.get("Idempotent-Replayed", "").lower() == "true":
                            self.replayed += 1
                    return
                if r.status_code < 500:
                    with self.lock:
                        self.refused[key] = f"HTTP {r.status_code}: {r.text[:200]}"
                    return
                why = f"HTTP {r.status_code}"
            if time.monotonic() - started > self.give_up_after:
                with self.lock:
                    self.refused[key] = f"gave up after {attempt + 1} tries: {why}"
                return
            with self.lock:
                self.retries += 1
            attempt += 1
            time.sleep(0.2)

    def run(self, count: int, threads: int = 2, pace: float = 0.0) -> None:
        """Submit ``count`` runs over ``threads`` threads, ``pace`` seconds apart per thread."""
        indexes: Iterator[int] = iter(range(count))
        take = threading.Lock()

        def work() -> None:
            with httpx.Client() as client:
                while True:
                    with take:
                        index = next(indexes, None)
                    if index is None:
                        return
                    self.submit_one(client, index)
                    if pace:
                        time.sleep(pace)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def in_background(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def summarise(items: list[str], limit: int = 10) -> str:
    shown = "\n  ".join(items[:limit])
    more = f"\n  … and {len(items) - limit} more" if len(items) > limit else ""
    return f"\n  {shown}{more}"
