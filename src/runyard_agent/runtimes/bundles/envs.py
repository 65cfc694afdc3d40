"""A deployed bundle's pip requirements on the agent (``workflow_json.requirements``, from the
``requirements.txt`` that ``runyard workflows deploy`` found beside the code).

With ``--python-index-url`` the agent installs them, once per set of requirements (keyed by
their sha256 and the Python version), with ``pip install --target`` from that index into
``<work dir>/envs/<key>/``, and a task's process finds that folder first on ``sys.path``
(``PYTHONPATH``): the bundle's versions win over the agent's, and the agent's own packages
(``runyard_agent`` that runs the task, and whatever the bundle does not name) stay importable,
which a venv made from the agent's own venv would not give. Concurrent tasks wait for one build;
a failed build fails the task ``python_requirements_failed`` naming the requirement pip could not
install, and is tried again by the next task. Without the flag, requirements the agent's Python
does not satisfy fail the task ``python_requirements_missing`` naming them (the server's
pre-flight refuses such runs earlier when it knows every agent lacks them).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from runyard_agent.runtimes.base import TaskFailedError

__all__ = ["PythonEnvs", "installed_packages", "missing_requirements"]

MISSING = "python_requirements_missing"
FAILED = "python_requirements_failed"
_PIP_TIMEOUT = 900.0
_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) (\S+)"
)


def installed_packages() -> dict[str, str]:
    """The agent's Python: canonical name -> version (what it reports to the server)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def missing_requirements(requirements: list[str], packages: dict[str, str]) -> list[str]:
    """The requirements ``packages`` does not satisfy, each with what is there instead."""
    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            missing.append(f"{text} (not a requirement pip understands)")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = packages.get(canonicalize_name(requirement.name))
        if version is None:
            missing.append(f"{text} (not installed)")
        elif not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{text} ({version} installed)")
    return missing


class PythonEnvs:
    def __init__(self, directory: Path, index_url: str | None) -> None:
        self.directory = directory
        self.index_url = index_url
        self._locks: dict[str, asyncio.Lock] = {}
        self._packages: dict[str, str] | None = None
        self.builds = 0  # pip runs (a test reads it)

    def key(self, requirements: list[str]) -> str:
        lines = sorted({" ".join(r.split()) for r in requirements})
        text = "\n".join([f"python {sys.version_info.major}.{sys.version_info.minor}", *lines])
        return hashlib.sha256(text.encode()).hexdigest()

    async def site_for(self, requirements: list[str]) -> Path | None:
        """The folder to put first on the task's ``sys.path`` (None: nothing to add), built
        first when needed; raises ``TaskFailedError`` when the requirements cannot be met."""
        if not requirements:
            return None
        if self.index_url is None:
            if self._packages is None:
                self._packages = await asyncio.to_thread(installed_packages)
            missing = missing_requirements(requirements, self._packages)
            if missing:
                raise TaskFailedError(
                    f"this agent's Python lacks the bundle's requirements: {', '.join(missing)}; "
                    "install them where the agent runs, or start the agent with "
                    "--python-index-url to let it install each bundle's requirements",
                    MISSING,
                )
            return None
        key = self.key(requirements)
        target = self.directory / key
        if target.is_dir():
            return target
        async with self._locks.setdefault(key, asyncio.Lock()):
            if not target.is_dir():
                await self._build(requirements, target)
        return target

    async def _build(self, requirements: list[str], target: Path) -> None:
        assert self.index_url is not None
        self.builds += 1
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        staging = Path(await asyncio.to_thread(tempfile.mkdtemp, "", "build-", self.directory))
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--target",
            str(staging),
            "--index-url",
            self.index_url,
            *requirements,
        ]
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            try:
                out, err = await asyncio.wait_for(process.communicate(), _PIP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise TaskFailedError(
                    f"installing the bundle's requirements took longer than {_PIP_TIMEOUT:g} s",
                    FAILED,
                ) from None
            if process.returncode != 0:
                raise TaskFailedError(_failure(requirements, err.decode(errors="replace")), FAILED)
            await asyncio.to_thread(staging.rename, target)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)


def _failure(requirements: list[str], stderr: str) -> str:
    named = _NOT_FOUND.search(stderr)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = lines[-1] if lines else "no output"
    if named:
        return (
            f"installing the bundle's requirements failed: {named.group(1)} is not on the "
            f"agent's package index (pip: {said})"
        )
    return f"installing the bundle's requirements ({', '.join(requirements)}) failed (pip: {said})"
