"""``client.node_packages``: the team's ComfyUI custom node packages (list, read, register,
rename, disable, enable, delete), and ``pack_folder``: a folder packed as a reproducible
tar.gz of one top folder (the folder's name), ready for ``Client.upload_node_package``."""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path
from typing import Any, TypeVar

from runyard_client._base import Call, api, parse_none
from runyard_client._bundles import BundleError, _collect
from runyard_client._models import NodePackage, Page
from runyard_client._resources import Resource, endpoint, model, page_of, paging, seg

X = TypeVar("X")


def pack_folder(folder: Path, archive: Path) -> None:
    """Write ``folder`` to ``archive`` as ``<folder name>/…`` (sorted, no times or owners: the
    same files give the same bytes, uploaded once). Left out as for bundles: ``.git``,
    ``__pycache__``, ``*.pyc``, ``.venv``… and what a ``.runyardignore`` lists."""
    folder = folder.expanduser().resolve()
    files = _collect(folder)
    if "__init__.py" not in files:
        raise BundleError(f"{folder} has no __init__.py: ComfyUI would not load it")
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in files:
            source = folder / rel
            info = tarfile.TarInfo(f"{folder.name}/{rel}")
            info.size = source.stat().st_size
            info.mode = 0o755 if os.access(source, os.X_OK) else 0o644
            with source.open("rb") as data:
                tar.addfile(info, data)


def register_package_call(file_key: str, sha256: str, name: str | None) -> Call[NodePackage]:
    body: dict[str, Any] = {"file_key": file_key, "sha256": sha256}
    if name is not None:
        body["name"] = name
    return Call("POST", api("/node-packages"), model(NodePackage), json=body)


class NodePackages(Resource[X]):
    """Reads with any team credential but ``ak-``; writes with members' session or ``dk-`` keys."""

    @endpoint
    def list(
        self, *, current_page: int = 1, per_page: int = 20, package_status: str | None = None
    ) -> Call[Page[NodePackage]]:
        extra = {} if package_status is None else {"package_status": package_status}
        return Call(
            "GET",
            api("/node-packages"),
            page_of("node_package_list", NodePackage),
            params=paging(current_page, per_page, **extra),
        )

    @endpoint
    def get(self, package_id: str) -> Call[NodePackage]:
        return Call("GET", api(f"/node-packages/{seg(package_id)}"), model(NodePackage))

    @endpoint
    def register(self, file_key: str, sha256: str, name: str | None = None) -> Call[NodePackage]:
        """Register an uploaded archive (``Client.upload_node_package`` does both)."""
        return register_package_call(file_key, sha256, name)

    @endpoint
    def update(
        self, package_id: str, *, name: str | None = None, package_status: str | None = None
    ) -> Call[NodePackage]:
        changes = {k: v for k, v in (("name", name), ("package_status", package_status)) if v}
        return Call(
            "PUT", api(f"/node-packages/{seg(package_id)}"), model(NodePackage), json=changes
        )

    @endpoint
    def disable(self, package_id: str) -> Call[NodePackage]:
        """Take the package out of the agents' set (they remove its folder)."""
        return Call(
            "PUT",
            api(f"/node-packages/{seg(package_id)}"),
            model(NodePackage),
            json={"package_status": "disabled"},
        )

    @endpoint
    def enable(self, package_id: str) -> Call[NodePackage]:
        return Call(
            "PUT",
            api(f"/node-packages/{seg(package_id)}"),
            model(NodePackage),
            json={"package_status": "active"},
        )

    @endpoint
    def delete(self, package_id: str) -> Call[None]:
        return Call("DELETE", api(f"/node-packages/{seg(package_id)}"), parse_none)
