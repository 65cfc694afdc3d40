"""Submitting a run: resolve the workflow, validate every parameter (files included), apply
create the task (through ``TaskTransitions.create``) with its Idempotency-Key, which is read
back only when the insert finds it taken or the run is refused (then a stored key answers with
its task, or 409 ``idempotency_key_reused`` for another body). The request's unit of work
commits; a file not yet seen in the store is checked with a HEAD after the reads are committed,
so no database connection is held across that network call."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.db.unit import UnitOfWork
from runyard.errors import Conflict, RunyardError, Unprocessable
from runyard.files.naming import accepts
from runyard.files.repository import FileRepository
from runyard.library.service import check_required_models
from runyard.models import StoredFile, Task, Workflow, WorkflowVersion
from runyard.settings import Settings
from runyard.states import TaskStatus, rank_at, requirement_key
from runyard.storage.base import Storage
from runyard.tasks.repository import TaskQueue
from runyard.tasks.transitions import Idempotency, TaskTransitions
from runyard.workflows.comfyui import required_library_models
from runyard.workflows.parameters import ParamError, resolve_parameters
from runyard.workflows.preflight import check_comfyui_agents
from runyard.workflows.requirements import graph_requirements
from runyard.workflows.schemas import ParameterDef


@dataclass(frozen=True)
class Submitted:
    task_id: str
    replayed: bool


def request_hash(workflow_ref: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"workflow": workflow_ref, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class RunService:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        transitions: TaskTransitions,
    ) -> None:
        self.uow = uow
        self.transitions = transitions
        self.repo = TaskQueue(uow.session)
        self.files = FileRepository(uow.session)
        self.settings = settings
        self.storage = storage
        self.clock = clock

    async def replay(self, team_id: str, key: str, digest: str) -> Submitted | None:
        row = await self.repo.idempotency(team_id, key)
        if row is None:
            return None
        if row.created_at < self.clock.now() - timedelta(
            seconds=self.settings.retention.idempotency
        ):
            await self.repo.delete_idempotency(team_id, key)
            await self.repo.flush()
            return None
        if row.request_hash != digest:
            raise Conflict(
                "This Idempotency-Key was used with a different request body or workflow; "
                "use a new key for a new request.",
                code="idempotency_key_reused",
            )
        return Submitted(row.task_id, True)

    async def _check_files(
        self, team_id: str, defs: list[ParameterDef], resolved: dict[str, Any]
    ) -> list[ParamError]:
        file_params = [p for p in defs if p.type == "file" and p.key in resolved]
        found = await self.files.by_keys(team_id, [resolved[p.key] for p in file_params])
        now = self.clock.now()
        errors: list[ParamError] = []
        unconfirmed: list[tuple[ParameterDef, StoredFile]] = []
        for p in file_params:
            key = resolved[p.key]
            f = found.get(key)
            if f is None:
                errors.append(
                    ParamError(
                        p.key,
                        "file_not_found",
                        f"{p.key}: no uploaded file has this file_key; upload it with "
                        "POST /api/v1/r/files/presign and pass the returned file_key.",
                    )
                )
                continue
            if f.file_status == "expired" or f.expires_at <= now:
                errors.append(
                    ParamError(
                        p.key,
                        "file_expired",
                        f"{p.key}: the file expired (inputs are kept 1 day); upload it again.",
                    )
                )
                continue
            if not accepts(p.accept, f.content_type):
                errors.append(
                    ParamError(
                        p.key,
                        "file_type_not_accepted",
                        f"{p.key}: {f.content_type} is not accepted; "
                        f"expected {', '.join(p.accept or [])}.",
                    )
                )
                continue
            if f.file_status != "uploaded":
                unconfirmed.append((p, f))
        if unconfirmed:
            # The PUT went straight to the store: ask it, with no connection checked out.
            await self.uow.commit()
        for p, f in unconfirmed:
            info = await self.storage.head(f.file_key)
            if info is None or info.size != f.file_size:
                errors.append(
                    ParamError(
                        p.key,
                        "file_not_uploaded",
                        f"{p.key}: the file was not uploaded yet (PUT it to the "
                        "upload_url with the upload_headers first).",
                    )
                )
                continue
            f.file_status = "uploaded"
        return errors

    async def checked_parameters(
        self,
        team_id: str,
        wf: Workflow,
        version: WorkflowVersion,
        given: dict[str, Any] | None,
        declared: dict[str, ParamError | None] | None = None,
    ) -> dict[str, Any]:
        """The parameters a run would get (defaults filled in), or the run's refusal: 409
        ``workflow_disabled``, 422 ``invalid_parameters``, the ComfyUI agents' check.
        ``declared``: file parameters described but not uploaded yet (``tasks/validation.py``),
        each with its own error or None; their values in ``given`` are not file keys."""
        if wf.workflow_status != "active":
            raise Conflict(
                f"Workflow {wf.workflow_slug!r} is disabled; enable it to run it.",
                code="workflow_disabled",
            )
        declared = declared or {}
        defs = [ParameterDef.model_validate(p) for p in version.parameters]
        resolved, errors = resolve_parameters(defs, given or {})
        uploaded = {k: v for k, v in resolved.items() if k not in declared}
        errors += [e for e in declared.values() if e is not None]
        errors += await self._check_files(team_id, defs, uploaded)
        if errors:
            raise Unprocessable(
                "Some parameters are invalid: "
                + " ".join(e.error_message.rstrip(".") + "." for e in errors),
                code="invalid_parameters",
                errors=[e.as_dict() for e in errors],
            )
        if version.tool_type == "comfyui":
            needs = graph_requirements(version.workflow_json, version.parameters, resolved)
            await check_comfyui_agents(self.uow.session, team_id, version.required_labels, needs)
            library = required_library_models(version.workflow_json)
            await check_required_models(self.uow, team_id, library)
        return resolved

    async def submit(
        self,
        team_id: str,
        wf: Workflow,
        version: WorkflowVersion,
        body: dict[str, Any],
        *,
        workflow_ref: str,
        idempotency_key: str | None,
    ) -> Submitted:
        digest = request_hash(workflow_ref, body)
        if not idempotency_key:
            task = await self._new_task(team_id, wf, version, body)
            await self.transitions.create(self.uow, task, idempotency=None)
            return Submitted(task.id, False)
        # The key is inserted with the task (one statement on PostgreSQL): it is read only when
        # the insert finds it taken, or when the run is refused (a replay is answered even when
        # its input has expired since, or the queue is full now).
        key = Idempotency(idempotency_key, digest)
        try:
            task = await self._new_task(team_id, wf, version, body)
        except RunyardError as refusal:
            return await self._replay_or_raise(team_id, key, refusal)
        for _ in range(2):
            try:
                created = await self.transitions.create(self.uow, task, idempotency=key)
            except RunyardError as refusal:
                return await self._replay_or_raise(team_id, key, refusal)
            if created:
                return Submitted(task.id, False)
            replayed = await self.replay(team_id, key.key, key.digest)
            if replayed is not None:
                return replayed
            # The stored key had expired and replay() removed it: the insert may take it now.
        raise Conflict(
            "A concurrent request with this Idempotency-Key is still being processed; retry it.",
            code="idempotency_key_reused",
        )

    async def _replay_or_raise(
        self, team_id: str, key: Idempotency, refusal: RunyardError
    ) -> Submitted:
        """A refused run with a key: the answer stored for the key, if there is one, else
        ``refusal``."""
        replayed = await self.replay(team_id, key.key, key.digest)
        if replayed is None:
            raise refusal
        return replayed

    async def _new_task(
        self, team_id: str, wf: Workflow, version: WorkflowVersion, body: dict[str, Any]
    ) -> Task:
        resolved = await self.checked_parameters(team_id, wf, version, body.get("parameters"))
        now = self.clock.now()
        priority = body.get("priority")
        priority = version.priority if priority is None else int(priority)
        return Task(
            id=new_id(),
            team_id=team_id,
            workflow_id=wf.id,
            workflow_slug=wf.workflow_slug,
            workflow_version=version.version,
            task_status=TaskStatus.PENDING,
            progress=0.0,
            parameters=resolved,
            required_labels=list(version.required_labels),
            task_timeout=version.task_timeout,
            max_retries=version.max_retries,
            task_error="",
            retry_count=0,
            attempt=0,
            created_at=now,
            event_seq=0,
            priority=priority,
            tool_type=version.tool_type,
            requirement_key=requirement_key(version.tool_type, version.required_labels),
            rank_at=rank_at(now, priority),
        )
