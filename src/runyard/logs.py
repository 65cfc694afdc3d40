"""Logging set-up for the server processes."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # uvicorn's access log prints query strings (signed URLs); ours does not.
    logging.getLogger("uvicorn.access").disabled = True
