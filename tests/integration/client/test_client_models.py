"""``client.upload_model`` / ``client.models`` and ``runyard models …`` against the real app:
sha256 computed locally, the same bytes sent once, multipart (and its resume) with a ``dk-`` key,
list, disable, rm."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard_client import PermissionDeniedError
from runyard_client._uploads import Source, initiate_call, model_route
from runyard_client.cli import register
from tests.integration.client.conftest import BASE, Live


def test_sdk_upload_model_sends_the_same_bytes_once(live: Live, tmp_path: Path) -> None:
    lora = tmp_path / "tweaker.safetensors"
    data = os.urandom(4096)
    lora.write_bytes(data)
    sent: list[int] = []
    with live.client("device") as client:
        first = client.upload_model(lora, "loras", "detail/tweaker.safetensors")
        again = client.upload_model(
            lora, "loras", "copy.safetensors", progress=lambda n, total: sent.append(n)
        )
        listed = client.models.list()
        client.models.disable(first.id)
        active = client.models.list(model_status="active")
        client.models.delete(again.id)
    assert first.sha256 == hashlib.sha256(data).hexdigest() == again.sha256
    assert (first.model_type, first.model_path, first.file_size) == (
        "loras",
        "detail/tweaker.safetensors",
        4096,
    )
    assert sent == [4096]  # reported as done at once: nothing was sent again
    assert {m.id for m in listed.items} == {first.id, again.id}
    assert [m.id for m in active.items] == [again.id]
    with live.client("integration") as client, pytest.raises(PermissionDeniedError):
        client.upload_model(lora, "loras")  # sk- keys read the library, never write it


def test_a_large_model_goes_in_parts_and_resumes(live: Live, tmp_path: Path) -> None:
    big = tmp_path / "big.safetensors"
    data = os.urandom(3000)
    big.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    with live.client("device", single_upload_limit=1000) as client:
        # an upload started and left (the CLI killed): resumed by its id
        src = Source(big, len(data), big.name, "application/octet-stream")
        started = client._executor.execute(initiate_call(src, model_route(sha)))
        row = client.upload_model(big, "checkpoints", resume_upload_id=started.upload_id)
    assert (row.model_type, row.model_path, row.sha256) == ("checkpoints", big.name, sha)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RUNYARD_URL", raising=False)
    monkeypatch.delenv("RUNYARD_API_KEY", raising=False)
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return app


def invoke(cli: typer.Typer, live: Live, *args: str, key: str = "device") -> object:
    extra = ["--server", BASE, "--api-key", live.team.auth(key)["Authorization"][7:]]
    return CliRunner().invoke(cli, [*args, *extra], obj={"transport": live.transport})


def test_cli_models_upload_list_disable_rm(cli: typer.Typer, live: Live, tmp_path: Path) -> None:
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(os.urandom(2048))
    r = invoke(cli, live, "models", "upload", str(lora), "--type", "loras", "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    created = json.loads(r.stdout)  # type: ignore[attr-defined]
    assert created["model_path"] == "style.safetensors"
    assert created["sha256"] == hashlib.sha256(lora.read_bytes()).hexdigest()
    listed = invoke(cli, live, "models", "list", "--json", key="integration")
    rows = json.loads(listed.stdout)["items"]  # type: ignore[attr-defined]
    assert [m["model_path"] for m in rows] == ["style.safetensors"]
    table = invoke(cli, live, "models", "list", key="integration")
    assert table.exit_code == 0 and "1 in all" in table.stdout  # type: ignore[attr-defined]
    disabled = invoke(cli, live, "models", "disable", created["id"])
    assert disabled.exit_code == 0 and "disabled" in disabled.stdout  # type: ignore[attr-defined]
    removed = invoke(cli, live, "models", "rm", created["id"])
    assert removed.exit_code == 0  # type: ignore[attr-defined]
    gone = invoke(cli, live, "models", "disable", created["id"])
    assert gone.exit_code != 0 and "model_not_found" in gone.output  # type: ignore[attr-defined]
    bad = invoke(cli, live, "models", "upload", str(lora), "--type", "loras", "--path", "../x")
    assert bad.exit_code != 0 and "../x" in bad.output  # type: ignore[attr-defined]


def test_cli_nodes_upload_list_disable_enable_rm(
    cli: typer.Typer, live: Live, tmp_path: Path
) -> None:
    import io
    import tarfile

    folder = tmp_path / "cli_nodes"
    (folder / "lib").mkdir(parents=True)
    (folder / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    (folder / "lib" / "util.py").write_text("X = 1\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    r = invoke(cli, live, "nodes", "upload", str(folder), "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    created = json.loads(r.stdout)  # type: ignore[attr-defined]
    assert (created["name"], created["file_count"]) == ("cli_nodes", 2)  # .git left out
    # the same folder packs to the same bytes: registering it again is a name conflict
    again = invoke(cli, live, "nodes", "upload", str(folder))
    assert again.exit_code != 0 and "node_package_exists" in again.output  # type: ignore[attr-defined]
    renamed = invoke(cli, live, "nodes", "upload", str(folder), "--name", "cli_nodes_2", "--json")
    assert json.loads(renamed.stdout)["sha256"] == created["sha256"]  # type: ignore[attr-defined]
    listed = invoke(cli, live, "nodes", "list", "--json", key="integration")
    rows = json.loads(listed.stdout)["items"]  # type: ignore[attr-defined]
    assert [p["name"] for p in rows] == ["cli_nodes", "cli_nodes_2"]
    table = invoke(cli, live, "nodes", "list", key="integration")
    assert table.exit_code == 0 and "2 in all" in table.stdout  # type: ignore[attr-defined]
    disabled = invoke(cli, live, "nodes", "disable", created["id"])
    assert disabled.exit_code == 0 and "disabled" in disabled.stdout  # type: ignore[attr-defined]
    enabled = invoke(cli, live, "nodes", "enable", created["id"])
    assert enabled.exit_code == 0 and "active" in enabled.stdout  # type: ignore[attr-defined]
    removed = invoke(cli, live, "nodes", "rm", created["id"])
    assert removed.exit_code == 0  # type: ignore[attr-defined]
    gone = invoke(cli, live, "nodes", "disable", created["id"])
    assert gone.exit_code != 0 and "node_package_not_found" in gone.output  # type: ignore[attr-defined]
    # an archive with a way out: refused, naming the entry
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        for name in ("evil/__init__.py", "evil/../../outside.py"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    bad = invoke(cli, live, "nodes", "upload", str(evil))
    assert bad.exit_code != 0 and "evil/../../outside.py" in bad.output  # type: ignore[attr-defined]
    # a folder ComfyUI would not load
    empty = tmp_path / "no_init"
    empty.mkdir()
    (empty / "x.py").write_text("")
    refused = invoke(cli, live, "nodes", "upload", str(empty))
    assert refused.exit_code != 0 and "__init__.py" in refused.output  # type: ignore[attr-defined]


def test_cli_models_upload_with_a_stale_note_starts_afresh(
    cli: typer.Typer, live: Live, tmp_path: Path
) -> None:
    from runyard_client.cli._resume import ResumeBook

    lora = tmp_path / "noted.safetensors"
    lora.write_bytes(os.urandom(4096))
    book = ResumeBook()
    assert book.path == tmp_path / "config" / "runyard" / "uploads.json"
    book.note(lora, BASE, "0" * 32)  # an upload the server does not know (aborted, expired)
    r = invoke(cli, live, "models", "upload", str(lora), "--type", "loras", "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert json.loads(r.stdout)["sha256"] == hashlib.sha256(lora.read_bytes()).hexdigest()  # type: ignore[attr-defined]
    assert book.get(lora, BASE) is None
    # --resume names one explicitly: a wrong one is an error, not a silent new upload
    other = tmp_path / "other.safetensors"
    other.write_bytes(os.urandom(4096))
    wrong = invoke(
        cli, live, "models", "upload", str(other), "--type", "loras", "--resume", "0" * 32
    )
    assert wrong.exit_code != 0  # type: ignore[attr-defined]
