from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt, field_validator

from runyard.files.schemas import SHA256_PATTERN, plain_sha256
from runyard.pagination import PageMeta

ModelStatus = Literal["active", "disabled"]
Sha256 = Field(
    pattern=SHA256_PATTERN,
    description="sha256 of the file: 64 hex digits (a `sha256:` prefix is accepted).",
)


class ModelPresign(BaseModel):
    file_name: str = Field(
        default="model.safetensors", min_length=1, max_length=1024, examples=["lora.safetensors"]
    )
    file_size: StrictInt = Field(ge=1, description="Exact size in bytes; the PUT must send it.")
    sha256: str = Sha256

    _plain = field_validator("sha256")(plain_sha256)


class ModelMultipartInitiate(ModelPresign):
    """Like ``ModelPresign``; the file then travels in parts (``/models/multipart/…``)."""


class ModelCreate(BaseModel):
    display_name: str = Field(min_length=1, max_length=255, examples=["Detail tweaker"])
    model_type: str = Field(
        min_length=1,
        max_length=50,
        examples=["loras"],
        description="The ComfyUI models subfolder: checkpoints, loras, vae, controlnet, …",
    )
    model_path: str = Field(
        min_length=1,
        max_length=1024,
        examples=["detail/tweaker.safetensors"],
        description="Relative path under models/<model_type>/ (no leading /, no .., no \\).",
    )
    file_key: str = Field(min_length=1, max_length=1024, description="From /models/presign.")
    sha256: str = Sha256

    _plain = field_validator("sha256")(plain_sha256)


class ModelUpdate(BaseModel):
    """Metadata only: a model's bytes never change (upload and register another model)."""

    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    model_type: str | None = Field(default=None, min_length=1, max_length=50)
    model_path: str | None = Field(default=None, min_length=1, max_length=1024)
    model_status: ModelStatus | None = None


class ModelRead(BaseModel):
    id: str
    display_name: str
    model_type: str
    model_path: str
    file_size: int
    sha256: str = Field(description="Hex sha256 of the file (checked by agents when syncing).")
    model_status: ModelStatus
    created_at: datetime
    updated_at: datetime


class ModelList(BaseModel):
    model_list: list[ModelRead]
    page_meta: PageMeta
