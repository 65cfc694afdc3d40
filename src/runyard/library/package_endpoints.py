"""``/api/v1/node-packages…``: the team's ComfyUI custom node packages. Members and up write
(session or ``dk-``); every member and ``sk-`` keys read. The archive is uploaded first through
``POST /models/presign`` (or ``/models/multipart/…`` above the single-upload limit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from runyard.api_docs import errors
from runyard.deps import ClockDep, ManageWriter, RuntimeReader, SettingsDep, StorageDep, UnitDep
from runyard.library.endpoints import ChangesDep, sync_after_commit
from runyard.library.package_schemas import (
    NodePackageCreate,
    NodePackageList,
    NodePackageRead,
    NodePackageUpdate,
    PackageStatus,
)
from runyard.library.packages import NodePackageService
from runyard.models import NodePackage
from runyard.pagination import PageDep

router = APIRouter(prefix="/node-packages", tags=["node-packages"])


def _read(row: NodePackage) -> NodePackageRead:
    return NodePackageRead.model_validate(row, from_attributes=True)


@router.post(
    "",
    response_model=NodePackageRead,
    status_code=201,
    operation_id="node_packages_create",
    responses=errors(400, 404, 409, 422),
)
async def create_node_package(
    body: NodePackageCreate,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> NodePackageRead:
    """Register an uploaded archive (zip or tar.gz of one folder holding an `__init__.py`) as a
    custom node package, unpacked by the team's agents at `custom_nodes/<name>/`. The server
    opens the archive and checks every entry: an absolute path, `..`, a link leaving the folder,
    a device file, too many files or bytes, or a bomb answers 422 `invalid_node_package` naming
    the entry. Another team's (or an unknown) `file_key` answers 404 `file_not_found`; a name
    taken answers 409 `node_package_exists`."""
    service = NodePackageService(uow, settings, storage, clock)
    row = await service.register(principal.team, principal.user_id, body)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return _read(row)


@router.get(
    "", response_model=NodePackageList, operation_id="node_packages_list", responses=errors()
)
async def list_node_packages(
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    page: PageDep,
    package_status: Annotated[PackageStatus | None, Query()] = None,
) -> NodePackageList:
    """The team's node packages by name; filter by `package_status`."""
    rows, total = await NodePackageService(uow, settings, storage, clock).repo.page(
        principal.team, page.offset, page.per_page, package_status
    )
    return NodePackageList(node_package_list=[_read(r) for r in rows], page_meta=page.meta(total))


@router.get(
    "/{package_id}",
    response_model=NodePackageRead,
    operation_id="node_packages_get",
    responses=errors(404),
)
async def get_node_package(
    package_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> NodePackageRead:
    """One node package (404 `node_package_not_found` for an unknown id or another team's)."""
    service = NodePackageService(uow, settings, storage, clock)
    return _read(await service.get(principal.team, package_id))


@router.put(
    "/{package_id}",
    response_model=NodePackageRead,
    operation_id="node_packages_update",
    responses=errors(404, 409, 422),
)
async def update_node_package(
    package_id: str,
    body: NodePackageUpdate,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> NodePackageRead:
    """Rename a package (its folder under `custom_nodes/`) or set its `package_status`
    (`disabled` takes it out of the agents' set: they remove the folder they unpacked)."""
    service = NodePackageService(uow, settings, storage, clock)
    row = await service.update(principal.team, package_id, body)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return _read(row)


@router.delete(
    "/{package_id}",
    status_code=204,
    operation_id="node_packages_delete",
    responses=errors(404),
)
async def delete_node_package(
    package_id: str,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> Response:
    """Remove a package from the library (and from the agents' set). Its archive is dropped
    after a day unless another package or model names the same bytes."""
    await NodePackageService(uow, settings, storage, clock).delete(principal.team, package_id)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return Response(status_code=204)
