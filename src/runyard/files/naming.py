"""Object keys of the contract (section 6) and file-name sanitising."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[^\w.\- ()+@,=]", re.UNICODE)
_MIME = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9*][\w.+*-]*$")


def safe_file_name(name: str, max_length: int = 150) -> str:
    """A safe last segment of a key: no '/', '..' or control characters; extension kept."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    if not name:
        name = "file"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: max_length - len(ext) - 1] + "." + ext
        else:
            name = name[:max_length]
    return name


def normalise_content_type(value: str) -> str | None:
    """``type/subtype`` lower-cased without parameters, or None when it is not a MIME type."""
    base = value.split(";", 1)[0].strip().lower()
    return base if _MIME.match(base) and "*" not in base else None


def input_key(team_id: str, upload_id: str, file_name: str) -> str:
    return f"inputs/{team_id}/{upload_id}/{safe_file_name(file_name)}"


def model_key(team_id: str, upload_id: str, file_name: str) -> str:
    """A model library upload: kept while a model names it (never under ``inputs/``, which the
    bucket's lifecycle empties after a day)."""
    return f"models/{team_id}/{upload_id}/{safe_file_name(file_name)}"


def bundle_key(team_id: str, upload_id: str, file_name: str) -> str:
    """A workflow's deployed code: kept (pinned) while a workflow version names it."""
    return f"bundles/{team_id}/{upload_id}/{safe_file_name(file_name)}"


def output_key(team_id: str, task_id: str, attempt: int, index: int, file_name: str) -> str:
    return f"outputs/{team_id}/{task_id}/{attempt}/{index}-{safe_file_name(file_name)}"


def accepts(accept: list[str] | None, content_type: str) -> bool:
    """Whether ``content_type`` matches one of ``accept`` (``image/*``, ``*/*``, exact types)."""
    if not accept:
        return True
    ct = content_type.lower()
    for pattern in accept:
        p = pattern.strip().lower()
        if p in ("*", "*/*") or p == ct:
            return True
        if p.endswith("/*") and ct.startswith(p[:-1]):
            return True
    return False
