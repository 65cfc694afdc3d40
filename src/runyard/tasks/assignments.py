"""Building ``task.assign.v1``: the workflow version, the resolved parameters and a short-lived
signed GET URL per file input, and for deployed python code one for its bundle (the agent
fetches bytes from the store, never via the API)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.files.repository import FileRepository
from runyard.models import StoredFile, Task, WorkflowVersion
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard_protocol import AssignedBundle, AssignedInput, AssignedWorkflow, TaskAssign


class InputExpired(Exception):
    def __init__(self, parameter: str) -> None:
        super().__init__(parameter)
        self.parameter = parameter


def file_parameters(version: WorkflowVersion, task: Task) -> dict[str, str]:
    return {
        p["key"]: task.parameters[p["key"]]
        for p in version.parameters
        if p.get("type") == "file" and p["key"] in task.parameters
    }


def check_unexpired(files: dict[str, StoredFile], params: dict[str, str], now: datetime) -> None:
    """Raise ``InputExpired`` naming the first file input that is gone or expired (the one
    rule both dispatcher passes and the input-URL renewal apply)."""
    for key, file_key in params.items():
        f = files.get(file_key)
        if f is None or f.file_status == "expired" or f.expires_at <= now:
            raise InputExpired(key)


def signed_inputs(
    files: dict[str, StoredFile], params: dict[str, str], storage: Storage, ttl: int
) -> list[AssignedInput]:
    inputs = []
    for key, file_key in params.items():
        f = files[file_key]
        inputs.append(
            AssignedInput(
                parameter=key,
                file_key=f.file_key,
                file_name=f.file_name,
                content_type=f.content_type,
                file_size=f.file_size,
                download_url=storage.presign_get(
                    f.file_key, expires_in=ttl, file_name=f.file_name, content_type=f.content_type
                ),
            )
        )
    return inputs


async def load_inputs(
    session: AsyncSession,
    task: Task,
    version: WorkflowVersion,
    storage: Storage,
    settings: Settings,
    now: datetime,
) -> list[AssignedInput]:
    params = file_parameters(version, task)
    files = await FileRepository(session).by_keys(task.team_id, list(params.values()))
    check_unexpired(files, params, now)
    return signed_inputs(files, params, storage, settings.limits.agent_url_ttl)


def signed_bundle(version: WorkflowVersion, storage: Storage, ttl: int) -> AssignedBundle | None:
    """A signed GET of the deployed code a python version runs from, if it has one."""
    raw = version.workflow_json.get("bundle") if version.tool_type == "python" else None
    if not isinstance(raw, dict):
        return None
    file_key = str(raw["file_key"])
    return AssignedBundle(
        file_key=file_key,
        sha256=str(raw["sha256"]),
        file_size=int(raw["file_size"]),
        download_url=storage.presign_get(
            file_key, expires_in=ttl, file_name="bundle.tar.gz", content_type="application/gzip"
        ),
    )


def build_assign(
    task: Task,
    version: WorkflowVersion,
    inputs: list[AssignedInput],
    bundle: AssignedBundle | None = None,
) -> TaskAssign:
    return TaskAssign(
        task_id=task.id,
        attempt=task.attempt,
        workflow=AssignedWorkflow(
            id=task.workflow_id,
            slug=task.workflow_slug,
            version=version.version,
            tool_type=version.tool_type,
            workflow_json=version.workflow_json,
            parameters=version.parameters,
            bundle=bundle,
        ),
        parameters=task.parameters,
        inputs=inputs,
        timeout_seconds=float(task.task_timeout),
    )
