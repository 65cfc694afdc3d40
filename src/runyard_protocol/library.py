"""The team's model library as the server sends it to an agent (``library.sync.v1``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runyard_protocol.base import Frame as _Frame


class SyncedModel(_Frame):
    """One model of the team's library an agent keeps at ``models/<model_type>/<model_path>``."""

    model_id: str
    model_type: str
    model_path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    download_url: str  # a presigned GET (it may be resumed with Range)


class SyncedNodePackage(_Frame):
    """One custom node package the agent keeps unpacked at ``custom_nodes/<name>/`` (its archive
    follows the rules of ``runyard_protocol.packages``; a ``requirements.txt`` in it is installed
    into the supervised ComfyUI's Python, never replacing its torch packages)."""

    package_id: str
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    download_url: str  # a presigned GET of the archive (it may be resumed with Range)


class LibrarySync(_Frame):
    """The team's whole active model set, sent after the welcome to an agent that reports
    ``system_info.library_sync`` and again on every change of the library (an addition within
    version 2: agents that predate it ignore it). The agent makes its managed files match it."""

    type: Literal["library.sync.v1"] = "library.sync.v1"
    models: list[SyncedModel] = Field(default_factory=list)
    # Added within version 2: agents that predate it ignore it (and keep no node packages).
    node_packages: list[SyncedNodePackage] = Field(default_factory=list)
