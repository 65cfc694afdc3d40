"""docs/python.md as a test: its files written to an empty folder and its commands run as they
stand against a real `runyard dev` (server, SQLite, embedded store, local agent), their shown
output checked, down to the downloaded thumbnail."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from PIL import Image

from tests.acceptance.test_cli import client_env, runyard

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def _files(text: str) -> dict[str, str]:
    return dict(re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", text, re.S))


def _runs(text: str) -> list[tuple[str, list[str]]]:
    runs = []
    for block in re.findall(r"<!-- run -->\n```console\n(.*?)```", text, re.S):
        first, *shown = block.strip("\n").split("\n")
        assert first.startswith("$ runyard "), first
        runs.append((first[2:], shown))
    return runs


def test_your_first_python_workflow(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    text = DOC.read_text(encoding="utf-8")
    folder = tmp / "my-workflows"
    folder.mkdir()
    for name, source in _files(text).items():
        (folder / name).write_text(source, encoding="utf-8")
    Image.new("RGB", (640, 480), (30, 120, 200)).save(folder / "photo.png")
    env = client_env(tmp, RUNYARD_URL=creds["server_url"], RUNYARD_API_KEY=creds["device_key"])

    runs = _runs(text)
    assert [command.split()[1:3] for command, _ in runs] == [
        ["workflows", "test"],
        ["workflows", "deploy"],
        ["workflows", "deploy"],
        ["run", "thumbnail"],
        ["tasks", "logs"],
    ]
    task_id = ""
    for command, shown in runs:
        args = shlex.split(command.replace("TASK_ID", task_id))[1:]
        done = runyard(args, env, folder)
        said = done.stdout + done.stderr
        assert done.returncode == 0, f"{command}\n{said}"
        for line in shown:
            expected = line.split("…", 1)[0].strip()
            assert expected in said, f"{command}: {expected!r} not in\n{said}"
        if args[0] == "run":
            task_id = re.search(r"task (\S+) completed", said).group(1)  # type: ignore[union-attr]

    with Image.open(folder / "out" / "thumbnail.png") as result:
        assert (result.format, result.size) == ("PNG", (128, 96))
    with Image.open(folder / "preview" / "thumbnail.png") as preview:
        assert preview.size == (128, 96)
