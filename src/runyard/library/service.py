"""The rules of the model library. Never commits: the routes do (through their unit of work)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.errors import BadRequest, Conflict, NotFound, Unprocessable
from runyard.files.quota import DailyUsage
from runyard.files.repository import FileRepository
from runyard.files.schemas import PresignRequest, PresignResponse
from runyard.files.service import FileService
from runyard.files.stored import confirm_stored
from runyard.library.paths import model_path_problem, model_type_problem
from runyard.library.repository import ModelRepository
from runyard.library.schemas import ModelCreate, ModelPresign, ModelUpdate
from runyard.models import LibraryModel, StoredFile
from runyard.settings import Settings
from runyard.storage.base import Storage

# A registered model's file never expires: the retention sweeper passes it by.
PINNED = datetime(9999, 1, 1, tzinfo=UTC)


class ModelService:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        usage: DailyUsage | None = None,
    ) -> None:
        self.uow = uow
        self.repo = ModelRepository(uow.session)
        self.files = FileRepository(uow.session)
        self.file_rules = FileService(uow.session, settings, storage, clock, usage)
        self.settings = settings
        self.storage = storage
        self.clock = clock

    # upload -----------------------------------------------------------------------------------
    async def presign(self, team_id: str, body: ModelPresign) -> PresignResponse:
        """Like /r/files/presign with the sha256 required; the same bytes are uploaded once."""
        request = PresignRequest(
            file_name=body.file_name, file_size=body.file_size, sha256=body.sha256
        )
        return await self.file_rules.presign(team_id, request, source="model")

    # register -------------------------------------------------------------------------------
    @staticmethod
    def check_place(model_type: str, model_path: str) -> None:
        problem = model_type_problem(model_type)
        if problem is not None:
            raise Unprocessable(problem + ".", code="invalid_model_type")
        problem = model_path_problem(model_path)
        if problem is not None:
            raise Unprocessable(problem + ".", code="invalid_model_path")

    async def _free_place(
        self, team_id: str, model_type: str, model_path: str, but: str | None = None
    ) -> None:
        existing = await self.repo.at_path(team_id, model_type, model_path)
        if existing is not None and existing.id != but:
            raise Conflict(
                f"The library already has a model at {model_type}/{model_path} "
                f"({existing.id}); choose another model_path or delete that model.",
                code="model_exists",
            )

    async def _uploaded_file(self, team_id: str, body: ModelCreate) -> StoredFile:
        file = (await self.files.by_keys(team_id, [body.file_key])).get(body.file_key)
        if file is None or not file.file_key.startswith("models/"):
            raise NotFound(
                "No model upload of this team has this file_key: upload the file with "
                "POST /api/v1/models/presign (or /models/multipart/…) first.",
                code="file_not_found",
            )
        if file.file_status == "expired" or file.expires_at <= self.clock.now():
            raise Unprocessable(
                "This upload expired before it was registered (kept 1 day); upload it again.",
                code="file_expired",
            )
        if file.sha256 != body.sha256:
            raise BadRequest(
                f"The file was uploaded with sha256 {file.sha256}, not {body.sha256}; register "
                "it with the sha256 it was uploaded with.",
                code="checksum_mismatch",
            )
        await confirm_stored(file, self.storage, self.uow.commit, "file")
        return file

    async def register(self, team_id: str, body: ModelCreate) -> LibraryModel:
        self.check_place(body.model_type, body.model_path)
        file = await self._uploaded_file(team_id, body)
        await self._free_place(team_id, body.model_type, body.model_path)
        now = self.clock.now()
        file.expires_at = PINNED
        row = LibraryModel(
            team_id=team_id,
            display_name=body.display_name,
            model_type=body.model_type,
            model_path=body.model_path,
            file_key=file.file_key,
            file_size=file.file_size,
            sha256=body.sha256,
            model_status="active",
            created_at=now,
            updated_at=now,
        )
        self.repo.add(row)
        return row

    # read and change --------------------------------------------------------------------------
    async def get(self, team_id: str, model_id: str) -> LibraryModel:
        row = await self.repo.get(team_id, model_id)
        if row is None:
            raise NotFound(f"No model {model_id} in this team's library.", code="model_not_found")
        return row

    async def update(self, team_id: str, model_id: str, body: ModelUpdate) -> LibraryModel:
        row = await self.get(team_id, model_id)
        model_type = body.model_type or row.model_type
        model_path = body.model_path or row.model_path
        self.check_place(model_type, model_path)
        if (model_type, model_path) != (row.model_type, row.model_path):
            await self._free_place(team_id, model_type, model_path, but=row.id)
        row.model_type, row.model_path = model_type, model_path
        if body.display_name is not None:
            row.display_name = body.display_name
        if body.model_status is not None:
            row.model_status = body.model_status
        row.updated_at = self.clock.now()
        return row

    async def delete(self, team_id: str, model_id: str) -> None:
        """The model leaves the library; its file is unpinned (removed after the inputs'
        retention) unless another model names the same bytes."""
        row = await self.get(team_id, model_id)
        await self.repo.delete(row)
        await self.repo.flush()
        if await self.repo.naming_file(team_id, row.file_key) == 0:
            file = (await self.files.by_keys(team_id, [row.file_key])).get(row.file_key)
            if file is not None:
                file.expires_at = self.clock.now() + timedelta(
                    seconds=self.settings.retention.inputs
                )


async def check_required_models(
    uow: UnitOfWork, team_id: str, named: list[tuple[str, str]]
) -> None:
    """422 ``library_model_missing`` naming each ``(model_type, model_path)`` a run needs that
    is not an active model of the team's library."""
    if not named:
        return
    repo = ModelRepository(uow.session)
    missing = []
    for model_type, model_path in named:
        row = await repo.at_path(team_id, model_type, model_path)
        if row is None or row.model_status != "active":
            state = "disabled" if row is not None else "not in the team's model library"
            missing.append(f"{model_type}/{model_path} ({state})")
    if missing:
        raise Unprocessable(
            "This workflow needs library models the team cannot use: "
            + ", ".join(missing)
            + ". Upload them with `runyard models upload FILE --type TYPE --path PATH` "
            "(or POST /api/v1/models), or enable them.",
            code="library_model_missing",
        )
