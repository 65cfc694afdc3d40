from __future__ import annotations

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select
from sqlalchemy.orm import QueryableAttribute

from runyard.db.repository import Repository
from runyard.models import Workflow, WorkflowVersion


def _live_with_version(
    version: ColumnElement[int] | QueryableAttribute[int],
) -> Select[Workflow, WorkflowVersion]:
    return (
        select(Workflow, WorkflowVersion)
        .join(
            WorkflowVersion,
            (WorkflowVersion.workflow_id == Workflow.id) & (WorkflowVersion.version == version),
        )
        .where(
            Workflow.team_id == bindparam("team_id"),
            Workflow.workflow_slug == bindparam("slug"),
            Workflow.deleted_at.is_(None),
        )
    )


# Built once (the run path's lookup): a reused statement computes its cache key once.
_CURRENT = _live_with_version(Workflow.version)
_AT_VERSION = _live_with_version(bindparam("version", type_=Integer))


class WorkflowRepository(Repository):
    async def by_id(self, team_id: str, workflow_id: str) -> Workflow | None:
        wf = await self.session.get(Workflow, workflow_id)
        if wf is None or wf.team_id != team_id or wf.deleted_at is not None:
            return None
        return wf

    async def by_slug(self, team_id: str, slug: str, *, deleted: bool = False) -> Workflow | None:
        wf = await self.session.scalar(
            select(Workflow).where(Workflow.team_id == team_id, Workflow.workflow_slug == slug)
        )
        if wf is None or (wf.deleted_at is not None and not deleted):
            return None
        return wf

    async def by_slug_at(
        self, team_id: str, slug: str, version: int | None
    ) -> tuple[Workflow, WorkflowVersion] | None:
        """A live workflow and one of its versions (its current one when ``version`` is None),
        in one statement: the run path's lookup."""
        params: dict[str, object] = {"team_id": team_id, "slug": slug}
        if version is None:
            stmt = _CURRENT
        else:
            stmt, params["version"] = _AT_VERSION, version
        row = (await self.session.execute(stmt, params)).first()
        return None if row is None else (row[0], row[1])

    async def version(self, workflow_id: str, version: int) -> WorkflowVersion | None:
        return await self.session.get(WorkflowVersion, (workflow_id, version))

    async def page(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Workflow, WorkflowVersion]], int]:
        where = (Workflow.team_id == team_id, Workflow.deleted_at.is_(None))
        total = await self.session.scalar(select(func.count()).select_from(Workflow).where(*where))
        rows = await self.session.execute(
            select(Workflow, WorkflowVersion)
            .join(
                WorkflowVersion,
                (WorkflowVersion.workflow_id == Workflow.id)
                & (WorkflowVersion.version == Workflow.version),
            )
            .where(*where)
            .order_by(Workflow.workflow_slug)
            .offset(offset)
            .limit(limit)
        )
        return [(w, v) for w, v in rows.tuples()], int(total or 0)
