"""Workflow rules: import (new or next version), update, delete, addressing by id/slug@version.
Never commits."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.errors import NotFound, Unprocessable
from runyard.models import Workflow, WorkflowVersion
from runyard.storage.base import Storage
from runyard.workflows.bounds import WorkflowBounds, check_bounds
from runyard.workflows.bundles import pin_bundle
from runyard.workflows.parameters import check_defaults
from runyard.workflows.preflight import check_comfyui_agents
from runyard.workflows.python_preflight import check_python_agents
from runyard.workflows.repository import WorkflowRepository
from runyard.workflows.requirements import graph_requirements
from runyard.workflows.schemas import WorkflowDefinition, WorkflowRead, WorkflowUpdate


def _not_found(ref: str) -> NotFound:
    return NotFound(f"No workflow {ref!r} in this team.", code="workflow_not_found")


def to_read(wf: Workflow, v: WorkflowVersion, *, with_json: bool) -> WorkflowRead:
    return WorkflowRead(
        id=wf.id,
        workflow_slug=wf.workflow_slug,
        display_name=v.display_name,
        description=v.description,
        version=v.version,
        latest_version=wf.version,
        tool_type=v.tool_type,
        parameters=v.parameters,
        required_labels=v.required_labels,
        task_timeout=v.task_timeout,
        max_retries=v.max_retries,
        priority=v.priority,
        workflow_status=wf.workflow_status,
        created_at=wf.created_at,
        updated_at=v.created_at,
        workflow_json=v.workflow_json if with_json else None,
    )


# ASCII digits only (``str.isdigit`` accepts "²"), and no more than a 32-bit column can hold.
_VERSION = re.compile(r"[1-9][0-9]{0,8}")


def split_ref(ref: str) -> tuple[str, int | None]:
    """``slug`` or ``slug@version``; a version that cannot exist reads as not found."""
    slug, at, version = ref.partition("@")
    if not at:
        return slug, None
    if not _VERSION.fullmatch(version):
        raise _not_found(ref)
    return slug, int(version)


class WorkflowService:
    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        bounds: WorkflowBounds | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.session = session
        self.storage = storage
        self.repo = WorkflowRepository(session)
        self.clock = clock
        self.bounds = bounds or WorkflowBounds()

    async def page(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Workflow, WorkflowVersion]], int]:
        return await self.repo.page(team_id, offset, limit)

    def _validated(self, definition: WorkflowDefinition) -> WorkflowDefinition:
        check_bounds(
            self.bounds, definition.tool_type, definition.workflow_json, len(definition.parameters)
        )
        problems = check_defaults(definition.parameters)
        if problems:
            raise Unprocessable("; ".join(problems), code="invalid_workflow")
        return definition

    def _version_row(self, wf_id: str, version: int, d: WorkflowDefinition) -> WorkflowVersion:
        return WorkflowVersion(
            workflow_id=wf_id,
            version=version,
            display_name=d.display_name or d.workflow_slug,
            description=d.description,
            tool_type=d.tool_type,
            workflow_json=d.workflow_json,
            parameters=[p.model_dump(exclude_none=True) for p in d.parameters],
            required_labels=sorted(set(d.required_labels)),
            task_timeout=d.task_timeout,
            max_retries=d.max_retries,
            priority=d.priority,
            created_at=self.clock.now(),
        )

    async def import_definition(
        self, team_id: str, d: WorkflowDefinition
    ) -> tuple[Workflow, WorkflowVersion, bool]:
        """Create the workflow, or add a version when the slug exists. (wf, version, created)."""
        self._validated(d)
        if d.tool_type == "comfyui":
            # Pre-flight: node classes and models against the agents that would run it.
            defaults = {p.key: p.default for p in d.parameters if p.default is not None}
            needs = graph_requirements(
                d.workflow_json, [p.model_dump() for p in d.parameters], defaults
            )
            await check_comfyui_agents(self.session, team_id, d.required_labels, needs)
        else:
            await check_python_agents(self.session, team_id, d.required_labels, d.workflow_json)
        await pin_bundle(self.session, self.storage, self.clock, team_id, d.workflow_json)
        now = self.clock.now()
        wf = await self.repo.by_slug(team_id, d.workflow_slug, deleted=True)
        created = wf is None
        if wf is None:
            wf = Workflow(
                id=new_id(),
                team_id=team_id,
                workflow_slug=d.workflow_slug,
                version=1,
                workflow_status=d.workflow_status,
                created_at=now,
                updated_at=now,
            )
            self.repo.add(wf)
            await self.repo.flush()
        else:
            wf.version += 1
            wf.deleted_at = None
            wf.workflow_status = d.workflow_status
            wf.updated_at = now
        version = self._version_row(wf.id, wf.version, d)
        self.repo.add(version)
        await self.repo.flush()
        return wf, version, created

    async def update(
        self, team_id: str, workflow_id: str, patch: WorkflowUpdate
    ) -> tuple[Workflow, WorkflowVersion]:
        wf, current = await self.get(team_id, workflow_id)
        merged: dict[str, Any] = {
            "workflow_slug": wf.workflow_slug,
            "display_name": current.display_name,
            "description": current.description,
            "tool_type": current.tool_type,
            "workflow_json": current.workflow_json,
            "parameters": current.parameters,
            "required_labels": current.required_labels,
            "task_timeout": current.task_timeout,
            "max_retries": current.max_retries,
            "priority": current.priority,
            "workflow_status": wf.workflow_status,
        }
        changes = patch.model_dump(exclude_unset=True)
        if set(changes) <= {"workflow_status"}:
            # Disabling or enabling changes no definition: the current version stays.
            if "workflow_status" in changes and changes["workflow_status"] != wf.workflow_status:
                wf.workflow_status = changes["workflow_status"]
                wf.updated_at = self.clock.now()
            return wf, current
        merged.update(changes)
        try:
            definition = WorkflowDefinition.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Unprocessable(
                f"Invalid workflow: {first['msg']}", code="invalid_workflow"
            ) from exc
        wf2, version, _ = await self.import_definition(team_id, definition)
        return wf2, version

    async def delete(self, team_id: str, workflow_id: str) -> None:
        wf = await self.repo.by_id(team_id, workflow_id)
        if wf is None:
            raise _not_found(workflow_id)
        wf.deleted_at = self.clock.now()

    async def get(self, team_id: str, workflow_id: str) -> tuple[Workflow, WorkflowVersion]:
        wf = await self.repo.by_id(team_id, workflow_id)
        if wf is None:
            raise _not_found(workflow_id)
        v = await self.repo.version(wf.id, wf.version)
        assert v is not None
        return wf, v

    async def get_by_ref(self, team_id: str, ref: str) -> tuple[Workflow, WorkflowVersion]:
        slug, version = split_ref(ref)
        found = await self.repo.by_slug_at(team_id, slug, version or None)
        if found is None:
            raise _not_found(ref)
        return found
