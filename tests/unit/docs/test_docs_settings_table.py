"""docs/operating.md carries the settings table that scripts/settings_table.py generates from
runyard.settings; a setting added, renamed or redescribed in code must be regenerated there
(`.venv/bin/python scripts/settings_table.py --write`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "settings_table.py"
OPERATING_MD = ROOT / "docs" / "operating.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runyard_docs_settings_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_operating_md_settings_table_matches_the_settings_classes() -> None:
    script = _script()
    documented = script.table_in(OPERATING_MD.read_text(encoding="utf-8"))
    assert documented == script.render(), (
        "docs/operating.md's settings table is out of date: run "
        "`.venv/bin/python scripts/settings_table.py --write`"
    )


def test_every_setting_has_a_row_with_a_description() -> None:
    from pydantic_settings import BaseSettings

    script = _script()
    rows = script.rows()
    names = {env.strip("`") for env, _, _, _ in rows}
    for cls in script.settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            nested = isinstance(field.annotation, type) and issubclass(
                field.annotation, BaseSettings
            )
            if not nested:
                assert f"{prefix}{name.upper()}" in names
    assert all(text for _, _, _, text in rows), "a setting has no description"


def test_client_variables_do_not_collide_with_server_settings() -> None:
    names = {env.strip("`") for env, _, _, _ in _script().rows()}
    assert not names & {"RUNYARD_URL", "RUNYARD_API_KEY", "RUNYARD_AGENT_KEY"}
