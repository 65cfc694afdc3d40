"""The child process of deployed tasks: ``python -m runyard_agent.runtimes.child``.

Started with its bundle's folder (``RUNYARD_BUNDLE_ROOT``, put first on ``sys.path``) and
entrypoint (``RUNYARD_ENTRYPOINT``), it imports the entrypoint at once, then serves jobs (one
JSON line each on stdin) one after the other until stdin closes: so the agent can start it
ahead of a task (a warm process) and later tasks of the same bundle find the imports done.
Before each job it goes to the task's work folder and takes a new cancel event; module state
stays from one task to the next (like a warm container). It calls the function with a
``TaskContext`` like the agent's, within the task's limits (``limits``), and reports on the
channel (the file descriptor ``RUNYARD_CHANNEL_FD``), one JSON object a line: ``progress``, then
``done`` (outputs, values), ``failed`` (code, message) or ``cancelled``, with ``reuse`` false
when the process should serve no other task. Whatever the function prints, and its ``logging``
records, go to stdout and stderr, which the parent streams as the task's log; the end of a
task's lines is marked on both (``end_marker``) before its final message. A ``cancel`` line on
stdin sets the task's ``ctx.cancel_event``; a function that does not stop is killed by the
parent after the grace. This module imports nothing heavy: it is the start-up time of a process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

CHANNEL_ENV = "RUNYARD_CHANNEL_FD"
ROOT_ENV = "RUNYARD_BUNDLE_ROOT"
ENTRYPOINT_ENV = "RUNYARD_ENTRYPOINT"


def end_marker(seq: int) -> bytes:
    """Written to stdout and stderr after the ``seq``-th job's lines (not a line of its own:
    found wherever it lands, even after a line the task did not end)."""
    return b"\x1frunyard-end-%d\x1f\n" % seq


class Channel:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, **message: Any) -> None:
        line = json.dumps(message, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class _Inbox:
    """stdin read in a thread: jobs queued for the main thread, ``cancel`` sets the current
    task's event at once; the parent gone (end of stdin) cancels and ends the loop."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[str, threading.Event] | None] = queue.SimpleQueue()
        self._cancel = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                self._cancel.set()
            elif line.strip():
                self._cancel = threading.Event()  # before a cancel of this job can be read
                self.jobs.put((line, self._cancel))
        self._cancel.set()
        self.jobs.put(None)


def _end(seq: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.write(fd, end_marker(seq))


def main() -> int:
    channel = Channel(os.fdopen(int(os.environ[CHANNEL_ENV]), "w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    from runyard_agent.runtimes.base import TaskFailedError
    from runyard_agent.runtimes.entrypoints import resolve_entrypoint

    entrypoint = os.environ[ENTRYPOINT_ENV]
    root = os.environ[ROOT_ENV]
    sys.path.insert(0, root)
    function: Any = None
    import_error: TaskFailedError | None = None
    try:
        function = resolve_entrypoint(entrypoint)
    except TaskFailedError as exc:
        import_error = exc

    inbox = _Inbox()
    while (item := inbox.jobs.get()) is not None:
        line, cancel = item
        job = json.loads(line)
        final: dict[str, Any] = {"kind": "failed", "reuse": False}
        try:
            os.chdir(job["work_dir"])
            if import_error is not None:
                final.update(code=import_error.code, message=str(import_error))
            else:
                final = _run(function, entrypoint, job, channel, cancel)
        except OSError as exc:  # the task's folder is gone
            final.update(code="runtime_error", message=f"the task's work folder: {exc}")
        finally:
            _end(job["seq"])
            os.chdir(root)
        channel.send(**final)
        if not final.get("reuse", True):
            return 0
    return 0  # the parent let it go


def _run(
    function: Any, entrypoint: str, job: dict[str, Any], channel: Channel, cancel: threading.Event
) -> dict[str, Any]:
    import runyard_agent.runtimes.limits as task_limits
    from runyard_agent.runtimes.base import (
        ProgressReport,
        TaskCancelledError,
        TaskContext,
        TaskFailedError,
    )
    from runyard_agent.runtimes.entrypoints import normalise_outputs
    from runyard_agent.runtimes.functions.decorator import produced, spec_of

    def report(item: ProgressReport) -> None:
        channel.send(kind="progress", **item.__dict__)

    ctx = TaskContext(
        task_id=job["task_id"],
        attempt=job["attempt"],
        parameters=job["parameters"],
        input_files={k: Path(v) for k, v in job["input_files"].items()},
        input_names=job["input_names"],
        input_types=job["input_types"],
        work_dir=Path(job["work_dir"]),
        output_dir=Path(job["output_dir"]),
        report=report,
        cancel_event=cancel,
    )
    spec = spec_of(function)
    given = job.get("limits") or {}
    limits = task_limits.TaskLimits.combine(
        task_limits.TaskLimits(given.get("memory_mb"), given.get("cpu_seconds")),
        task_limits.TaskLimits(
            getattr(spec, "memory_mb", None), getattr(spec, "cpu_seconds", None)
        ),
    )
    try:
        with task_limits.applied(limits):
            result = produced(spec.call(ctx), ctx) if spec is not None else function(ctx)
        if ctx.cancelled:
            raise TaskCancelledError()
        outputs = normalise_outputs(result, ctx.output_dir, entrypoint)
    except TaskCancelledError:
        return {"kind": "cancelled", "reuse": False}
    except TaskFailedError as exc:
        return {"kind": "failed", "code": exc.code, "message": str(exc)}
    except task_limits.ResourceLimitExceededError:
        message = limits.cpu_message()
        return {"kind": "failed", "code": task_limits.CODE, "message": message, "reuse": False}
    except MemoryError as exc:
        if limits.memory_mb is None:
            message = f"{entrypoint} ran out of memory: {exc}"
            return {"kind": "failed", "code": "runtime_error", "message": message, "reuse": False}
        message = limits.memory_message()
        return {"kind": "failed", "code": task_limits.CODE, "message": message, "reuse": False}
    except Exception as exc:
        if ctx.cancelled:
            return {"kind": "cancelled", "reuse": False}
        traceback.print_exc()  # to stderr: the task's log shows where it broke
        return {
            "kind": "failed",
            "code": "runtime_error",
            "message": f"{entrypoint} raised {type(exc).__name__}: {exc}",
        }
    return {
        "kind": "done",
        "outputs": [
            {
                "output_id": o.output_id,
                "path": str(o.path),
                "content_type": o.content_type,
                "file_name": o.file_name,
            }
            for o in outputs
        ],
        "values": ctx.values,
    }


if __name__ == "__main__":
    sys.exit(main())
