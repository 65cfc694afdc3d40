"""Pure rules: key validation, served content types, lifecycle days."""

from __future__ import annotations

import pytest

from runyard.settings import RetentionSettings
from runyard.storage.base import attachment_disposition, check_key, safe_content_type
from runyard.storage.lifecycle import days, lifecycle_rules


@pytest.mark.parametrize(
    "key", ["inputs/t/u/photo.png", "outputs/t/k/1/0-résumé final.pdf", "a/.hidden", "a/b..c"]
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    check_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "../x",
        "a/../b",
        "a/./b",
        "a//b",
        "a/",
        ".tmp/x",
        ".multipart/x",
        "a\\b",
        "a/\x00b",
        "a/\nb",
        "x" * 256,
        "a/" * 600,
    ],
)
def test_keys_that_could_escape_or_collide_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("image/png", "image/png"),
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("text/html\r\nSet-Cookie: a=b", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_content_types_are_served_only_when_well_formed(declared: str, served: str) -> None:
    assert safe_content_type(declared) == served


def test_attachment_disposition_quotes_every_name() -> None:
    assert attachment_disposition('a "b";\r\n.png') == (
        "attachment; filename*=UTF-8''a%20%22b%22%3B%0D%0A.png"
    )


@pytest.mark.parametrize(("seconds", "expected"), [(1, 1), (86_400, 1), (86_401, 2), (0, 1)])
def test_lifecycle_days_round_up_to_at_least_one(seconds: int, expected: int) -> None:
    assert days(seconds) == expected


def test_lifecycle_rules_follow_the_retention_settings() -> None:
    rules = lifecycle_rules(RetentionSettings(inputs=86_400, outputs=7 * 86_400 + 1, multipart=60))

    assert [r["Filter"]["Prefix"] for r in rules] == ["inputs/", "outputs/", ""]
    assert rules[0]["Expiration"] == {"Days": 1}
    assert rules[1]["Expiration"] == {"Days": 8}
    assert rules[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
