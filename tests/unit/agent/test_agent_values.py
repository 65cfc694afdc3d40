"""Non-file output values are bounded on the wire."""

from __future__ import annotations

import json

from runyard_protocol import MAX_VALUES_BYTES, bounded_values


def test_small_values_pass_unchanged() -> None:
    values = {"4.text.0": "a caption", "n": 3}
    assert bounded_values(values) is values


def test_oversized_values_are_cut_to_fit() -> None:
    values = {"a": "x" * MAX_VALUES_BYTES, "b": "short", "c": {"nested": "y" * 100_000}}
    cut = bounded_values(values)
    assert len(json.dumps(cut).encode()) <= MAX_VALUES_BYTES
    assert cut["b"] == "short"
    assert cut["a"].endswith("…") and cut["c"].endswith("…")
