"""Server URL and key resolution, and the profile file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runyard_client import Profile, load_profile, save_profile
from runyard_client._config import delete_profile, key_kind, profile_path, resolve, same_server


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path), **values}


def test_profile_is_written_0600_under_xdg(tmp_path: Path) -> None:
    path = profile_path(env(tmp_path))
    assert path == tmp_path / "runyard" / "profile.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    os.chmod(path, 0o644)
    save_profile(Profile("http://h:1", "dk-secret", "team-1"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_profile(path) == Profile("http://h:1", "dk-secret", "team-1")


def test_default_location_is_home_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert profile_path({}) == tmp_path / ".config" / "runyard" / "profile.json"


def test_arguments_beat_environment_beat_profile(tmp_path: Path) -> None:
    save_profile(Profile("http://profile:1", "dk-p", "team-p"), profile_path(env(tmp_path)))
    e = env(tmp_path, RUNYARD_URL="http://env:2", RUNYARD_API_KEY="sk-env")
    by_args = resolve("http://arg:3", "sk-arg", env=e)
    assert (by_args.server_url, by_args.api_key) == ("http://arg:3", "sk-arg")
    by_env = resolve(env=e)
    assert (by_env.server_url, by_env.api_key, by_env.source) == (
        "http://env:2",
        "sk-env",
        "environment",
    )
    from_profile = resolve(env=env(tmp_path))
    assert (from_profile.server_url, from_profile.api_key, from_profile.team_id) == (
        "http://profile:1",
        "dk-p",
        "team-p",
    )


def test_a_profile_key_is_not_sent_to_another_server(tmp_path: Path) -> None:
    save_profile(Profile("http://profile:1", "dk-p"), profile_path(env(tmp_path)))
    other = resolve("http://elsewhere:9", env=env(tmp_path))
    assert other.api_key is None and other.server_url == "http://elsewhere:9"
    same = resolve("http://profile:1/", env=env(tmp_path))
    assert same.api_key == "dk-p"


def test_nothing_configured_gives_the_local_default(tmp_path: Path) -> None:
    resolved = resolve(env=env(tmp_path))
    assert resolved.server_url == "http://127.0.0.1:8000" and resolved.api_key is None


def test_a_broken_profile_says_so(tmp_path: Path) -> None:
    path = profile_path(env(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text("not json")
    with pytest.raises(ValueError, match="profile"):
        load_profile(path)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("sk-abc", "integration"),
        ("dk-abc", "device"),
        ("ak-abc", "agent"),
        ("eyJhbGciOi.x.y", "session"),
        (None, "none"),
    ],
)
def test_key_kind(key: str | None, kind: str) -> None:
    assert key_kind(key) == kind


def test_one_profile_per_server_the_last_login_first(tmp_path: Path) -> None:
    path = profile_path(env(tmp_path))
    save_profile(Profile("http://a:1", "dk-a", "ta", refresh_token="rt-a"), path)
    save_profile(Profile("http://b:2", "dk-b", "tb"), path)
    assert load_profile(path) == Profile("http://b:2", "dk-b", "tb")
    assert load_profile(path, "http://a:1/") == Profile(
        "http://a:1", "dk-a", "ta", None, None, "rt-a"
    )
    save_profile(Profile("http://a:1", "dk-a2", "ta"), path, current=False)  # replaces a's
    assert load_profile(path) == Profile("http://b:2", "dk-b", "tb")
    assert load_profile(path, "http://a:1") == Profile("http://a:1", "dk-a2", "ta")
    assert resolve("http://a:1", env=env(tmp_path)).api_key == "dk-a2"
    assert delete_profile(path, "http://b:2") and load_profile(path, "http://b:2") is None
    assert load_profile(path) == Profile("http://a:1", "dk-a2", "ta")


def test_a_key_alone_goes_to_the_saved_server(tmp_path: Path) -> None:
    save_profile(Profile("http://profile:1", "dk-p", "team-p"), profile_path(env(tmp_path)))
    given = resolve(api_key="sk-other", env=env(tmp_path))
    assert (given.server_url, given.api_key) == ("http://profile:1", "sk-other")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://127.0.0.1:8000", "http://localhost:8000/", True),
        ("HTTP://Example.com", "http://example.com:80", True),
        ("https://example.com", "https://example.com:443/", True),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001", False),
    ],
)
def test_the_same_server_written_either_way(a: str, b: str, same: bool) -> None:
    assert same_server(a, b) is same
