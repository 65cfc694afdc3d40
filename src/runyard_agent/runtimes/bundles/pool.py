"""Warm child processes kept per (bundle, entrypoint), and ``run_in_child`` that uses them.

A task takes an idle process of its key (the bundle's folder, named by its sha256, and the
entrypoint: versions never share one) or starts one; when the task ends well the process goes
back, imports warm, for the next task, until it has served ``tasks_per_process`` tasks. Up to
``per_key`` idle processes are kept per key (the agent's slots) and ``size`` in all, the least
lately used going first. A process that had a cancel, crashed or went over a limit is killed,
and one is started in the background in its place, so the next task does not wait for the
interpreter and its imports. ``tasks_per_process=1`` is a fresh process per task.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from pathlib import Path

from runyard_agent.runtimes.base import LogSink, ProducedOutput, TaskContext
from runyard_agent.runtimes.bundles.process import Child, Outcome, discard, run_job, spawn

__all__ = ["WarmPool", "run_in_child"]

_Key = tuple[str, str, str]  # the bundle's folder, the entrypoint, the requirements' folder


def _key(root: Path, entrypoint: str, site: Path | None) -> _Key:
    return (str(root), entrypoint, str(site or ""))


class WarmPool:
    def __init__(
        self,
        size: int = 8,
        *,
        per_key: int = 1,
        tasks_per_process: int = 100,
        python: str = sys.executable,
    ) -> None:
        if tasks_per_process < 1 or per_key < 1 or size < 1:
            raise ValueError("size, per_key and tasks_per_process must be at least 1")
        self.size = max(size, per_key)
        self.per_key = per_key
        self.tasks_per_process = tasks_per_process
        self._python = python
        self._idle: OrderedDict[_Key, list[Child]] = OrderedDict()
        self._starting: dict[_Key, asyncio.Task[None]] = {}
        self._closed = False

    def idle(self) -> list[Child]:
        return [child for children in self._idle.values() for child in children]

    async def take(self, root: Path, entrypoint: str, site: Path | None = None) -> Child:
        key = _key(root, entrypoint, site)
        starting = self._starting.get(key)
        if starting is not None and key not in self._idle:
            # one is on its way (started in place of a process that was let go): wait for it
            # rather than start a second
            await asyncio.wait([starting])
        children = self._idle.get(key, [])
        while children:
            child = children.pop()
            if not children:
                del self._idle[key]
            if child.alive:
                return child
            await discard(child)
        return await spawn(root, entrypoint, self._python, site)

    async def give_back(
        self, child: Child, root: Path, entrypoint: str, site: Path | None, reusable: bool
    ) -> None:
        key = _key(root, entrypoint, site)
        keep = (
            reusable
            and child.alive
            and not self._closed
            and child.served < self.tasks_per_process
            and len(self._idle.get(key, [])) < self.per_key
        )
        if not keep:
            await discard(child)
            if not self._closed and key not in self._idle and key not in self._starting:
                refill = asyncio.create_task(self._keep_ready(root, entrypoint, site))
                self._starting[key] = refill
                refill.add_done_callback(lambda _: self._starting.pop(key, None))
            return
        await self._add(key, child)

    async def _keep_ready(self, root: Path, entrypoint: str, site: Path | None) -> None:
        key = _key(root, entrypoint, site)
        try:
            child = await spawn(root, entrypoint, self._python, site)
        except OSError:
            return  # the next task starts its own
        if self._closed or len(self._idle.get(key, [])) >= self.per_key:
            await discard(child)
            return
        await self._add(key, child)

    async def _add(self, key: _Key, child: Child) -> None:
        self._idle.setdefault(key, []).append(child)
        self._idle.move_to_end(key)
        while sum(len(children) for children in self._idle.values()) > self.size:
            oldest_key, oldest = next(iter(self._idle.items()))
            gone = oldest.pop(0)
            if not oldest:
                del self._idle[oldest_key]
            await discard(gone)

    async def close(self) -> None:
        self._closed = True
        starting = list(self._starting.values())
        for refill in starting:
            refill.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        while self._idle:
            _, children = self._idle.popitem()
            for child in children:
                await discard(child)


async def run_in_child(
    ctx: TaskContext,
    root: Path,
    entrypoint: str,
    log: LogSink,
    *,
    pool: WarmPool | None = None,
    limits: dict[str, float | None] | None = None,
    site: Path | None = None,
) -> list[ProducedOutput]:
    """Run ``entrypoint`` of the code in ``root`` for ``ctx`` in a child process: a warm one
    from ``pool`` (given back after when it may serve again), else one of its own."""
    child = (
        await pool.take(root, entrypoint, site)
        if pool is not None
        else await spawn(root, entrypoint, site=site)
    )
    outcome: Outcome | None = None
    try:
        outcome = await run_job(child, ctx, log, limits)
    finally:
        reusable = outcome is not None and outcome.reusable
        if pool is not None:
            await pool.give_back(child, root, entrypoint, site, reusable)
        else:
            await discard(child)
    if outcome.error is not None:
        raise outcome.error
    return outcome.outputs
