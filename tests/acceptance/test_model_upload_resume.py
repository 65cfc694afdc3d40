"""A large model upload from the CLI, killed mid-upload and run again: the second run resumes the
multipart upload the first one began (it noted the upload_id before sending any part), sends
only the parts the store does not hold, and registers the model with the file's sha256.

The size is ``RUNYARD_RESUME_TEST_MIB`` (default 1024: 1 GiB, 11 parts of 100 MiB); the time it
takes goes in the notes, not in an assertion."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until

MIB = 1024 * 1024
SIZE = int(os.environ.get("RUNYARD_RESUME_TEST_MIB", "1024")) * MIB


def _big_file(path: Path) -> str:
    """SIZE bytes that do not compress, written in 16 MiB blocks; their sha256."""
    digest = hashlib.sha256()
    block = os.urandom(16 * MIB)
    with path.open("wb") as out:
        for i in range(SIZE // len(block)):
            chunk = block[:8] + i.to_bytes(8, "big") + block[16:]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def test_a_killed_cli_model_upload_resumes_without_resending_stored_parts(stack: Stack) -> None:
    model = stack.logs / "big.safetensors"
    sha = _big_file(model)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        HOME=str(stack.logs),
        XDG_CONFIG_HOME=str(stack.logs / "config"),
        RUNYARD_URL=stack.url,
        RUNYARD_API_KEY=stack.team.device_key,
        COLUMNS="200",  # one line per message
    )
    argv = [sys.executable, "-m", "runyard", "models", "upload", str(model), "--type"]
    argv += ["checkpoints", "--path", "big/model.safetensors", "--json"]
    first_log = stack.logs / "upload-1.err"
    with first_log.open("w") as errors:
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        found = wait_until(
            lambda: re.search(r"multipart upload (\S+) \((\d+) parts\)", first_log.read_text()),
            120,
        )
        assert isinstance(found, re.Match)
        upload_id, part_count = found.group(1), int(found.group(2))
        status_url = f"{stack.url}/api/v1/models/multipart/{upload_id}"
        headers = stack.headers(stack.team.device_key)

        def stored() -> int:
            return len(httpx.get(status_url, headers=headers, timeout=10).json()["parts_received"])

        wait_until(lambda: stored() >= 2, 120, 0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    held = stored()
    assert 2 <= held < part_count, (held, part_count)

    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    said = re.search(r"resuming multipart upload (\S+): (\d+) of (\d+) parts", second.stderr)
    assert said is not None, second.stderr
    # A part whose bytes had all arrived when the CLI died may be stored a moment later: the
    # second run skips at least the parts stored when it was killed.
    assert (said.group(1), int(said.group(3))) == (upload_id, part_count)
    assert held <= int(said.group(2)) < part_count, (held, said.group(0))
    row = json.loads(second.stdout)
    assert (row["sha256"], row["file_size"], row["model_path"]) == (
        sha,
        SIZE,
        "big/model.safetensors",
    )
    # Done: the note is gone, a third run finds the bytes stored (nothing to send).
    assert json.loads((stack.logs / "config" / "runyard" / "uploads.json").read_text()) == {}
    model.unlink()
