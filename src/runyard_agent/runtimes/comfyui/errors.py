"""Error codes of the ComfyUI runtime and how ComfyUI's error bodies read to a user.

ComfyUI has two layers of errors: validation (HTTP 400 at ``POST /prompt`` with ``node_errors``)
and run time (``execution_error`` on the socket, ``status_str: "error"`` in history). Both
become a ``TaskFailedError`` whose message names the node and its class.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

VALIDATION_FAILED = "comfyui_validation_failed"
EXECUTION_ERROR = "comfyui_execution_error"
COMFYUI_ERROR = "comfyui_error"
CONNECTION_LOST = "comfyui_connection_lost"
UNREACHABLE = "comfyui_unreachable"
OUTPUT_MISSING = "comfyui_output_missing"

_MAX_MESSAGE = 4000


# An absolute path on ComfyUI's machine (POSIX or Windows), not part of a URL: the user sees only
# its last part (``/srv/comfy/input/broken.png`` → ``broken.png``).
_SERVER_PATH = re.compile(
    r"""(?<![\w.:/\\~-])(?:[A-Za-z]:[\\/]|/)(?:[^\s'"/\\]+[\\/])+([^\s'"/\\]*)"""
)


def scrub_paths(text: str) -> str:
    """``text`` without ComfyUI's server paths: each keeps only its file (or folder) name."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "…", text)


def _text(value: Any) -> str:
    return scrub_paths(value.strip()) if isinstance(value, str) else ""


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def render_reason(reason: Mapping[str, Any]) -> str:
    """One node error: ``blur_radius: Value 40 bigger than max of 31``."""
    extra = reason.get("extra_info")
    input_name = _text(extra.get("input_name")) if isinstance(extra, Mapping) else ""
    message = _text(reason.get("message")) or _text(reason.get("type")) or "invalid"
    details = _text(reason.get("details"))
    if input_name:
        # ComfyUI's details often repeat the input name ("image - Invalid image file: x.png").
        for separator in (" - ", ": ", ", "):
            if details.startswith(input_name + separator):
                details = details[len(input_name + separator) :]
                break
        if details == input_name:
            details = ""
    text = f"{input_name}: {message}" if input_name else message
    return f"{text} ({details})" if details else text


def render_node_error(node_id: str, entry: Mapping[str, Any]) -> str:
    """``node 3 (ImageBlur): blur_radius: Value 40 bigger than max of 31``."""
    class_type = _text(entry.get("class_type")) or "?"
    reasons = entry.get("errors")
    rendered = (
        [render_reason(r) for r in reasons if isinstance(r, Mapping)]
        if isinstance(reasons, list)
        else []
    )
    return f"node {node_id} ({class_type}): " + (", ".join(rendered) or "invalid")


def render_validation_error(body: Any) -> str:
    """The message of a ``POST /prompt`` 400: the top-level error, then each node's errors."""
    if not isinstance(body, Mapping):
        return "ComfyUI rejected the workflow (no error details)"
    error = body.get("error")
    headline = "invalid prompt"
    details = ""
    if isinstance(error, Mapping):
        headline = _text(error.get("message")) or _text(error.get("type")) or headline
        details = _text(error.get("details"))
    elif isinstance(error, str) and error.strip():
        headline = error.strip()
    node_errors = body.get("node_errors")
    nodes = [
        render_node_error(str(node_id), entry)
        for node_id, entry in (node_errors.items() if isinstance(node_errors, Mapping) else [])
        if isinstance(entry, Mapping)
    ]
    if nodes:
        # The top-level details repeat the node errors without node ids; skip them.
        return _clip(f"ComfyUI rejected the workflow: {headline}; " + "; ".join(nodes))
    suffix = f" ({details})" if details else ""
    return _clip(f"ComfyUI rejected the workflow: {headline}{suffix}")


def render_skipped_outputs(node_errors: Mapping[str, Any]) -> str:
    """A ``POST /prompt`` 200 with ``node_errors``: which outputs ComfyUI will not run, and why."""
    skipped: list[str] = []
    for entry in node_errors.values():
        outputs = entry.get("dependent_outputs") if isinstance(entry, Mapping) else None
        for output in outputs if isinstance(outputs, list) else []:
            if str(output) not in skipped:
                skipped.append(str(output))
    nodes = "; ".join(
        render_node_error(str(node_id), entry)
        for node_id, entry in node_errors.items()
        if isinstance(entry, Mapping)
    )
    which = f"output node(s) {', '.join(skipped)}" if skipped else "some output nodes"
    return _clip(
        f"ComfyUI skipped {which}, which failed validation, and would run only the others: "
        f"{nodes or 'no details'}"
    )


def render_execution_error(data: Mapping[str, Any]) -> str:
    """``execution_error``: ``node 5 (SaveImage) failed: ValueError: ...``."""
    node_id = _text(str(data.get("node_id") or "")) or "?"
    node_type = _text(data.get("node_type")) or "?"
    exception_type = _text(data.get("exception_type")) or "error"
    exception_message = _text(data.get("exception_message"))
    return _clip(
        f"ComfyUI failed at node {node_id} ({node_type}): {exception_type}: {exception_message}"
    )


def render_interrupted(data: Mapping[str, Any]) -> str:
    node_id = _text(str(data.get("node_id") or ""))
    node_type = _text(data.get("node_type"))
    where = f" at node {node_id} ({node_type or '?'})" if node_id else ""
    return f"ComfyUI interrupted the prompt{where}"
