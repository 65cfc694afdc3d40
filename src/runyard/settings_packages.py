"""Settings of custom node packages (``RUNYARD_NODE_PACKAGE_*``): the limits an uploaded archive
must keep (checked by the server at registration and again by each agent as it unpacks). Part of
``runyard.settings`` (which composes them into ``Settings``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runyard_protocol.packages import ArchiveLimits

MIB = 1024 * 1024


class NodePackageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_NODE_PACKAGE_", extra="ignore")

    max_files: int = Field(
        default=10_000, ge=1, description="Most files (and links) a node package archive holds."
    )
    max_bytes: int = Field(
        default=512 * MIB, ge=1, description="Most bytes a node package archive unpacks to."
    )
    max_ratio: float = Field(
        default=100.0,
        gt=1,
        description="Most times its own size a node package archive may unpack to, above 1 MiB "
        "(bombs).",
    )
    archive_max: int = Field(
        default=256 * MIB, ge=1, description="Largest node package archive registered."
    )

    def limits(self) -> ArchiveLimits:
        return ArchiveLimits(self.max_files, self.max_bytes, self.max_ratio)
