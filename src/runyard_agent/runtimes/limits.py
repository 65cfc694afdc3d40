"""Per-task limits inside a task's child process: memory (``RLIMIT_AS``) and CPU time
(``RLIMIT_CPU``), set around one task and lifted after it, so a process that serves many tasks
measures each on its own: the address space the task may add to what the process already has,
the CPU seconds it may add to what the process already used.

Over the memory limit an allocation fails (``MemoryError``); over the CPU limit the kernel
sends ``SIGXCPU`` and the handler raises ``ResourceLimitExceededError`` in the task's thread.
Either fails the task with ``resource_limit_exceeded`` naming the limit, and the process is not
reused. Linux only (elsewhere the limits are not applied). Imported by the child: keep it light.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

__all__ = ["ResourceLimitExceededError", "TaskLimits", "applied"]

CODE = "resource_limit_exceeded"


class ResourceLimitExceededError(BaseException):
    """Raised in the task when it went over its CPU time (a ``BaseException``, so that an
    ``except Exception`` in the task does not swallow it)."""


@dataclass(frozen=True)
class TaskLimits:
    memory_mb: float | None = None
    cpu_seconds: float | None = None

    @staticmethod
    def combine(*given: TaskLimits) -> TaskLimits:
        """The lowest of each limit given (the workflow's and the agent's)."""

        def low(values: list[float | None]) -> float | None:
            set_ = [v for v in values if v is not None and v > 0]
            return min(set_) if set_ else None

        return TaskLimits(low([g.memory_mb for g in given]), low([g.cpu_seconds for g in given]))

    def memory_message(self) -> str:
        return f"the task went over its memory limit of {self.memory_mb:g} MB"

    def cpu_message(self) -> str:
        return f"the task went over its CPU time limit of {self.cpu_seconds:g} s"


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_used() -> float:
    times = os.times()
    return times.user + times.system


def _on_xcpu(signum: int, frame: FrameType | None) -> None:
    raise ResourceLimitExceededError("cpu")


@contextlib.contextmanager
def applied(limits: TaskLimits) -> Iterator[None]:
    """Set the limits for the code run inside, and lift them after it."""
    if not sys.platform.startswith("linux") or (
        limits.memory_mb is None and limits.cpu_seconds is None
    ):
        yield
        return
    import resource

    saved_as = resource.getrlimit(resource.RLIMIT_AS)
    saved_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    saved_handler = signal.getsignal(signal.SIGXCPU)
    try:
        used = _address_space()
        if limits.memory_mb is not None and used is not None:
            soft = used + int(limits.memory_mb * 1024 * 1024)
            if saved_as[1] == resource.RLIM_INFINITY or soft < saved_as[1]:
                resource.setrlimit(resource.RLIMIT_AS, (soft, saved_as[1]))
        if limits.cpu_seconds is not None:
            soft = math.ceil(_cpu_used() + limits.cpu_seconds)
            if saved_cpu[1] == resource.RLIM_INFINITY or soft < saved_cpu[1]:
                signal.signal(signal.SIGXCPU, _on_xcpu)
                resource.setrlimit(resource.RLIMIT_CPU, (soft, saved_cpu[1]))
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, saved_as)
        resource.setrlimit(resource.RLIMIT_CPU, saved_cpu)
        signal.signal(signal.SIGXCPU, saved_handler)
