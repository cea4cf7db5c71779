"""docs/configuration.md is exactly what the generator makes from the Settings model now, so it
cannot drift; and the environment variable names it documents really set the settings."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

from paperbot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", ROOT / "scripts" / "gen_config_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_is_up_to_date() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text()
    assert written == generator().render(), (
        "docs/configuration.md is stale: run `python scripts/gen_config_reference.py`"
    )


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("# old\n")
    module = generator()
    assert module.main(["--check", "--output", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert module.main(["--output", str(stale)]) == 0
    assert module.main(["--check", "--output", str(stale)]) == 0


def leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += leaf_paths(annotation, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def documented_rows() -> dict[str, tuple[str, str]]:
    """environment variable -> (key, default) from the tables of the written file."""
    rows = {}
    row = re.compile(r"^\| `([^`]+)` \| `(PAPERBOT_[A-Z_]+)` \| [^|]+ \| (.+?) \| .*\|$")
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        found = row.match(line)
        if found:
            rows[found.group(2)] = (found.group(1), found.group(3))
    return rows


def test_every_setting_is_documented_once() -> None:
    rows = documented_rows()
    expected = {"PAPERBOT_" + "__".join(p.upper() for p in path) for path in leaf_paths(Settings)}
    assert set(rows) == expected


def test_each_documented_variable_sets_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set every variable that has a default to that default, as documented: all are accepted
    and land where the reference says."""
    defaults = Settings()
    for env, (_key, default) in documented_rows().items():
        if not default.startswith("`"):
            continue  # "not set": optional, nothing to write
        value = json.loads(default.strip("`"))
        text = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv(env, text)
    loaded = load_settings()
    assert loaded.model_dump() == defaults.model_dump()
    # And a changed value reaches the right field.
    monkeypatch.setenv("PAPERBOT_SOURCES__ARXIV__CATEGORIES", '["cs.RO"]')
    assert load_settings().sources.arxiv.categories == ["cs.RO"]
