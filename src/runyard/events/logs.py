"""A task's console log as text: its ``log`` events, line by line, with the gaps marked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def log_text(events: Iterable[dict[str, Any]]) -> str:
    """stdout lines as they are, stderr lines as they are too (``logging`` writes there); a
    new attempt, lines dropped by the rate limit and the end of a truncated log are marked."""
    out: list[str] = []
    attempt = None
    for data in events:
        if attempt is not None and data.get("attempt") != attempt:
            out.append(f"[runyard] --- attempt {data.get('attempt')} ---")
        attempt = data.get("attempt")
        if data.get("dropped"):
            out.append(f"[runyard] ... {data['dropped']} line(s) dropped (too many too fast) ...")
        out.extend(str(item.get("line", "")) for item in data.get("lines") or [])
        if data.get("truncated"):
            out.append("[runyard] ... log truncated: the task printed more than its log keeps")
    return "\n".join(out) + ("\n" if out else "")
