"""Check before upload: the SDK and `runyard run` send a run's parameters to `…/validate`, with
local files declared, before any byte moves; a bad value is refused with nothing presigned and
the CLI says each error once."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard_client import InvalidParameters
from runyard_client.cli import register
from tests.integration.client.conftest import BASE, Live


def paths_sent(live: Live, since: int) -> list[str]:
    return [q.url.path for q in live.transport.requests[since:]]


def test_the_sdk_refuses_a_bad_value_before_uploading(live: Live, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG" + b"1" * 4096)
    with live.client() as client:
        before = len(live.transport.requests)
        with pytest.raises(InvalidParameters) as refused:
            client.run("img2img", {"input_image": photo, "strength": 7})
        assert [e["parameter"] for e in refused.value.errors] == ["strength"]
        assert paths_sent(live, before) == ["/api/v1/r/workflows/slug/img2img/validate"]
        before = len(live.transport.requests)
        task = client.run("img2img", {"input_image": photo, "strength": 0.5})
        sent = paths_sent(live, before)
        assert sent[0].endswith("/validate") and sent[1].endswith("/presign")
        assert sent[-1].endswith("/run") and task.id


async def test_the_async_sdk_checks_first_too(live: Live, tmp_path: Path) -> None:
    from runyard_client import AsyncClient

    photo = tmp_path / "notes.txt"
    photo.write_text("not an image")
    key = live.team.auth("integration")["Authorization"][7:]
    async with AsyncClient(BASE, key, use_profile=False, transport=_async(live)) as client:
        with pytest.raises(InvalidParameters) as refused:
            await client.run("img2img", {"input_image": photo})
    assert refused.value.errors[0]["error_code"] == "file_type_not_accepted"


def _async(live: Live) -> object:
    import httpx

    return httpx.ASGITransport(app=live.harness.app)


def test_the_cli_says_the_error_once_and_uploads_nothing(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG" + b"1" * 4096)
    key = live.team.auth("integration")["Authorization"][7:]
    before = len(live.transport.requests)
    r = CliRunner().invoke(
        app,
        ["run", "img2img", "-p", f"input_image=@{tmp_path / 'photo.png'}", "-p", "strength=7",
         "--server", BASE, "--api-key", key],
        obj={"transport": live.transport},
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert r.stderr.count("strength must be at most 1") == 1, r.stderr
    assert not any(p.endswith("/presign") for p in paths_sent(live, before))
