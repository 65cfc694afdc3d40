"""``AsyncClient``: the asyncio SDK over ``httpx.AsyncClient`` (same API, awaitable)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from runyard_client._base import ClientCore
from runyard_client._bundles import DEFAULT_MAX_BYTES, pack
from runyard_client._deploy import Deployed, definition_for, discover, same_definition
from runyard_client._errors import NotFoundError
from runyard_client._front import Front
from runyard_client._library import file_sha256, register_call
from runyard_client._models import LibraryModel, NodePackage, Workflow
from runyard_client._node_packages import pack_folder, register_package_call
from runyard_client._resources import (
    RunPlan,
    run_call,
    validate_call,
)
from runyard_client._tasks import AsyncTask
from runyard_client._transport import AsyncExecutor
from runyard_client._uploads import (
    MultipartStarted,
    RunProgress,
    UploadProgress,
    bind_progress,
    bundle_route,
    declared_files,
    model_route,
    upload_async,
)


class AsyncClient(Front[AsyncExecutor, httpx.AsyncBaseTransport]):
    """A Runyard client for asyncio, with the same arguments as ``Client``; ``transport`` is an
    ``httpx.AsyncBaseTransport`` (tests pass ``httpx.ASGITransport(app=...)``)."""

    def _connect(
        self, core: ClientCore, transport: httpx.AsyncBaseTransport | None, headers: dict[str, str]
    ) -> AsyncExecutor:
        http = httpx.AsyncClient(
            base_url=core.base_url, transport=transport, timeout=core.timeout, headers=headers
        )
        return AsyncExecutor(core, http, owns_http=True)

    async def upload(
        self,
        path: str | Path,
        content_type: str | None = None,
        progress: UploadProgress | None = None,
        *,
        resume_upload_id: str | None = None,
    ) -> str:
        """Upload a local file (streamed; multipart above the single-upload limit) and return
        its ``file_key``, the value to pass for a ``file`` parameter."""
        return await upload_async(self._executor, path, content_type, progress, resume_upload_id)

    async def upload_model(
        self,
        path: str | Path,
        model_type: str,
        model_path: str | None = None,
        display_name: str | None = None,
        progress: UploadProgress | None = None,
        *,
        resume_upload_id: str | None = None,
        on_multipart: MultipartStarted | None = None,
    ) -> LibraryModel:
        """Add a local file to the team's model library at ``models/<model_type>/<model_path>``
        (``model_path`` defaults to the file's name): its sha256 is computed here, bytes the team
        holds already are not sent again, files above the single-upload limit go in parts (resume
        a stopped one with ``resume_upload_id``; ``on_multipart(upload, parts_stored)`` is told
        the upload_id before any part is sent), then the model is registered."""
        sha256 = await asyncio.to_thread(file_sha256, path)
        route = model_route(sha256)
        file_key = await upload_async(
            self._executor, path, None, progress, resume_upload_id, route, on_multipart
        )
        name = Path(path).name
        call = register_call(file_key, sha256, model_type, model_path or name, display_name or name)
        return await self._executor.execute(call)

    async def upload_node_package(
        self,
        path: str | Path,
        name: str | None = None,
        progress: UploadProgress | None = None,
    ) -> NodePackage:
        """See ``Client.upload_node_package`` (packing and hashing run in a thread)."""
        source = Path(path).expanduser()
        with tempfile.TemporaryDirectory(prefix="runyard-nodes-") as scratch:
            archive = source
            if source.is_dir():
                archive = Path(scratch) / f"{source.name}.tar.gz"
                await asyncio.to_thread(pack_folder, source, archive)
            sha256 = await asyncio.to_thread(file_sha256, archive)
            route = model_route(sha256)
            file_key = await upload_async(self._executor, archive, None, progress, None, route)
        return await self._executor.execute(register_package_call(file_key, sha256, name))

    async def deploy(
        self,
        path: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        progress: UploadProgress | None = None,
        requirements: str | Path | None = None,
    ) -> list[Deployed]:
        """See ``Client.deploy`` (packing and importing the source run in a thread)."""
        source = Path(path).expanduser()
        needs = Path(requirements).expanduser() if requirements is not None else None
        bundle = await asyncio.to_thread(pack, source, max_bytes)
        found = await asyncio.to_thread(discover, bundle, source)
        with tempfile.TemporaryDirectory(prefix="runyard-bundle-") as scratch:
            archive = Path(scratch) / "bundle.tar.gz"
            await asyncio.to_thread(archive.write_bytes, bundle.data)
            route = bundle_route(bundle.sha256)
            file_key = await upload_async(
                self._executor, archive, "application/gzip", progress, None, route
            )
        results = []
        for item in found:
            entrypoint, definition = definition_for(item, bundle, file_key, needs)
            try:
                current: Workflow | None = await self.workflows.resolve(definition["workflow_slug"])
            except NotFoundError:
                current = None
            if current is not None:
                current = await self.workflows.definition(current.id)
                if same_definition(current, definition):
                    results.append(Deployed(current, False, entrypoint))
                    continue
            results.append(Deployed(await self.workflows.import_(definition), True, entrypoint))
        return results

    async def run(
        self,
        workflow: str,
        parameters: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        progress: RunProgress | None = None,
        priority: int | None = None,
    ) -> AsyncTask:
        """Submit a task. ``workflow`` is a slug, ``slug@version`` or a workflow id; a parameter
        given as a ``pathlib.Path`` (or ``"@path"`` for a file parameter) is uploaded first.
        See ``Client.run`` for the ``Idempotency-Key`` every run carries."""
        plan = RunPlan.of(parameters)
        files = None
        if plan.at_strings:
            files = plan.workflow_files(await self.workflows.resolve(workflow))
        uploads = plan.uploads(files)
        if uploads:  # checked before any byte moves
            checked = {**plan.parameters, **declared_files(uploads)}
            await self._executor.execute(validate_call(workflow, checked))
        for key, path in uploads.items():
            report = bind_progress(progress, key)
            plan.parameters[key] = await self.upload(path, progress=report)
        task_id, replayed = await self._executor.execute(
            run_call(workflow, plan.parameters, idempotency_key, priority)
        )
        return AsyncTask(self._executor, task_id, replayed=replayed)

    def task(self, task_id: str) -> AsyncTask:
        """A handle on an existing task (no request is made)."""
        return AsyncTask(self._executor, task_id)

    async def aclose(self) -> None:
        await self._executor.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
