"""Resource clients (``client.workflows``, ``client.tasks``, ``client.agents``,
``client.credentials``; ``client.auth`` is in ``_auth.py``), each method written once.

A method decorated with ``@endpoint`` only *describes* its request (a ``Call``); the descriptor
binds it to the owner's executor, so on a ``Client`` it returns the parsed value and on an
``AsyncClient`` an awaitable of it. Type checkers see both (overloads on the executor type).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from runyard_client._base import Call, api, parse_none
from runyard_client._models import (
    Agent,
    CancelResult,
    CreatedCredential,
    Credential,
    Page,
    PageMeta,
    PresignedUpload,
    TaskInfo,
    TaskResult,
    Workflow,
)
from runyard_client._transport import AsyncExecutor, SyncExecutor

P = ParamSpec("P")
T = TypeVar("T")
X = TypeVar("X")
M = TypeVar("M", bound=BaseModel)

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$"
)


class Resource(Generic[X]):
    def __init__(self, executor: X) -> None:
        self._executor = executor


class endpoint(Generic[P, T]):  # noqa: N801 - used as a decorator
    """Bind a ``Call`` builder to the executor of the resource it is read from."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: Resource[SyncExecutor], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncExecutor], owner: type[Any]
    ) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build, executor = self.build, obj._executor

        @functools.wraps(build)
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return executor.execute(build(obj, *args, **kwargs))

        return bound


def seg(value: str) -> str:
    """One path segment, quoted (``@`` kept for ``slug@version``)."""
    if not value:
        raise ValueError("an id or slug must not be empty")
    return quote(value, safe="@")


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate(response.json())


def page_of(key: str, cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    def parse(response: httpx.Response) -> Page[M]:
        body = response.json()
        items = [cls.model_validate(item) for item in body.get(key) or []]
        return Page[cls](items=items, page_meta=PageMeta.model_validate(body["page_meta"]))  # type: ignore[valid-type]

    return parse


def paging(current_page: int, per_page: int, **extra: Any) -> dict[str, Any]:
    return {"current_page": current_page, "per_page": per_page, **extra}


def workflow_route(ref: str) -> str:
    """``/r/workflows/{id}`` for a UUID, else ``/r/workflows/slug/{slug[@version]}``."""
    if UUID_RE.match(ref):
        return api(f"/r/workflows/{seg(ref)}")
    return api(f"/r/workflows/slug/{seg(ref)}")


def run_call(
    ref: str, parameters: dict[str, Any], idempotency_key: str | None, priority: int | None = None
) -> Call[tuple[str, bool]]:
    """``(task_id, replayed)``. Every run carries an ``Idempotency-Key`` (a fresh UUID unless
    the caller gives one), built once here so the executor's retries reuse it: a request whose
    answer was lost (the connection dropped, the server died) is retried without ever creating
    a second task."""
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}

    def parse(response: httpx.Response) -> tuple[str, bool]:
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return str(response.json()["task_id"]), replayed

    return Call(
        "POST",
        workflow_route(ref) + "/run",
        parse,
        json={"parameters": parameters}
        if priority is None
        else {"parameters": parameters, "priority": priority},
        headers=headers,
    )


def validate_call(ref: str, parameters: dict[str, Any]) -> Call[dict[str, Any]]:
    """``POST …/validate``: the run checked with nothing uploaded; a file parameter may be a
    dict ``{"file_name", "file_size", "content_type"}`` (a file still on this machine).
    Returns what the run would get; a refusal raises as the run would (``InvalidParameters``)."""

    def parse(response: httpx.Response) -> dict[str, Any]:
        return dict(response.json()["parameters"])

    return Call(
        "POST",
        workflow_route(ref) + "/validate",
        parse,
        json={"parameters": parameters},
        retry=True,
    )


@dataclass
class RunPlan:
    """Which parameters are local files to upload before the run: any ``pathlib`` path, and a
    string ``"@path"`` for a parameter the workflow declares as ``type: file`` (so a prompt that
    happens to start with ``@`` is left alone)."""

    parameters: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    at_strings: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def of(cls, parameters: dict[str, Any] | None) -> RunPlan:
        plan = cls(dict(parameters or {}))
        for key, value in plan.parameters.items():
            if isinstance(value, PurePath):
                plan.paths[key] = Path(value)
            elif isinstance(value, str) and value.startswith("@") and len(value) > 1:
                plan.at_strings[key] = Path(value[1:]).expanduser()
        return plan

    @staticmethod
    def workflow_files(workflow: Workflow) -> set[str]:
        return workflow.file_parameters()

    def uploads(self, file_keys: set[str] | None) -> dict[str, Path]:
        """The files to upload, given the workflow's file parameters (``None``: not fetched)."""
        chosen = dict(self.paths)
        for key, path in self.at_strings.items():
            if file_keys is not None and key in file_keys:
                chosen[key] = path
        return chosen


def presign_call(file_name: str, file_size: int, content_type: str) -> Call[PresignedUpload]:
    return Call(
        "POST",
        api("/r/files/presign"),
        model(PresignedUpload),
        json={"file_name": file_name, "file_size": file_size, "content_type": content_type},
    )


class Workflows(Resource[X]):
    """Reads use the runtime routes (any credential); writes the management routes."""

    @endpoint
    def list(self, *, current_page: int = 1, per_page: int = 20) -> Call[Page[Workflow]]:
        return Call(
            "GET",
            api("/r/workflows"),
            page_of("workflow_list", Workflow),
            params=paging(current_page, per_page),
        )

    @endpoint
    def get(self, workflow_id: str) -> Call[Workflow]:
        return Call("GET", api(f"/r/workflows/{seg(workflow_id)}"), model(Workflow))

    @endpoint
    def get_by_slug(self, slug: str) -> Call[Workflow]:
        """``slug`` or ``slug@version``."""
        return Call("GET", api(f"/r/workflows/slug/{seg(slug)}"), model(Workflow))

    @endpoint
    def resolve(self, ref: str) -> Call[Workflow]:
        """A workflow by id (UUID), slug or ``slug@version``."""
        return Call("GET", workflow_route(ref), model(Workflow))

    @endpoint
    def validate(self, ref: str, parameters: dict[str, Any]) -> Call[dict[str, Any]]:
        """Check a run before uploading (see ``validate_call``)."""
        return validate_call(ref, parameters)

    @endpoint
    def definition(self, workflow_id: str) -> Call[Workflow]:
        """The latest version with its ``workflow_json`` (management read: a session or dk-)."""
        return Call("GET", api(f"/workflows/{seg(workflow_id)}"), model(Workflow))

    @endpoint
    def import_(self, definition: dict[str, Any]) -> Call[Workflow]:
        """Create a workflow, or a new version of the one with this ``workflow_slug``."""
        return Call("POST", api("/workflows/import"), model(Workflow), json=definition)

    @endpoint
    def update(self, workflow_id: str, changes: dict[str, Any]) -> Call[Workflow]:
        return Call("PUT", api(f"/workflows/{seg(workflow_id)}"), model(Workflow), json=changes)

    @endpoint
    def delete(self, workflow_id: str) -> Call[None]:
        return Call("DELETE", api(f"/workflows/{seg(workflow_id)}"), parse_none)


class Tasks(Resource[X]):
    @endpoint
    def list(
        self,
        *,
        task_status: str | None = None,
        current_page: int = 1,
        per_page: int = 20,
        cursor: str | None = None,
    ) -> Call[Page[TaskInfo]]:
        """One page of the team's tasks, newest first; for deep pages pass the previous page's
        ``page_meta.next_cursor`` as ``cursor`` (same cost at any depth)."""
        return Call(
            "GET",
            api("/r/tasks"),
            page_of("task_list", TaskInfo),
            params=paging(current_page, per_page, task_status=task_status, cursor=cursor),
        )

    @endpoint
    def get(self, task_id: str) -> Call[TaskInfo]:
        return Call("GET", api(f"/r/tasks/{seg(task_id)}"), model(TaskInfo))

    @endpoint
    def cancel(self, task_id: str) -> Call[CancelResult]:
        # Cancelling twice is harmless, so a lost answer may be retried.
        return Call("POST", api(f"/r/tasks/{seg(task_id)}/cancel"), model(CancelResult), retry=True)

    @endpoint
    def result(self, task_id: str) -> Call[TaskResult]:
        return Call("GET", api(f"/r/tasks/{seg(task_id)}/result"), model(TaskResult))

    @endpoint
    def logs(self, task_id: str) -> Call[str]:
        """The task's console log so far, as text (see ``Task.logs``)."""
        return Call("GET", api(f"/r/tasks/{seg(task_id)}/logs"), lambda r: r.text)


class Agents(Resource[X]):
    @endpoint
    def list(self, *, current_page: int = 1, per_page: int = 20) -> Call[Page[Agent]]:
        return Call(
            "GET",
            api("/r/agents"),
            page_of("agent_list", Agent),
            params=paging(current_page, per_page),
        )


class Credentials(Resource[X]):
    """Team keys; the server allows these to admin session tokens only."""

    @endpoint
    def create(
        self,
        kind: str = "integration",
        display_name: str = "",
        expires_in_days: int | None = None,
    ) -> Call[CreatedCredential]:
        body: dict[str, Any] = {"kind": kind, "display_name": display_name}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return Call("POST", api("/credentials"), model(CreatedCredential), json=body)

    @endpoint
    def list(self, *, current_page: int = 1, per_page: int = 20) -> Call[Page[Credential]]:
        return Call(
            "GET",
            api("/credentials"),
            page_of("credentials", Credential),
            params=paging(current_page, per_page),
        )

    @endpoint
    def revoke(self, credential_id: str) -> Call[None]:
        return Call("DELETE", api(f"/credentials/{seg(credential_id)}"), parse_none)


class Files(Resource[X]):
    @endpoint
    def presign(
        self, file_name: str, file_size: int, content_type: str = "application/octet-stream"
    ) -> Call[PresignedUpload]:
        """Step 1 of the seed only; ``client.upload()`` does the whole upload."""
        return presign_call(file_name, file_size, content_type)
