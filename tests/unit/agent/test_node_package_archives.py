"""The custom node package archive rules (``runyard_protocol.packages``), shared by the server's
validation and the agent's extraction: each bad case names the entry, in zip and in tar.gz."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from runyard_protocol.packages import ArchiveLimits, ArchiveProblem, read_package

INIT = b"NODE_CLASS_MAPPINGS = {}\n"
LIMITS = ArchiveLimits()


def make_tar(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    """members: (name, kind, data-or-link) with kind file|dir|sym|hard|fifo|chr."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            payload = None
            if kind == "file":
                assert isinstance(data, bytes)
                info.size, payload = len(data), io.BytesIO(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info, payload)
    return path


def make_zip(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, kind, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if kind == "sym":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, str(data))
            elif kind == "fifo":
                info.external_attr = (stat.S_IFIFO | 0o644) << 16
                archive.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                archive.writestr(info, data if isinstance(data, bytes) else data.encode())
    return path


MAKERS = {"tar": (make_tar, "pkg.tar.gz"), "zip": (make_zip, "pkg.zip")}


@pytest.fixture(params=["tar", "zip"])
def build(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    maker, name = MAKERS[request.param]
    return lambda members: maker(tmp_path / name, members)


def test_a_good_package_is_read_and_unpacked(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = build(
        [
            ("my_nodes/__init__.py", "file", INIT),
            ("my_nodes/requirements.txt", "file", b"pillow\n"),
            ("my_nodes/lib/util.py", "file", b"X = 1\n"),
        ]
    )
    info = read_package(archive, LIMITS)
    assert (info.name, info.files, info.requirements) == ("my_nodes", 3, "pillow\n")
    dest = tmp_path / "out"
    read_package(archive, LIMITS, dest)
    assert (dest / "__init__.py").read_bytes() == INIT
    assert (dest / "lib" / "util.py").read_bytes() == b"X = 1\n"


def test_a_symlink_inside_the_package_is_kept(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "p.tar.gz",
        [
            ("p/__init__.py", "file", INIT),
            ("p/data/a.txt", "file", b"a"),
            ("p/alias.txt", "sym", "data/a.txt"),
        ],
    )
    dest = tmp_path / "out"
    read_package(archive, LIMITS, dest)
    assert (dest / "alias.txt").is_symlink() and (dest / "alias.txt").read_text() == "a"


@pytest.mark.parametrize(
    ("members", "entry", "words"),
    [
        ([("/etc/evil.py", "file", b"x")], "/etc/evil.py", "absolute"),
        (
            [("p/__init__.py", "file", INIT), ("p/../../evil.py", "file", b"x")],
            "p/../../evil.py",
            "'..'",
        ),
        (
            [("p/__init__.py", "file", INIT), ("q/other.py", "file", b"x")],
            "q/other.py",
            "one top folder",
        ),
        ([("loose.py", "file", b"x")], "loose.py", "one top folder"),
        (
            [("p/__init__.py", "file", INIT), ("p/out", "sym", "../../etc")],
            "p/out",
            "outside the package",
        ),
        (
            [("p/__init__.py", "file", INIT), ("p/abs", "sym", "/etc/passwd")],
            "p/abs",
            "outside the package",
        ),
        ([("p/__init__.py", "file", INIT), ("p/pipe", "fifo", b"")], "p/pipe", "FIFOs"),
    ],
)
def test_bad_entries_are_refused_naming_them(build, members, entry, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ArchiveProblem) as caught:
        read_package(build(members), LIMITS)
    assert caught.value.entry == entry and words in str(caught.value)


def test_tar_only_cases(tmp_path: Path) -> None:
    cases = [
        ([("p/__init__.py", "file", INIT), ("p/null", "chr", b"")], "p/null", "device files"),
        ([("p/__init__.py", "file", INIT), ("p/h", "hard", "etc/passwd")], "p/h", "hard link"),
        (
            [("p/__init__.py", "file", INIT), ("p/l", "sym", "."), ("p/l/x.py", "file", b"x")],
            "p/l/x.py",
            "through a symbolic link",
        ),
        (
            [("p/__init__.py", "file", INIT), ("p/__init__.py", "file", INIT)],
            "p/__init__.py",
            "twice",
        ),
    ]
    for members, entry, words in cases:
        with pytest.raises(ArchiveProblem) as caught:
            read_package(make_tar(tmp_path / "t.tar.gz", members), LIMITS)
        assert caught.value.entry == entry and words in str(caught.value)
    dest = tmp_path / "hard"
    good = [("p/__init__.py", "file", INIT), ("p/copy.py", "hard", "p/__init__.py")]
    read_package(make_tar(tmp_path / "h.tar.gz", good), LIMITS, dest)
    assert (dest / "copy.py").read_bytes() == INIT


def test_a_bomb_is_refused_by_ratio_before_it_is_unpacked(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = build([("p/__init__.py", "file", INIT), ("p/zeros.bin", "file", bytes(20_000_000))])
    dest = tmp_path / "out"
    with pytest.raises(ArchiveProblem) as caught:
        read_package(archive, ArchiveLimits(max_ratio=100), dest)
    assert caught.value.entry == "p/zeros.bin" and "archive bomb" in str(caught.value)
    assert not (dest / "zeros.bin").exists()


def test_file_count_and_byte_limits(build) -> None:  # type: ignore[no-untyped-def]
    members = [("p/__init__.py", "file", INIT)] + [(f"p/f{i}.py", "file", b"x") for i in range(5)]
    with pytest.raises(ArchiveProblem, match="more than 3 files") as caught:
        read_package(build(members), ArchiveLimits(max_files=3))
    assert caught.value.entry == "p/f2.py"
    with pytest.raises(ArchiveProblem, match="more than 30 bytes unpacked"):
        read_package(
            build([("p/__init__.py", "file", INIT), ("p/a", "file", b"y" * 10)]),
            ArchiveLimits(max_bytes=30),
        )


def test_a_package_without_init_or_an_archive_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ArchiveProblem, match="no p/__init__.py"):
        read_package(make_zip(tmp_path / "a.zip", [("p/x.py", "file", b"x")]), LIMITS)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    with pytest.raises(ArchiveProblem, match="not a zip or tar"):
        read_package(junk, LIMITS)


def test_a_bomb_in_the_tar_headers_is_refused_while_reading(tmp_path: Path) -> None:
    """A PAX header is read whole into memory by tarfile: the decompressed stream is capped."""
    path = tmp_path / "pax.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("p/__init__.py")
        info.size = len(INIT)
        info.pax_headers = {"comment": "x" * 40_000_000}
        tar.addfile(info, io.BytesIO(INIT))
    assert path.stat().st_size < 200_000
    with pytest.raises(ArchiveProblem, match="headers included: an archive bomb"):
        read_package(path, LIMITS)


def test_bzip2_and_xz_tars_are_read_too(tmp_path: Path) -> None:
    for mode, name in (("w:bz2", "p.tar.bz2"), ("w:xz", "p.tar.xz"), ("w", "p.tar")):
        with tarfile.open(tmp_path / name, mode) as tar:  # type: ignore[call-overload]
            info = tarfile.TarInfo("p/__init__.py")
            info.size = len(INIT)
            tar.addfile(info, io.BytesIO(INIT))
        assert read_package(tmp_path / name, LIMITS).name == "p"


def test_a_small_package_of_repetitive_text_is_no_bomb(tmp_path: Path) -> None:
    text = b"# the same comment line, again and again\n" * 20_000  # ~800 KB, compresses ~300x
    archive = make_tar(
        tmp_path / "t.tar.gz", [("p/__init__.py", "file", INIT), ("p/t.py", "file", text)]
    )
    assert read_package(archive, ArchiveLimits(max_ratio=100)).unpacked_bytes == len(INIT) + len(
        text
    )
