"""What a model's ``model_type`` and ``model_path`` may be: a place under ComfyUI's
``models/<model_type>/`` that no agent can be tricked into leaving."""

from __future__ import annotations

import re
import unicodedata

_TYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,49}")
_SEGMENT_BAD = frozenset(("", ".", ".."))


def model_type_problem(model_type: str) -> str | None:
    if not _TYPE.fullmatch(model_type) or model_type in (".", ".."):
        return (
            f"model_type {model_type!r} must be one folder name of letters, digits, '_', '-' "
            "or '.' (a ComfyUI models subfolder such as checkpoints or loras)"
        )
    return None


def model_path_problem(model_path: str) -> str | None:
    """Why ``model_path`` is not a safe relative path, or None."""
    if model_path.startswith("/") or "\\" in model_path or re.match(r"[A-Za-z]:", model_path):
        return f"model_path '{model_path}' must be relative, with '/' between folders"
    if any(unicodedata.category(ch)[0] == "C" for ch in model_path):
        return f"model_path {model_path!r} contains control characters"
    segments = model_path.split("/")
    if not _SEGMENT_BAD.isdisjoint(segments):
        return f"model_path '{model_path}' may not contain '..', '.' or empty folder names"
    if len(model_path.encode()) > 1024 or max(len(s.encode()) for s in segments) > 255:
        return f"model_path {model_path!r} is too long"
    return None
