"""Packing a workflow's source into a bundle: a reproducible tar.gz and its sha256.

The same files give the same bytes (sorted entries, no times, owners or modes beyond the
executable bit), so deploying unchanged source finds the bundle the team holds already. Left out:
``.git``, ``__pycache__``, ``.venv`` (and ``venv``, ``node_modules``, ``*.pyc``) and whatever a
``.runyardignore`` at the root lists (gitignore syntax). A link pointing out of the folder is
refused; one inside it is packed as the file it points to.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from runyard_client._errors import RunyardError

__all__ = ["DEFAULT_MAX_BYTES", "Bundle", "BundleError", "modules_of", "pack"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
ALWAYS_IGNORED = [".git/", "__pycache__/", ".venv/", "venv/", "node_modules/", "*.pyc", ".DS_Store"]
IGNORE_FILE = ".runyardignore"


class BundleError(RunyardError):
    """The source cannot be deployed: too large, a link out of the folder, nothing to pack, a
    module that fails to import or a signature that cannot be a workflow."""


@dataclass(frozen=True)
class Bundle:
    root: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def _ignore_spec(root: Path) -> pathspec.PathSpec[Any]:
    lines = list(ALWAYS_IGNORED)
    ignore_file = root / IGNORE_FILE
    if ignore_file.is_file():
        lines += ignore_file.read_text(encoding="utf-8").splitlines()
    return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _collect(root: Path) -> list[str]:
    spec = _ignore_spec(root)
    found: list[str] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        kept_dirs = []
        for name in sorted(dirs):
            rel = prefix + name
            if spec.match_file(rel + "/"):
                continue
            if (here / name).is_symlink():
                if not _inside(root, here / name):
                    raise BundleError(f"{rel} is a link to a folder outside {root}; refused")
                raise BundleError(
                    f"{rel} is a link to a folder; copy it or list it in .runyardignore"
                )
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(names):
            rel = prefix + name
            if name == IGNORE_FILE or spec.match_file(rel):
                continue
            path = here / name
            if path.is_symlink() and not _inside(root, path):
                raise BundleError(
                    f"{rel} is a link to {os.readlink(path)}, outside {root}; refused"
                )
            if path.is_file():
                found.append(rel)
    return sorted(found)


def pack(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Bundle:
    """Pack ``path`` (one ``.py`` file, or a folder) into a bundle of at most ``max_bytes``."""
    path = path.expanduser()
    if path.is_file():
        if path.suffix != ".py":
            raise BundleError(f"{path} is not a .py file; give a Python file or a folder")
        root, files = path.parent, [path.name]
    elif path.is_dir():
        root, files = path, _collect(path)
    else:
        raise BundleError(f"{path} does not exist")
    if not any(f.endswith(".py") for f in files):
        raise BundleError(f"{path} holds no .py file to deploy")
    raw = io.BytesIO()
    total = 0
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in files:
            source = root / rel
            data = source.read_bytes()
            total += len(data)
            if total > max_bytes:
                raise BundleError(
                    f"{path} holds more than {max_bytes} bytes of files (at {rel}); list what "
                    f"the workflow does not need in {IGNORE_FILE} or raise --max-size"
                )
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o755 if os.access(source, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    if len(data) > max_bytes:
        raise BundleError(f"the bundle of {path} is {len(data)} bytes, over {max_bytes}")
    return Bundle(root, tuple(files), data, hashlib.sha256(data).hexdigest())


def modules_of(bundle: Bundle, path: Path) -> list[str]:
    """The modules to import to find the workflows: the file given, or each module of the
    folder (tests, ``setup.py`` and ``conftest.py`` left out)."""
    modules = []
    for rel in bundle.files:
        if not rel.endswith(".py"):
            continue
        parts = rel[:-3].split("/")
        name = parts[-1]
        if name in ("setup", "conftest") or name.startswith("test_") or "tests" in parts[:-1]:
            continue
        if name == "__init__":
            parts = parts[:-1]
        if parts and all(p.isidentifier() for p in parts):
            modules.append(".".join(parts))
    if path.is_file():
        return [path.stem]
    return sorted(set(modules))
