"""``client.models``: the team's model library (list, read, register, change, disable, delete)
and ``upload_model`` (sha256 computed locally, the same bytes uploaded once, multipart and
resumable above the single-upload limit)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeVar

from runyard_client._base import Call, api, parse_none
from runyard_client._models import LibraryModel, Page
from runyard_client._resources import Resource, endpoint, model, page_of, paging, seg

X = TypeVar("X")


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a local file, read once in 1 MiB blocks."""
    with Path(path).expanduser().open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def register_call(
    file_key: str, sha256: str, model_type: str, model_path: str, display_name: str
) -> Call[LibraryModel]:
    body = {
        "display_name": display_name,
        "model_type": model_type,
        "model_path": model_path,
        "file_key": file_key,
        "sha256": sha256,
    }
    return Call("POST", api("/models"), model(LibraryModel), json=body)


class Models(Resource[X]):
    """Reads with any team credential but ``ak-``; writes with members' session or ``dk-`` keys."""

    @endpoint
    def list(
        self,
        *,
        current_page: int = 1,
        per_page: int = 20,
        model_status: str | None = None,
        model_type: str | None = None,
    ) -> Call[Page[LibraryModel]]:
        extra: dict[str, Any] = {}
        if model_status is not None:
            extra["model_status"] = model_status
        if model_type is not None:
            extra["model_type"] = model_type
        return Call(
            "GET",
            api("/models"),
            page_of("model_list", LibraryModel),
            params=paging(current_page, per_page, **extra),
        )

    @endpoint
    def get(self, model_id: str) -> Call[LibraryModel]:
        return Call("GET", api(f"/models/{seg(model_id)}"), model(LibraryModel))

    @endpoint
    def register(
        self, file_key: str, sha256: str, model_type: str, model_path: str, display_name: str
    ) -> Call[LibraryModel]:
        """Register an uploaded file (see ``Client.upload_model``, which does both)."""
        return register_call(file_key, sha256, model_type, model_path, display_name)

    @endpoint
    def update(
        self,
        model_id: str,
        *,
        display_name: str | None = None,
        model_type: str | None = None,
        model_path: str | None = None,
        model_status: str | None = None,
    ) -> Call[LibraryModel]:
        """Change a model's metadata (its bytes never change)."""
        changes = {
            k: v
            for k, v in (
                ("display_name", display_name),
                ("model_type", model_type),
                ("model_path", model_path),
                ("model_status", model_status),
            )
            if v is not None
        }
        return Call("PUT", api(f"/models/{seg(model_id)}"), model(LibraryModel), json=changes)

    @endpoint
    def disable(self, model_id: str) -> Call[LibraryModel]:
        """Take the model out of the agents' sync set (``enable`` puts it back)."""
        return Call(
            "PUT",
            api(f"/models/{seg(model_id)}"),
            model(LibraryModel),
            json={"model_status": "disabled"},
        )

    @endpoint
    def enable(self, model_id: str) -> Call[LibraryModel]:
        return Call(
            "PUT",
            api(f"/models/{seg(model_id)}"),
            model(LibraryModel),
            json={"model_status": "active"},
        )

    @endpoint
    def delete(self, model_id: str) -> Call[None]:
        return Call("DELETE", api(f"/models/{seg(model_id)}"), parse_none)
