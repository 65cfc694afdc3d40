"""The child process of one deployed task: ``python -m runyard_agent.runtimes.child``.

Started with its bundle's folder (``RUNYARD_BUNDLE_ROOT``, put first on ``sys.path``) and
entrypoint (``RUNYARD_ENTRYPOINT``), it imports the entrypoint at once, then waits for its job
(one JSON line on stdin): so the agent can start it ahead of the task (a warm process) and the
task does not wait for the imports. It calls the function with a ``TaskContext`` like the
agent's, and reports on the channel (the file descriptor ``RUNYARD_CHANNEL_FD``), one JSON object
a line: ``progress``, then ``done`` (outputs, values), ``failed`` (code, message) or
``cancelled``. Whatever the function prints, and its ``logging`` records, go to stdout and
stderr, which the parent streams as the task's log. A ``cancel`` line on stdin sets
``ctx.cancel_event``; a function that does not stop is killed by the parent after the grace.
This module imports nothing heavy: it is the start-up time of every task.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

CHANNEL_ENV = "RUNYARD_CHANNEL_FD"
ROOT_ENV = "RUNYARD_BUNDLE_ROOT"
ENTRYPOINT_ENV = "RUNYARD_ENTRYPOINT"


class Channel:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, **message: Any) -> None:
        line = json.dumps(message, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def _watch_stdin(cancel: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "cancel":
            cancel.set()
    cancel.set()  # the parent went away: stop too


def main() -> int:
    channel = Channel(os.fdopen(int(os.environ[CHANNEL_ENV]), "w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    from runyard_agent.runtimes.base import (
        ProgressReport,
        TaskCancelledError,
        TaskContext,
        TaskFailedError,
    )
    from runyard_agent.runtimes.entrypoints import normalise_outputs, resolve_entrypoint
    from runyard_agent.runtimes.functions.decorator import produced, spec_of

    entrypoint = os.environ[ENTRYPOINT_ENV]
    sys.path.insert(0, os.environ[ROOT_ENV])
    function: Any = None
    import_error: TaskFailedError | None = None
    try:
        function = resolve_entrypoint(entrypoint)
    except TaskFailedError as exc:
        import_error = exc

    line = sys.stdin.readline()
    if not line:
        return 0  # a warm process never used: the agent let it go
    job = json.loads(line)
    os.chdir(job["work_dir"])
    if import_error is not None:
        channel.send(kind="failed", code=import_error.code, message=str(import_error))
        return 0
    cancel = threading.Event()
    threading.Thread(target=_watch_stdin, args=(cancel,), daemon=True).start()

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
    try:
        spec = spec_of(function)
        result = produced(spec.call(ctx), ctx) if spec is not None else function(ctx)
        if ctx.cancelled:
            raise TaskCancelledError()
        outputs = normalise_outputs(result, ctx.output_dir, entrypoint)
    except TaskCancelledError:
        channel.send(kind="cancelled")
        return 0
    except TaskFailedError as exc:
        channel.send(kind="failed", code=exc.code, message=str(exc))
        return 0
    except Exception as exc:
        if ctx.cancelled:
            channel.send(kind="cancelled")
            return 0
        traceback.print_exc()  # to stderr: the task's log shows where it broke
        channel.send(
            kind="failed",
            code="runtime_error",
            message=f"{entrypoint} raised {type(exc).__name__}: {exc}",
        )
        return 0
    channel.send(
        kind="done",
        outputs=[
            {
                "output_id": o.output_id,
                "path": str(o.path),
                "content_type": o.content_type,
                "file_name": o.file_name,
            }
            for o in outputs
        ],
        values=ctx.values,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
