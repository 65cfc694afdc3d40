from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from runyard.files.schemas import SHA256_PATTERN, plain_sha256
from runyard.pagination import PageMeta

PackageStatus = Literal["active", "disabled"]
_NAME = Field(
    default=None,
    min_length=1,
    max_length=100,
    examples=["runyard_example_nodes"],
    description="The folder under custom_nodes/ (default: the archive's top folder).",
)


class NodePackageCreate(BaseModel):
    file_key: str = Field(
        min_length=1,
        max_length=1024,
        description="The archive's file_key from POST /models/presign (or /models/multipart/…).",
    )
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="When given, must be the sha256 the archive was uploaded with.",
    )
    name: str | None = _NAME

    _plain = field_validator("sha256")(lambda v: None if v is None else plain_sha256(v))


class NodePackageUpdate(BaseModel):
    name: str | None = _NAME
    package_status: PackageStatus | None = None


class NodePackageRead(BaseModel):
    id: str
    name: str
    file_size: int = Field(description="The archive's size in bytes.")
    sha256: str = Field(description="Hex sha256 of the archive (checked by agents).")
    package_status: PackageStatus
    requirements: str | None = Field(
        description="The package's requirements.txt, installed by agents into the supervised "
        "ComfyUI's Python (never replacing its torch packages)."
    )
    file_count: int
    unpacked_bytes: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class NodePackageList(BaseModel):
    node_package_list: list[NodePackageRead]
    page_meta: PageMeta
