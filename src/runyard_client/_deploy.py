"""``Client.deploy``: a folder (or one file) of ``@workflow`` functions becomes workflow versions.

The source is packed (``_bundles``), the decorated functions are found by importing it in a
fresh interpreter (``python -m runyard_agent.runtimes.functions.discover``: the agent package
must be installed where the CLI runs), the bundle is uploaded once (its sha256 makes a second
upload of the same bytes a no-op), and each workflow gets a new version naming the bundle and
its entrypoint, unless its latest version is the same already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from runyard_client._bundles import Bundle, BundleError, modules_of
from runyard_client._models import Workflow

__all__ = ["Deployed", "definition_for", "discover", "read_requirements", "same_definition"]


@dataclass(frozen=True)
class Deployed:
    workflow: Workflow
    changed: bool  # False: the latest version was this definition already; nothing imported
    entrypoint: str


def discover(bundle: Bundle, path: Path, python: str = sys.executable) -> list[dict[str, Any]]:
    """``[{"module", "function", "definition"}]`` of the decorated functions in ``path``."""
    modules = modules_of(bundle, path)
    with tempfile.TemporaryDirectory(prefix="runyard-discover-") as scratch:
        out = Path(scratch) / "found.json"
        try:
            done = subprocess.run(
                [
                    python,
                    "-m",
                    "runyard_agent.runtimes.functions.discover",
                    str(out),
                    str(bundle.root),
                ]
                + modules,
                capture_output=True,
                text=True,
                timeout=300,
                cwd=bundle.root,
            )
        except subprocess.TimeoutExpired as exc:
            raise BundleError(f"importing {path} took longer than 300 s") from exc
        if not out.is_file():
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BundleError(
                f"could not import {path}: {detail[0]} (is the agent package, "
                "`pip install 'runyard[agent]'`, installed here?)"
            )
        result = json.loads(out.read_text(encoding="utf-8"))
    if "error" in result:
        raise BundleError(str(result["error"]))
    found: list[dict[str, Any]] = result["workflows"]
    if not found:
        raise BundleError(
            f"no @workflow function in {path}: decorate one with "
            '`@workflow("slug")` from runyard_agent'
        )
    slugs = [item["definition"]["workflow_slug"] for item in found]
    twice = sorted({s for s in slugs if slugs.count(s) > 1})
    if twice:
        raise BundleError(f"two functions declare the workflow {', '.join(twice)}")
    return found


REQUIREMENTS_FILE = "requirements.txt"


def read_requirements(root: Path, path: Path | None = None) -> list[str]:
    """The pip requirements in ``path``, else ``root/requirements.txt`` (none without it): one
    a line, comments and blank lines left out; pip options (``-r``, ``--index-url``, ``-e``)
    refused."""
    if path is None:
        path = root / REQUIREMENTS_FILE
        if not path.is_file():
            return []
    elif not path.is_file():
        raise BundleError(f"no requirements file {path}")
    found: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path} line {number}"
        if line.startswith("-"):
            raise BundleError(
                f"{where}: pip options ({line.split()[0]}) are not supported; list one "
                "requirement a line (the agent's --python-index-url is where they come from)"
            )
        try:
            Requirement(line)
        except InvalidRequirement as exc:
            raise BundleError(f"{where}: {line!r} is not a requirement: {exc}") from exc
        found.append(line)
    if len(found) > 100:
        raise BundleError(f"{path}: at most 100 requirements, not {len(found)}")
    return found


def definition_for(
    item: dict[str, Any], bundle: Bundle, file_key: str, requirements: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """(entrypoint, the definition to import) of one discovered function in ``bundle``; the
    ``requirements`` file (default: the bundle's ``requirements.txt``) becomes
    ``workflow_json.requirements``."""
    entrypoint = f"{item['module']}:{item['function']}"
    ref = {"file_key": file_key, "sha256": bundle.sha256, "file_size": bundle.size}
    workflow_json: dict[str, Any] = {"entrypoint": entrypoint, "bundle": ref}
    needs = read_requirements(bundle.root, requirements)
    if needs:
        workflow_json["requirements"] = needs
    return entrypoint, {**item["definition"], "workflow_json": workflow_json}


_COMPARED = (
    "display_name",
    "description",
    "tool_type",
    "workflow_json",
    "required_labels",
    "task_timeout",
    "max_retries",
)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v not in (None, "", [])}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def same_definition(current: Workflow, definition: dict[str, Any]) -> bool:
    """Whether the latest version already is ``definition`` (same code, same declaration)."""
    ours = {k: definition.get(k) for k in _COMPARED}
    theirs = {k: getattr(current, k) for k in _COMPARED}
    ours["required_labels"] = sorted(set(ours["required_labels"] or []))
    if _plain(ours) != _plain(theirs):
        return False
    return bool(_plain(definition.get("parameters", [])) == _plain(current.parameters))
