"""Checking a run before any byte moves (``POST /r/workflows/…/validate``): the parameters a run
would be given, with file parameters *declared* (``{"file_name", "file_size",
"content_type"}``) instead of uploaded. The answer is the run's own: the same 409 or 422, with
the same ``errors[]``; a declared file is checked as the presign and the run would check it
(size within the upload limits, a usable name, an accepted type)."""

from __future__ import annotations

from typing import Any

from runyard.files.naming import accepts, normalise_content_type, safe_file_name
from runyard.models import Workflow, WorkflowVersion
from runyard.settings import Settings
from runyard.tasks.submit import RunService
from runyard.workflows.parameters import ParamError
from runyard.workflows.schemas import ParameterDef

PLACEHOLDER = "declared-file"  # stands for a declared file while the shapes are checked


def declared_error(p: ParameterDef, value: dict[str, Any], settings: Settings) -> ParamError | None:
    """The error of one declared file, or None."""

    def err(code: str, message: str) -> ParamError:
        return ParamError(p.key, code, message)

    name, size, ctype = value.get("file_name"), value.get("file_size"), value.get("content_type")
    if not isinstance(name, str) or not isinstance(ctype, str):
        return err(
            "wrong_type",
            f"{p.key}: declare a file as {{file_name, file_size, content_type}}, or pass a "
            "file_key from /r/files/presign.",
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        return err("invalid_file_size", f"{p.key}: file_size must be at least 1 byte.")
    limit = max(settings.limits.single_upload_max, settings.limits.multipart_max)
    if size > limit:
        return err("file_too_large", f"{p.key}: {size} bytes exceeds the limit of {limit} bytes.")
    if safe_file_name(name).strip() in ("", ".", "..") or not name.strip():
        return err("invalid_file_name", f"{p.key}: file_name has no usable characters.")
    normalised = normalise_content_type(ctype)
    if normalised is None:
        return err("invalid_content_type", f"{p.key}: {ctype!r} is not a MIME type.")
    if not accepts(p.accept, normalised):
        return err(
            "file_type_not_accepted",
            f"{p.key}: {normalised} is not accepted; expected {', '.join(p.accept or [])}.",
        )
    return None


async def validate_run(
    service: RunService,
    team_id: str,
    wf: Workflow,
    version: WorkflowVersion,
    given: dict[str, Any],
) -> dict[str, Any]:
    """The parameters a run would get (declared files as declared), or the run's refusal."""
    defs = {p["key"]: ParameterDef.model_validate(p) for p in version.parameters}
    shaped = dict(given)
    declared: dict[str, ParamError | None] = {}
    for key, value in given.items():
        p = defs.get(key)
        if p is not None and p.type == "file" and isinstance(value, dict):
            declared[key] = declared_error(p, value, service.settings)
            shaped[key] = PLACEHOLDER
    resolved = await service.checked_parameters(team_id, wf, version, shaped, declared)
    return {k: given[k] if k in declared else v for k, v in resolved.items()}
