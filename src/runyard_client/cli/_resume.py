"""Where ``runyard models upload`` notes a multipart upload it began, so that the same command
run again (after a kill, a lost connection, a reboot) resumes it instead of sending the file
again: ``$XDG_CONFIG_HOME/runyard/uploads.json`` maps a file (its absolute path, size and
modification time) to its upload_id, forgotten once the upload completes."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from runyard_client._config import config_dir


def _key(file: Path, server_url: str) -> str:
    st = file.stat()
    return f"{server_url}|{file.resolve()}|{st.st_size}|{st.st_mtime_ns}"


class ResumeBook:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "uploads.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def get(self, file: Path, server_url: str) -> str | None:
        value = self._read().get(_key(file, server_url))
        return value if isinstance(value, str) else None

    def note(self, file: Path, server_url: str, upload_id: str) -> None:
        data = self._read()
        data[_key(file, server_url)] = upload_id
        self._write(data)

    def forget(self, file: Path, server_url: str) -> None:
        data = self._read()
        with contextlib.suppress(OSError):
            if data.pop(_key(file, server_url), None) is not None:
                self._write(data)
