from __future__ import annotations

import pytest

from runyard.db.base import new_id
from runyard.files.naming import accepts, normalise_content_type, output_key, safe_file_name


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("photo.png", "photo.png"),
        ("../../x.png", "x.png"),
        ("C:\\Users\\me\\cat.jpg", "cat.jpg"),
        ("a\nb\tc.txt", "abc.txt"),
        ("..hidden", "hidden"),
        ("x" * 300 + ".png", "x" * 146 + ".png"),
        ("<script>.html", "_script_.html"),
    ],
)
def test_safe_file_name(raw: str, safe: str) -> None:
    assert safe_file_name(raw) == safe


def test_output_key_has_attempt_and_index() -> None:
    assert output_key("t", "k", 2, 0, "../o.png") == "outputs/t/k/2/0-o.png"


@pytest.mark.parametrize(
    ("accept", "ct", "ok"),
    [
        (["image/*"], "image/png", True),
        (["image/*"], "text/plain", False),
        (["image/png"], "image/png", True),
        (None, "anything/x", True),
        (["*/*"], "a/b", True),
    ],
)
def test_accepts(accept: list[str] | None, ct: str, ok: bool) -> None:
    assert accepts(accept, ct) is ok


def test_content_types() -> None:
    assert normalise_content_type("Text/Plain; charset=utf-8") == "text/plain"
    assert normalise_content_type("image/*") is None
    assert normalise_content_type("nonsense") is None


def test_ids_are_time_ordered_uuids() -> None:
    ids = [new_id() for _ in range(200)]
    assert all(len(i) == 36 and i[14] == "7" for i in ids)
    assert len(set(ids)) == 200
