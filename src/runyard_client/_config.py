"""Where the SDK finds its server and key: explicit arguments, then the environment
(``RUNYARD_URL``, ``RUNYARD_API_KEY``), then the profile that ``runyard login`` writes at
``$XDG_CONFIG_HOME/runyard/profile.json`` (default ``~/.config/runyard/profile.json``, mode 0600).

Nothing is read at import time; every lookup happens when a client is built.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
ENV_URL = "RUNYARD_URL"
ENV_KEY = "RUNYARD_API_KEY"


@dataclass(frozen=True)
class Profile:
    """What ``runyard login`` saves."""

    server_url: str
    api_key: str
    team_id: str | None = None
    email_address: str | None = None
    #: The companion agent key of ``runyard login --device --with-agent-key``.
    agent_key: str | None = None


@dataclass(frozen=True)
class Resolved:
    server_url: str
    api_key: str | None
    team_id: str | None
    source: str  # "arguments", "environment", "profile" or "default": said in error hints


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "runyard"


def profile_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "profile.json"


def load_profile(path: Path | None = None) -> Profile | None:
    path = path or profile_path()
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the profile {path}: {exc}") from exc
    if not isinstance(raw, dict) or not raw.get("server_url") or not raw.get("api_key"):
        raise ValueError(f"the profile {path} is incomplete; run `runyard login` again")
    return Profile(
        server_url=str(raw["server_url"]),
        api_key=str(raw["api_key"]),
        team_id=raw.get("team_id") or None,
        email_address=raw.get("email_address") or None,
        agent_key=raw.get("agent_key") or None,
    )


def save_profile(profile: Profile, path: Path | None = None) -> Path:
    """Write the profile readable by its owner only (the key is a secret): the file is created
    0600 before any byte is written, and an existing file is tightened too."""
    path = path or profile_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {
        "server_url": profile.server_url,
        "api_key": profile.api_key,
        "team_id": profile.team_id,
        "email_address": profile.email_address,
    }
    if profile.agent_key:
        body["agent_key"] = profile.agent_key
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2)
            fh.write("\n")
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.replace(tmp, path)
    return path


def delete_profile(path: Path | None = None) -> bool:
    path = path or profile_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def resolve(
    server_url: str | None = None,
    api_key: str | None = None,
    team_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    use_profile: bool = True,
) -> Resolved:
    """Arguments win, then the environment, then the profile (whose URL is used only with its own
    key, so a key is never sent to a server it was not minted by)."""
    env = os.environ if env is None else env
    url = server_url or env.get(ENV_URL) or None
    key = api_key or env.get(ENV_KEY) or None
    source = "arguments" if (server_url or api_key) else "environment"
    if key is None and use_profile:
        profile = load_profile(profile_path(env))
        if profile is not None and (url is None or _same(url, profile.server_url)):
            return Resolved(
                profile.server_url, profile.api_key, team_id or profile.team_id, "profile"
            )
    if url is None:
        return Resolved(DEFAULT_URL, key, team_id, "default" if key is None else source)
    return Resolved(url, key, team_id, source)


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def key_kind(api_key: str | None) -> str:
    """``integration`` (sk-), ``device`` (dk-), ``agent`` (ak-), ``session`` or ``none``."""
    if not api_key:
        return "none"
    prefixes = {"sk-": "integration", "dk-": "device", "ak-": "agent"}
    return prefixes.get(api_key[:3], "session")
