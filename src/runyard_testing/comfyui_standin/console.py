"""What ComfyUI prints on its console while it runs prompts, printed the same way: through
``logging`` with the bare message (ComfyUI's ``app/logger.py``: a ``StreamHandler`` on stderr,
format ``%(message)s``), and a sampler's ``tqdm`` bar on stderr.

- ``got prompt`` when ``POST /prompt`` arrives (``server.py``), ``invalid prompt: {error}`` when
  it is refused;
- ``!!! Exception during processing !!! {exception}`` and the traceback when a node raises,
  ``Processing interrupted`` on an interrupt (``execution.py``);
- ``Prompt executed in 1.23 seconds`` after every prompt, whatever its outcome (``main.py``,
  ``prompt_worker``; ``H:MM:SS`` past ten minutes).
"""

from __future__ import annotations

import logging
import sys
import time
import traceback

__all__ = ["bar", "exception", "got_prompt", "interrupted", "invalid_prompt", "prompt_executed"]

log = logging.getLogger("comfyui")


def setup() -> None:
    """As ComfyUI's ``setup_logger``: INFO and up, the bare message, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def got_prompt() -> None:
    log.info("got prompt")


def invalid_prompt(error: object) -> None:
    log.warning("invalid prompt: %s", error)


def exception(exc: BaseException) -> None:
    log.error("!!! Exception during processing !!! %s", exc)
    log.error("".join(traceback.format_exception(exc)))


def interrupted() -> None:
    log.info("Processing interrupted")


def prompt_executed(seconds: float) -> None:
    if seconds > 600:
        log.info("Prompt executed in %s", time.strftime("%H:%M:%S", time.gmtime(seconds)))
    else:
        log.info("Prompt executed in %.2f seconds", seconds)


def bar(step: int, total: int) -> None:
    """A sampler's progress bar, redrawn with ``\\r`` as tqdm does; ended at the last step."""
    done = int(10 * step / total) if total else 10
    sys.stderr.write(
        f"\r{100 * step // max(total, 1):3d}%|{'█' * done}{' ' * (10 - done)}| {step}/{total}"
        + ("\n" if step >= total else "")
    )
    sys.stderr.flush()
