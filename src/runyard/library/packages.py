"""The team's custom node packages: an archive uploaded like a model file (``/models/presign``,
so it is content-addressed and pinned while a package names it), checked against the archive
rules of ``runyard_protocol.packages`` when it is registered, and unpacked by the team's agents
at ``custom_nodes/<name>/`` while ``active``. Never commits: the routes do."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
from sqlalchemy import func, select

from runyard.clock import Clock
from runyard.db.repository import Repository
from runyard.db.unit import UnitOfWork
from runyard.errors import BadRequest, Conflict, NotFound, Unprocessable
from runyard.files.repository import FileRepository
from runyard.files.stored import confirm_stored
from runyard.library.package_schemas import NodePackageCreate, NodePackageUpdate
from runyard.library.repository import ModelRepository
from runyard.library.service import PINNED
from runyard.models import NodePackage, StoredFile
from runyard.settings import Settings
from runyard.storage.base import Storage, StorageError
from runyard_protocol.packages import ArchiveProblem, package_name_problem, read_package


class NodePackageRepository(Repository):
    async def get(self, team_id: str, package_id: str) -> NodePackage | None:
        row = await self.session.get(NodePackage, package_id)
        return row if row is not None and row.team_id == team_id else None

    async def named(self, team_id: str, name: str) -> NodePackage | None:
        row: NodePackage | None = await self.session.scalar(
            select(NodePackage).where(NodePackage.team_id == team_id, NodePackage.name == name)
        )
        return row

    async def page(
        self, team_id: str, offset: int, limit: int, status: str | None
    ) -> tuple[list[NodePackage], int]:
        where = [NodePackage.team_id == team_id]
        if status is not None:
            where.append(NodePackage.package_status == status)
        total = await self.session.scalar(
            select(func.count()).select_from(NodePackage).where(*where)
        )
        rows = await self.session.scalars(
            select(NodePackage).where(*where).order_by(NodePackage.name).offset(offset).limit(limit)
        )
        return list(rows), int(total or 0)

    async def active(self, team_id: str) -> list[NodePackage]:
        rows = await self.session.scalars(
            select(NodePackage)
            .where(NodePackage.team_id == team_id, NodePackage.package_status == "active")
            .order_by(NodePackage.name)
        )
        return list(rows)

    async def delete(self, row: NodePackage) -> None:
        await self.session.delete(row)


class NodePackageService:
    def __init__(self, uow: UnitOfWork, settings: Settings, storage: Storage, clock: Clock) -> None:
        self.uow = uow
        self.repo = NodePackageRepository(uow.session)
        self.files = FileRepository(uow.session)
        self.settings = settings
        self.storage = storage
        self.clock = clock

    @staticmethod
    def check_name(name: str) -> None:
        problem = package_name_problem(name)
        if problem is not None:
            raise Unprocessable(problem[0].upper() + problem[1:] + ".", code="invalid_node_package")

    async def _free_name(self, team_id: str, name: str, but: str | None = None) -> None:
        existing = await self.repo.named(team_id, name)
        if existing is not None and existing.id != but:
            raise Conflict(
                f"The team already has a node package named {name!r} ({existing.id}); delete "
                "it, or register this one with another name.",
                code="node_package_exists",
            )

    async def _uploaded_file(self, team_id: str, body: NodePackageCreate) -> StoredFile:
        file = (await self.files.by_keys(team_id, [body.file_key])).get(body.file_key)
        if file is None or not file.file_key.startswith("models/"):
            raise NotFound(
                "No upload of this team has this file_key: upload the archive with "
                "POST /api/v1/models/presign first.",
                code="file_not_found",
            )
        if file.file_status == "expired" or file.expires_at <= self.clock.now():
            raise Unprocessable(
                "This upload expired before it was registered (kept 1 day); upload it again.",
                code="file_expired",
            )
        if body.sha256 is not None and file.sha256 != body.sha256:
            raise BadRequest(
                f"The archive was uploaded with sha256 {file.sha256}, not {body.sha256}.",
                code="checksum_mismatch",
            )
        if file.file_size > self.settings.node_package.archive_max:
            raise Unprocessable(
                f"The archive is {file.file_size} bytes; node package archives may be "
                f"{self.settings.node_package.archive_max} bytes at most.",
                code="invalid_node_package",
            )
        await confirm_stored(file, self.storage, self.uow.commit, "archive")
        return file

    async def _inspect(self, file: StoredFile) -> tuple[str, int, int, str | None]:
        """Open the archive from the store and check every entry (the agents' own rules)."""
        limits = self.settings.node_package.limits()
        with tempfile.TemporaryDirectory(prefix="runyard-node-package-") as scratch:
            local = Path(scratch) / "archive"
            try:
                found = await self.storage.copy_to(file.file_key, local)
            except StorageError as exc:
                raise Unprocessable(
                    f"The store could not be read: {exc}; retry.", code="file_not_uploaded"
                ) from exc
            if not found:
                raise Unprocessable("The archive is not in the store.", code="file_not_uploaded")
            try:
                info = await anyio.to_thread.run_sync(read_package, local, limits)
            except ArchiveProblem as exc:
                raise Unprocessable(
                    f"The node package archive is refused: {exc}.", code="invalid_node_package"
                ) from exc
        return info.name, info.files, info.unpacked_bytes, info.requirements

    async def register(
        self, team_id: str, user_id: str | None, body: NodePackageCreate
    ) -> NodePackage:
        if body.name is not None:
            self.check_name(body.name)
        file = await self._uploaded_file(team_id, body)
        top, files, unpacked, requirements = await self._inspect(file)
        name = body.name or top
        await self._free_name(team_id, name)
        now = self.clock.now()
        file.expires_at = PINNED
        row = NodePackage(
            team_id=team_id,
            name=name,
            file_key=file.file_key,
            file_size=file.file_size,
            sha256=file.sha256 or "",
            package_status="active",
            requirements=requirements,
            file_count=files,
            unpacked_bytes=unpacked,
            created_by=user_id,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(row)
        return row

    async def get(self, team_id: str, package_id: str) -> NodePackage:
        row = await self.repo.get(team_id, package_id)
        if row is None:
            raise NotFound(
                f"No node package {package_id} in this team's library.",
                code="node_package_not_found",
            )
        return row

    async def update(self, team_id: str, package_id: str, body: NodePackageUpdate) -> NodePackage:
        row = await self.get(team_id, package_id)
        if body.name is not None and body.name != row.name:
            self.check_name(body.name)
            await self._free_name(team_id, body.name, but=row.id)
            row.name = body.name
        if body.package_status is not None:
            row.package_status = body.package_status
        row.updated_at = self.clock.now()
        return row

    async def delete(self, team_id: str, package_id: str) -> None:
        """The package leaves the library; its archive is unpinned (removed after the inputs'
        retention) unless another package or model names the same bytes."""
        row = await self.get(team_id, package_id)
        await self.repo.delete(row)
        await self.repo.flush()
        if await ModelRepository(self.uow.session).naming_file(team_id, row.file_key) == 0:
            file = (await self.files.by_keys(team_id, [row.file_key])).get(row.file_key)
            if file is not None:
                file.expires_at = self.clock.now() + timedelta(
                    seconds=self.settings.retention.inputs
                )
