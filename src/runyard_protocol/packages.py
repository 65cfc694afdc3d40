"""What a custom node package archive may hold: ONE set of rules, used by the server to validate
an upload (``POST /node-packages``) and by the agent to unpack it into ``custom_nodes/<name>/``.

An archive is a zip or a tar (optionally gzip/bzip2/xz compressed) of one top folder, the
package, holding an ``__init__.py`` (ComfyUI imports ``custom_nodes/<pkg>/__init__.py`` and reads
its ``NODE_CLASS_MAPPINGS``). Refused, naming the entry: absolute paths (``/x``, ``C:x``), ``\\``,
``..``, control characters, entries outside the top folder, duplicates, symbolic links whose
target leaves the package (absolute, or ``..`` past its top) and entries that go through a link,
hard links to anything but an earlier file of the package, device files, FIFOs and sockets, more
than ``max_files`` files, more than ``max_bytes`` unpacked, and more than ``max_ratio`` times the
archive's size unpacked when that is above 1 MiB (a bomb); a tar is read as one stream whose
decompressed bytes (headers included) are capped. Python 3.11's ``tarfile`` has no extraction
filter: nothing here uses ``extract``/``extractall``; :func:`read_package` writes every file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

PACKAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
REQUIREMENTS_MAX = 64 * 1024
_CHUNK = 1 << 20
_LINK_MAX = 4096
_SLACK = 1 << 20  # tar's end blocks and padding
# Below this many bytes unpacked no ratio is a bomb (a small file of repeated text compresses
# far beyond 100 times).
RATIO_FLOOR = 1 << 20


class ArchiveProblem(ValueError):
    """The archive breaks a rule; ``entry`` names the archive member at fault (if one is)."""

    def __init__(self, message: str, entry: str | None = None) -> None:
        super().__init__(f"{entry}: {message}" if entry else message)
        self.entry = entry


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 10_000
    max_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 100.0


@dataclass(frozen=True)
class PackageInfo:
    name: str  # the top folder
    files: int
    unpacked_bytes: int
    requirements: str | None  # the text of <top>/requirements.txt, if any


def package_name_problem(name: str) -> str | None:
    if (
        not PACKAGE_NAME.fullmatch(name)
        or name in ("..", "__pycache__")
        or name.endswith(".disabled")
    ):
        return (
            f"the package name {name!r} must be one folder name of letters, digits, '_', '-' or "
            "'.' (not __pycache__, not ending in .disabled)"
        )
    return None


Kind = Literal["file", "dir", "symlink", "hardlink", "special"]


@dataclass
class _Entry:
    raw: str
    kind: Kind
    size: int
    link: str
    executable: bool
    open: Callable[[], IO[bytes]] | None


def _zip_entries(archive: zipfile.ZipFile) -> Iterator[_Entry]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        kind: Kind = "file"
        link = ""
        if info.is_dir() or stat.S_ISDIR(mode):
            kind = "dir"
        elif stat.S_ISLNK(mode):
            kind = "symlink"
            link = archive.read(info)[:_LINK_MAX].decode("utf-8", "replace")
        elif any(f(mode) for f in (stat.S_ISCHR, stat.S_ISBLK, stat.S_ISFIFO, stat.S_ISSOCK)):
            kind = "special"

        def opener(info: zipfile.ZipInfo = info) -> IO[bytes]:
            return archive.open(info)

        yield _Entry(info.filename, kind, info.file_size, link, bool(mode & 0o111), opener)


def _tar_entries(archive: tarfile.TarFile) -> Iterator[_Entry]:
    for member in archive:
        kind: Kind = "special"
        if member.isdir():
            kind = "dir"
        elif member.isfile():
            kind = "file"
        elif member.issym():
            kind = "symlink"
        elif member.islnk():
            kind = "hardlink"

        def opener(member: tarfile.TarInfo = member) -> IO[bytes]:
            handle = archive.extractfile(member)
            assert handle is not None
            return handle

        yield _Entry(
            member.name, kind, member.size, member.linkname, bool(member.mode & 0o111), opener
        )


def _clean(raw: str, what: str = "path") -> list[str]:
    """The entry's path as segments ("." and empty segments dropped); refuses what may escape."""
    if raw.startswith("/") or re.match(r"[A-Za-z]:", raw):
        raise ArchiveProblem(f"an absolute {what} is not allowed", raw)
    if "\\" in raw:
        raise ArchiveProblem(f"the {what} uses '\\' (use '/')", raw)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ArchiveProblem(f"the {what} contains control characters", raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveProblem(f"'..' in the {what} is not allowed", raw)
    return parts


class _Capped:
    """The decompressed tar stream, refused once it passes ``cap`` bytes: tar headers (a PAX
    header is read whole into memory by ``tarfile``) count too, not only the files' sizes."""

    def __init__(self, inner: io.BufferedIOBase, cap: int) -> None:
        self.inner, self.cap, self.count = inner, cap, 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size if 0 <= size <= _CHUNK else _CHUNK)
        self.count += len(data)
        if self.count > self.cap:
            raise ArchiveProblem(
                f"the archive unpacks to more than {self.cap} bytes, headers included: an "
                "archive bomb?"
            )
        return data


def _decompressed(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as head:
        magic = head.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return path.open("rb")


def _entries(path: Path, limits: ArchiveLimits) -> Iterator[_Entry]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield from _zip_entries(archive)
        return
    # Read as a stream (one pass, nothing seeks back), through a cap on the decompressed bytes.
    size = max(1, path.stat().st_size)
    allowed = min(limits.max_bytes, max(RATIO_FLOOR, limits.max_ratio * size))
    cap = int(allowed) + 1024 * limits.max_files + _SLACK
    with _decompressed(path) as raw:
        try:
            stream = _Capped(raw, cap)
            archive = tarfile.open(fileobj=stream, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveProblem(f"not a zip or tar(.gz) archive ({exc})") from exc
        with archive:
            yield from _tar_entries(archive)


def read_package(
    archive_path: Path, limits: ArchiveLimits, dest: Path | None = None
) -> PackageInfo:
    """Check ``archive_path`` against every rule; with ``dest`` (an empty or missing folder),
    also write the package's contents (what is under its top folder) there. Raises
    :class:`ArchiveProblem` at the first entry that breaks a rule (``dest`` is then half
    written: unpack into a temporary folder and rename it when this returns)."""
    archive_size = max(1, archive_path.stat().st_size)
    top: str | None = None
    seen: dict[str, Kind] = {}
    links: set[str] = set()
    files = total = 0
    requirements: str | None = None
    try:
        for entry in _entries(archive_path, limits):
            parts = _clean(entry.raw)
            if not parts:
                continue
            if top is None:
                top = parts[0]
                problem = package_name_problem(top)
                if problem is not None:
                    raise ArchiveProblem(problem, entry.raw)
            if parts[0] != top or (len(parts) == 1 and entry.kind != "dir"):
                raise ArchiveProblem(
                    f"the archive must hold one top folder (the package, here {top!r}); this "
                    "entry is outside it",
                    entry.raw,
                )
            rel = "/".join(parts)
            if rel in seen and not (entry.kind == "dir" and seen[rel] == "dir"):
                raise ArchiveProblem("the archive holds this entry twice", entry.raw)
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in links:
                    raise ArchiveProblem("the entry goes through a symbolic link", entry.raw)
            if entry.kind == "special":
                raise ArchiveProblem(
                    "device files, FIFOs and sockets are not allowed (files, folders and links "
                    "only)",
                    entry.raw,
                )
            if entry.kind != "dir":
                files += 1
                if files > limits.max_files:
                    raise ArchiveProblem(
                        f"more than {limits.max_files} files in the archive", entry.raw
                    )
            if entry.kind == "file":
                total += entry.size
                if total > limits.max_bytes:
                    raise ArchiveProblem(f"more than {limits.max_bytes} bytes unpacked", entry.raw)
                if total > max(RATIO_FLOOR, limits.max_ratio * archive_size):
                    raise ArchiveProblem(
                        f"unpacks to more than {limits.max_ratio:g} times the archive's size "
                        f"({total} bytes from {archive_size}): an archive bomb?",
                        entry.raw,
                    )
            target = ""
            if entry.kind == "symlink":
                if entry.link.startswith("/") or re.match(r"[A-Za-z]:", entry.link):
                    raise ArchiveProblem(
                        f"the link points to {entry.link!r}, outside the package", entry.raw
                    )
                target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), entry.link))
                if target != top and not target.startswith(top + "/"):
                    raise ArchiveProblem(
                        f"the link points to {entry.link!r}, outside the package", entry.raw
                    )
                hops = target.split("/")
                if any("/".join(hops[:i]) in links for i in range(1, 1 + len(hops))):
                    raise ArchiveProblem("the link points through another link", entry.raw)
                links.add(rel)
            elif entry.kind == "hardlink":
                target = "/".join(_clean(entry.link, "link target"))
                if seen.get(target) != "file":
                    raise ArchiveProblem(
                        f"the hard link points to {entry.link!r}, not an earlier file of the "
                        "package",
                        entry.raw,
                    )
            seen[rel] = entry.kind
            if rel == f"{top}/requirements.txt" and entry.kind == "file" and entry.open:
                with entry.open() as handle:
                    data = handle.read(REQUIREMENTS_MAX + 1)
                if len(data) > REQUIREMENTS_MAX:
                    raise ArchiveProblem(f"larger than {REQUIREMENTS_MAX} bytes", entry.raw)
                try:
                    requirements = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ArchiveProblem("not UTF-8 text", entry.raw) from exc
                entry.open = lambda data=data: io.BytesIO(data)  # a stream is read once
            if dest is not None:
                _write(dest, parts[1:], entry, target[len(top) + 1 :] if target else "")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveProblem(f"the archive cannot be read ({exc})") from exc
    if top is None:
        raise ArchiveProblem("the archive is empty")
    if seen.get(f"{top}/__init__.py") != "file":
        raise ArchiveProblem(
            f"the package has no {top}/__init__.py (ComfyUI imports it to find the node classes)"
        )
    return PackageInfo(top, files, total, requirements)


def _write(dest: Path, parts: list[str], entry: _Entry, target: str) -> None:
    """Write one checked entry under ``dest`` (``parts`` are relative to the package folder)."""
    path = dest.joinpath(*parts) if parts else dest
    if entry.kind == "dir":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    if not path.parent.resolve().is_relative_to(dest.resolve()):
        raise ArchiveProblem("the entry would be written outside the package", entry.raw)
    if entry.kind == "symlink":
        os.symlink(os.path.relpath(dest.joinpath(*target.split("/")), path.parent), path)
        return
    if entry.kind == "hardlink":
        source = dest.joinpath(*target.split("/"))
        with source.open("rb") as src, path.open("xb") as out:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
        return
    assert entry.open is not None
    written = 0
    with entry.open() as src, path.open("xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > entry.size:
                raise ArchiveProblem("holds more bytes than its header says", entry.raw)
            out.write(chunk)
    path.chmod(0o755 if entry.executable else 0o644)
