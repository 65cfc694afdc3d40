"""The agent's bundle cache (behind the httpx transport seam) and its log bounds."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tarfile

import httpx
import pytest

from runyard_agent.logs import LogBudget, LogSender
from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.bundles import BundleCache
from runyard_protocol import AssignedBundle, TaskLog


def _tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


GOOD = _tar({"flows.py": b"x = 1\n"})
SHA = hashlib.sha256(GOOD).hexdigest()
BUNDLE = AssignedBundle(
    file_key="bundles/t/1/bundle.tar.gz",
    sha256=SHA,
    file_size=len(GOOD),
    download_url="http://store.test/bundle",
)


async def test_a_bundle_is_fetched_once_and_kept_by_its_sha256(tmp_path):
    served: list[bytes] = [GOOD]
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, content=served[0])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        cache = BundleCache(tmp_path / "bundles", http)
        first, second = await asyncio.gather(cache.get(BUNDLE), cache.get(BUNDLE))
        assert first == second == tmp_path / "bundles" / SHA
        assert (first / "flows.py").read_text() == "x = 1\n"
        assert await cache.get(BUNDLE) == first
    assert calls == 1


async def test_bytes_that_do_not_match_fail_bundle_corrupt_and_are_not_kept(tmp_path):
    served = [_tar({"flows.py": b"evil = 1\n"})]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=served[0])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        cache = BundleCache(tmp_path / "bundles", http)
        with pytest.raises(TaskFailedError, match="dropped") as caught:
            await cache.get(BUNDLE)
        assert caught.value.code == "bundle_corrupt"
        assert list((tmp_path / "bundles").iterdir()) == []
        served[0] = GOOD  # the next task fetches again, and this time the bytes are right
        assert (await cache.get(BUNDLE)).is_dir()
        assert cache.fetches == 2


async def test_a_member_escaping_the_folder_is_refused(tmp_path):
    evil = _tar({"../escape.py": b"x"})
    bundle = BUNDLE.model_copy(
        update={"sha256": hashlib.sha256(evil).hexdigest(), "file_size": len(evil)}
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=evil)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(TaskFailedError) as caught:
            await BundleCache(tmp_path / "bundles", http).get(bundle)
    assert caught.value.code == "bundle_corrupt"
    assert not (tmp_path / "escape.py").exists()


class Link:
    def __init__(self) -> None:
        self.frames: list[TaskLog] = []

    async def send(self, frame: TaskLog) -> None:
        self.frames.append(frame)


async def test_the_log_is_bounded_by_rate_lines_and_bytes():
    link = Link()
    sender = LogSender(
        link,  # type: ignore[arg-type]
        "t",
        1,
        LogBudget(rate=0.0001, burst=10, max_lines=25, max_bytes=10_000),
        interval=0.01,
    )
    assert sender.room() == 10
    sender.lines("stdout", [f"line {i}" for i in range(10)])
    assert sender.room() == 0
    sender.dropped(5)
    await sender.close()
    assert [(f.dropped, [i.line for i in f.lines], f.truncated) for f in link.frames] == [
        (0, [f"line {i}" for i in range(10)], False),
        (5, [], False),  # the lines dropped after those ten
    ]

    link = Link()
    sender = LogSender(link, "t", 1, LogBudget(burst=100, max_lines=3), interval=0.01)  # type: ignore[arg-type]
    sender.lines("stderr", ["a", "b", "c", "d", "e"])
    sender.lines("stderr", ["f"])
    await sender.close()
    assert [i.line for f in link.frames for i in f.lines] == ["a", "b", "c"]
    assert link.frames[-1].truncated and sender.room() == 0


async def test_a_drop_keeps_its_place_between_the_lines_it_fell_between():
    link = Link()
    sender = LogSender(link, "t", 1, LogBudget(burst=100), interval=0.01)  # type: ignore[arg-type]
    sender.lines("stdout", ["first"])
    sender.dropped(7)
    sender.dropped(3)
    sender.lines("stdout", ["after the gap"])
    await sender.close()
    assert [(f.dropped, [i.line for i in f.lines]) for f in link.frames] == [
        (0, ["first"]),
        (10, ["after the gap"]),
    ]
