"""Deployed code on the agent: each bundle fetched once, checked, unpacked, kept by its sha256.

``<cache>/<sha256>/`` holds the unpacked source of one bundle; a version that names the same bytes
finds it there. The download streams to a temporary file while its sha256 is computed: bytes that
do not match fail the task with ``bundle_corrupt`` and nothing is kept (a later task fetches
again). Unpacking refuses members that would land outside the folder (``tarfile``'s ``data``
filter: no absolute paths, ``..``, links out, devices).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path

import httpx

from runyard_agent.runtimes.base import TaskFailedError
from runyard_protocol import AssignedBundle

__all__ = ["BundleCache"]

_CHUNK = 1024 * 1024


class BundleCache:
    def __init__(self, directory: Path, http: httpx.AsyncClient) -> None:
        self.directory = directory
        self._http = http
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # downloads made (a test and the bench read it)

    def path_of(self, sha256: str) -> Path:
        return self.directory / sha256

    async def get(self, bundle: AssignedBundle) -> Path:
        """The unpacked folder of ``bundle``, fetched first when this agent has not got it."""
        target = self.path_of(bundle.sha256)
        if target.is_dir():
            return target
        lock = self._locks.setdefault(bundle.sha256, asyncio.Lock())
        async with lock:
            if target.is_dir():  # another task fetched it while this one waited
                return target
            await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
            archive = Path(
                await asyncio.to_thread(
                    lambda: tempfile.mkstemp(prefix="fetch-", dir=self.directory)[1]
                )
            )
            try:
                await self._download(bundle, archive)
                await asyncio.to_thread(_unpack, archive, target)
            finally:
                archive.unlink(missing_ok=True)
        return target

    async def _download(self, bundle: AssignedBundle, archive: Path) -> None:
        self.fetches += 1
        digest = hashlib.sha256()
        size = 0
        try:
            async with self._http.stream("GET", bundle.download_url) as response:
                if response.status_code != 200:
                    raise TaskFailedError(
                        f"the workflow's code could not be fetched (the store answered "
                        f"{response.status_code}); the task can be retried",
                        "bundle_unavailable",
                    )
                with archive.open("wb") as sink:
                    async for chunk in response.aiter_bytes(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        sink.write(chunk)
        except httpx.HTTPError as exc:
            raise TaskFailedError(
                f"the workflow's code could not be fetched: {exc}", "bundle_unavailable"
            ) from exc
        if digest.hexdigest() != bundle.sha256 or size != bundle.file_size:
            raise TaskFailedError(
                f"the workflow's code fetched from the store is {size} bytes with sha256 "
                f"{digest.hexdigest()}, not the {bundle.file_size} bytes with sha256 "
                f"{bundle.sha256} the version names; the copy was dropped (deploy again if "
                "this repeats)",
                "bundle_corrupt",
            )


def _unpack(archive: Path, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        staging.rename(target)
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():
            return  # another process unpacked the same bytes first
        raise TaskFailedError(
            f"the workflow's code could not be unpacked: {exc}", "bundle_corrupt"
        ) from exc
