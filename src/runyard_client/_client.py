"""``Client``: the synchronous SDK over ``httpx.Client``."""

from __future__ import annotations

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
from runyard_client._tasks import Task
from runyard_client._transport import SyncExecutor
from runyard_client._uploads import (
    MultipartStarted,
    RunProgress,
    UploadProgress,
    bind_progress,
    bundle_route,
    declared_files,
    model_route,
    upload_sync,
)


class Client(Front[SyncExecutor, httpx.BaseTransport]):
    """A Runyard client over ``httpx.Client``; the arguments are ``Front``'s (below).
    ``transport`` is handed to ``httpx.Client`` (tests use it to talk to the app in-process)."""

    def _connect(
        self, core: ClientCore, transport: httpx.BaseTransport | None, headers: dict[str, str]
    ) -> SyncExecutor:
        http = httpx.Client(
            base_url=core.base_url, transport=transport, timeout=core.timeout, headers=headers
        )
        return SyncExecutor(core, http, owns_http=True)

    def upload(
        self,
        path: str | Path,
        content_type: str | None = None,
        progress: UploadProgress | None = None,
        *,
        resume_upload_id: str | None = None,
    ) -> str:
        """Upload a local file (streamed; multipart above the single-upload limit) and return
        its ``file_key``, the value to pass for a ``file`` parameter."""
        return upload_sync(self._executor, path, content_type, progress, resume_upload_id)

    def upload_model(
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
        sha256 = file_sha256(path)
        route = model_route(sha256)
        file_key = upload_sync(
            self._executor, path, None, progress, resume_upload_id, route, on_multipart
        )
        name = Path(path).name
        call = register_call(file_key, sha256, model_type, model_path or name, display_name or name)
        return self._executor.execute(call)

    def upload_node_package(
        self,
        path: str | Path,
        name: str | None = None,
        progress: UploadProgress | None = None,
    ) -> NodePackage:
        """Add a ComfyUI custom node package to the team's library: ``path`` is its folder
        (packed here as a tar.gz of that one folder; ``.git``, ``__pycache__``… left out) or an
        archive (zip or tar.gz of one folder). Uploaded like a model (by sha256, once), then
        registered; the team's agents unpack it at ``custom_nodes/<name>/`` (``name`` defaults
        to the folder's)."""
        source = Path(path).expanduser()
        with tempfile.TemporaryDirectory(prefix="runyard-nodes-") as scratch:
            archive = source
            if source.is_dir():
                archive = Path(scratch) / f"{source.name}.tar.gz"
                pack_folder(source, archive)
            sha256 = file_sha256(archive)
            route = model_route(sha256)
            file_key = upload_sync(self._executor, archive, None, progress, None, route)
        return self._executor.execute(register_package_call(file_key, sha256, name))

    def deploy(
        self,
        path: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        progress: UploadProgress | None = None,
        requirements: str | Path | None = None,
    ) -> list[Deployed]:
        """Deploy the ``@workflow`` functions of ``path`` (a ``.py`` file or a folder): pack the
        source, upload it once (by sha256), and import a version per workflow naming the bundle
        and its entrypoint; a workflow whose latest version is the same gets none
        (``changed=False``). Pip requirements: ``requirements`` (a requirements file), else the
        source folder's ``requirements.txt``. Raises ``BundleError`` for source that cannot be
        deployed."""
        source = Path(path).expanduser()
        needs = Path(requirements).expanduser() if requirements is not None else None
        bundle = pack(source, max_bytes)
        found = discover(bundle, source)
        with tempfile.TemporaryDirectory(prefix="runyard-bundle-") as scratch:
            archive = Path(scratch) / "bundle.tar.gz"
            archive.write_bytes(bundle.data)
            route = bundle_route(bundle.sha256)
            file_key = upload_sync(
                self._executor, archive, "application/gzip", progress, None, route
            )
        results = []
        for item in found:
            entrypoint, definition = definition_for(item, bundle, file_key, needs)
            try:
                current: Workflow | None = self.workflows.resolve(definition["workflow_slug"])
            except NotFoundError:
                current = None
            if current is not None:
                current = self.workflows.definition(current.id)
                if same_definition(current, definition):
                    results.append(Deployed(current, False, entrypoint))
                    continue
            results.append(Deployed(self.workflows.import_(definition), True, entrypoint))
        return results

    def run(
        self,
        workflow: str,
        parameters: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        progress: RunProgress | None = None,
        priority: int | None = None,
    ) -> Task:
        """Submit a task. ``workflow`` is a slug, ``slug@version`` or a workflow id; a parameter
        given as a ``pathlib.Path`` (or ``"@path"`` for a file parameter) is uploaded first.

        The request carries ``idempotency_key`` as its ``Idempotency-Key``, or a fresh UUID: a
        retry after a dropped connection returns the same task instead of creating another.
        Pass your own key to make the submit repeat-safe across calls (or processes).
        ``priority`` (-10 last … 10 first; default the workflow's) orders the team's queue; a
        task of priority p is ranked as if submitted p minutes earlier."""
        plan = RunPlan.of(parameters)
        files = plan.workflow_files(self.workflows.resolve(workflow)) if plan.at_strings else None
        uploads = plan.uploads(files)
        if uploads:  # checked before any byte moves
            checked = {**plan.parameters, **declared_files(uploads)}
            self._executor.execute(validate_call(workflow, checked))
        for key, path in uploads.items():
            report = bind_progress(progress, key)
            plan.parameters[key] = self.upload(path, progress=report)
        task_id, replayed = self._executor.execute(
            run_call(workflow, plan.parameters, idempotency_key, priority)
        )
        return Task(self._executor, task_id, replayed=replayed)

    def task(self, task_id: str) -> Task:
        """A handle on an existing task (no request is made)."""
        return Task(self._executor, task_id)

    def close(self) -> None:
        self._executor.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
