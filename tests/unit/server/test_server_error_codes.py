"""The error-code registry against the contract and the code that answers with it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from runyard.error_codes import ERROR_CODES

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT.parent / "shared" / "spec" / "CONTRACT.md"


def _contract_codes() -> set[str]:
    text = CONTRACT.read_text()
    named = text[text.index("Codes named so far") :]
    named = named[: named.index(".\n")]
    return set(re.findall(r"`([a-z_]+)`", named))


def test_every_code_the_contract_names_is_registered() -> None:
    if not CONTRACT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CONTRACT} is expected beside the repo in CI")
        pytest.skip(f"{CONTRACT} is not beside this clone (CI always has it)")
    named = _contract_codes()
    assert len(named) >= 18
    assert named <= ERROR_CODES, sorted(named - ERROR_CODES)


def test_every_registered_code_is_answered_somewhere() -> None:
    sources = "\n".join(
        p.read_text()
        for p in (ROOT / "src" / "runyard").rglob("*.py")
        if p.name != "error_codes.py"
    )
    unused = sorted(c for c in ERROR_CODES if f'"{c}"' not in sources)
    assert not unused, f"registered but never answered: {unused}"


def test_the_drifted_spellings_are_gone() -> None:
    assert "invalid_credential" not in ERROR_CODES and "invalid_credentials" in ERROR_CODES
    assert "invalid_part_number" not in ERROR_CODES and "invalid_part_numbers" in ERROR_CODES
