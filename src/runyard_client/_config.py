"""Where the SDK finds its server and key: explicit arguments, then the environment
(``RUNYARD_URL``, ``RUNYARD_API_KEY``), then the profile that ``runyard login`` writes at
``$XDG_CONFIG_HOME/runyard/profile.json`` (default ``~/.config/runyard/profile.json``, mode 0600).

The file holds one profile per server: the last one logged in to at the top level, the others
under ``"servers"``. ``--server X`` alone picks the profile saved for X; a key given alone
(``--api-key``, ``RUNYARD_API_KEY``) goes to the current profile's server.

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
from urllib.parse import urlsplit

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
    #: The login's refresh token (password login): management commands that need a user
    #: session (credentials, webhooks) mint a short one from it, and save the rotated token.
    refresh_token: str | None = None


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


def _profile_of(raw: Any, path: Path) -> Profile:
    if not isinstance(raw, dict) or not raw.get("server_url") or not raw.get("api_key"):
        raise ValueError(f"the profile {path} is incomplete; run `runyard login` again")
    return Profile(
        server_url=str(raw["server_url"]),
        api_key=str(raw["api_key"]),
        team_id=raw.get("team_id") or None,
        email_address=raw.get("email_address") or None,
        agent_key=raw.get("agent_key") or None,
        refresh_token=raw.get("refresh_token") or None,
    )


def load_profiles(path: Path | None = None) -> list[Profile]:
    """Every saved profile, the current one (the last login) first."""
    path = path or profile_path()
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the profile {path}: {exc}") from exc
    others = raw.get("servers") if isinstance(raw, dict) else None
    return [_profile_of(raw, path)] + [_profile_of(o, path) for o in others or []]


def load_profile(path: Path | None = None, server_url: str | None = None) -> Profile | None:
    """The current profile, or with ``server_url`` the one saved for that server."""
    for profile in load_profiles(path):
        if server_url is None or same_server(server_url, profile.server_url):
            return profile
    return None


def _body(profile: Profile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server_url": profile.server_url,
        "api_key": profile.api_key,
        "team_id": profile.team_id,
        "email_address": profile.email_address,
    }
    if profile.agent_key:
        body["agent_key"] = profile.agent_key
    if profile.refresh_token:
        body["refresh_token"] = profile.refresh_token
    return body


def save_profile(profile: Profile, path: Path | None = None, *, current: bool = True) -> Path:
    """Write the profile readable by its owner only (the key is a secret): the file is created
    0600 before any byte is written, and an existing file is tightened too. It replaces the
    profile of the same server; with ``current`` it becomes the one used by default."""
    path = path or profile_path()
    try:
        kept = load_profiles(path)
    except ValueError:
        kept = []  # an unreadable file is replaced by this login
    was_current = not kept or same_server(kept[0].server_url, profile.server_url)
    others = [p for p in kept if not same_server(p.server_url, profile.server_url)]
    ordered = [profile, *others] if current or was_current else [others[0], profile, *others[1:]]
    return _write(path, ordered)


def _write(path: Path, ordered: list[Profile]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = _body(ordered[0])
    if ordered[1:]:
        body["servers"] = [_body(p) for p in ordered[1:]]
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


def delete_profile(path: Path | None = None, server_url: str | None = None) -> bool:
    """Forget every profile, or with ``server_url`` only that server's."""
    path = path or profile_path()
    if server_url is not None:
        kept = load_profiles(path)
        others = [p for p in kept if not same_server(p.server_url, server_url)]
        if len(others) == len(kept):
            return False
        if others:
            _write(path, others)
            return True
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
    """Arguments win, then the environment, then the profiles. A server given alone picks the
    profile saved for it (a profile's key is never sent to another server); a key given alone
    goes to the current profile's server (else the local default)."""
    env = os.environ if env is None else env
    url = server_url or env.get(ENV_URL) or None
    key = api_key or env.get(ENV_KEY) or None
    source = "arguments" if (server_url or api_key) else "environment"
    profile = None
    if use_profile:
        try:
            profile = load_profile(profile_path(env), url)
        except ValueError:
            if key is None:
                raise  # the profile was needed: say it is broken
    if key is None and profile is not None:
        return Resolved(profile.server_url, profile.api_key, team_id or profile.team_id, "profile")
    if url is None and profile is not None:
        return Resolved(profile.server_url, key, team_id or profile.team_id, source)
    if url is None:
        return Resolved(DEFAULT_URL, key, team_id, "default" if key is None else source)
    return Resolved(url, key, team_id, source)


_LOOPBACK = {"localhost": "127.0.0.1", "[::1]": "127.0.0.1"}


def same_server(a: str, b: str) -> bool:
    """The same server, written either way (a trailing slash, letter case, ``localhost`` for
    ``127.0.0.1``, an explicit default port)."""
    return _canonical(a) == _canonical(b)


def _canonical(url: str) -> str:
    parts = urlsplit(url.strip().rstrip("/"))
    host = (parts.hostname or "").lower()
    host = _LOOPBACK.get(host, _LOOPBACK.get(f"[{host}]", host))
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return url.strip().rstrip("/")
    return f"{scheme}://{host}:{port}{parts.path}"


def key_kind(api_key: str | None) -> str:
    """``integration`` (sk-), ``device`` (dk-), ``agent`` (ak-), ``session`` or ``none``."""
    if not api_key:
        return "none"
    prefixes = {"sk-": "integration", "dk-": "device", "ak-": "agent"}
    return prefixes.get(api_key[:3], "session")
