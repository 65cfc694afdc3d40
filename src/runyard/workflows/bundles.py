"""Deployed code of python workflows (``runyard workflows deploy``): a version's
``workflow_json.bundle`` names an uploaded tar.gz by ``file_key`` and ``sha256``.

Importing such a version checks the upload is the team's, under ``bundles/``, stored, and of that
sha256, then pins it (like a library model's file: it never expires while a version may run it;
every version of a workflow stays runnable, so a bundle stays pinned). Never commits.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.clock import Clock
from runyard.errors import BadRequest, NotFound, Unprocessable
from runyard.files.repository import FileRepository
from runyard.files.schemas import SHA256_PATTERN, plain_sha256
from runyard.files.stored import confirm_stored
from runyard.library.service import PINNED
from runyard.storage.base import Storage

BUNDLE_PREFIX = "bundles/"


class BundleRef(BaseModel):
    """``workflow_json.bundle`` of a deployed python workflow."""

    model_config = ConfigDict(extra="forbid")

    file_key: str = Field(min_length=1, max_length=1024)
    sha256: str = Field(pattern=SHA256_PATTERN)
    file_size: int = Field(ge=1)

    _plain = field_validator("sha256")(plain_sha256)


def bundle_problem(workflow_json: dict[str, Any]) -> str | None:
    """Why ``workflow_json.bundle`` is malformed, or None (also None without a bundle)."""
    raw = workflow_json.get("bundle")
    if raw is None:
        return None
    try:
        BundleRef.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "bundle"
        return (
            f"workflow_json.bundle.{where}: {first['msg']} (a bundle is "
            '{"file_key": ..., "sha256": ..., "file_size": ...}, as `runyard workflows deploy` '
            "sends it)"
        )
    return None


async def pin_bundle(
    session: AsyncSession,
    storage: Storage | None,
    clock: Clock,
    team_id: str,
    workflow_json: dict[str, Any],
) -> None:
    """Check the bundle a definition names and keep its file for good."""
    raw = workflow_json.get("bundle")
    if raw is None:
        return
    ref = BundleRef.model_validate(raw)
    file = (await FileRepository(session).by_keys(team_id, [ref.file_key])).get(ref.file_key)
    if file is None or not file.file_key.startswith(BUNDLE_PREFIX):
        raise NotFound(
            "No bundle upload of this team has this file_key: upload the bundle with POST "
            "/api/v1/workflows/bundles/presign first (`runyard workflows deploy` does).",
            code="bundle_not_found",
        )
    if file.sha256 != ref.sha256 or file.file_size != ref.file_size:
        raise BadRequest(
            f"The bundle was uploaded with sha256 {file.sha256} and {file.file_size} bytes, not "
            f"{ref.sha256} and {ref.file_size}; name it as it was uploaded.",
            code="checksum_mismatch",
        )
    if file.expires_at != PINNED and (
        file.file_status == "expired" or file.expires_at <= clock.now()
    ):
        raise Unprocessable(
            "This bundle upload expired before a version named it; deploy again.",
            code="file_expired",
        )
    if file.file_status != "uploaded":
        if storage is None:
            raise Unprocessable("The bundle was not uploaded yet.", code="file_not_uploaded")
        await confirm_stored(file, storage, session.commit, "bundle")
    file.expires_at = PINNED
