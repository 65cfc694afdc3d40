"""The child process of one deployed task: ``python -m runyard_agent.runtimes.bundles.child``.

It reads its job (one JSON line) from stdin, puts the bundle's folder first on ``sys.path``,
imports the entrypoint and calls it with a ``TaskContext`` like the agent's. It reports on the
channel (the file descriptor named by ``RUNYARD_CHANNEL_FD``), one JSON object a line:
``progress``, then ``done`` (outputs, values), ``failed`` (code, message) or ``cancelled``.
Whatever the function prints, and its ``logging`` records, go to stdout and stderr, which the
parent streams as the task's log. A ``cancel`` line on stdin sets ``ctx.cancel_event``; a
function that does not stop is killed by the parent after the grace.
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

from runyard_agent.runtimes.bundles.process import CHANNEL_ENV


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
    job = json.loads(sys.stdin.readline())
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # Imported here, after the job is read: the parent measures start-up as one span.
    from runyard_agent.functions.decorator import produced, spec_of
    from runyard_agent.runtimes.base import (
        ProgressReport,
        TaskCancelledError,
        TaskContext,
        TaskFailedError,
    )
    from runyard_agent.runtimes.python import normalise_outputs, resolve_entrypoint

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
    entrypoint = job["entrypoint"]
    sys.path.insert(0, job["root"])
    try:
        function = resolve_entrypoint(entrypoint)
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
