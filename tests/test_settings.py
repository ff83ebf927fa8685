"""One settings object: read once through get_settings, every field documented where it is declared, and the
README's table generated from those docstrings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

import mlgym_tui
from mlgym_tui.config import settings as settings_module
from mlgym_tui.config.paths import settings_path
from mlgym_tui.config.runtime import RuntimeConfig, ShellLimits
from mlgym_tui.config.settings import AppSettings, ConfigError, get_settings, runs_dir, settings_table, use_settings

PACKAGE = Path(mlgym_tui.__file__).resolve().parent
README = PACKAGE.parent / "README.md"


@pytest.fixture(autouse=True)
def _fresh_settings():
    use_settings(None)
    yield
    use_settings(None)


def models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += models(field.annotation)
    return found


def test_every_settings_field_has_a_docstring():
    assert {AppSettings, RuntimeConfig, ShellLimits} <= set(models(AppSettings))
    missing = [f"{m.__name__}.{name}" for m in models(AppSettings) for name, f in m.model_fields.items()
               if not (f.description or "").strip()]
    assert not missing, f"settings fields without a docstring: {missing}"


def test_readme_table_matches_the_model():
    text = README.read_text(encoding="utf-8")
    assert settings_module.README_START in text and settings_module.README_END in text
    assert settings_module.readme_with_table(text) == text, (
        "README's settings table is out of date: python -m mlgym_tui.config.settings --write-readme README.md")
    for model in models(AppSettings):
        for name in model.model_fields:
            assert f"{name}`" in settings_table()


def test_settings_are_read_once_and_again_when_the_file_changes():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    assert get_settings() == AppSettings()  # no file: the defaults
    path.write_text(yaml.safe_dump({"runs_dir": "~/somewhere", "runtime": {"engine": "podman"}}))
    first = get_settings()
    assert first.runtime.engine == "podman" and get_settings() is first
    assert runs_dir() == Path("~/somewhere").expanduser() and runs_dir("elsewhere") == Path("elsewhere")
    path.write_text(yaml.safe_dump({"runs_dir": "other", "theme": "mlgym-light"}))
    assert get_settings().runs_dir == "other"


def test_errors_name_the_file_and_the_field(tmp_path):
    bad = tmp_path / "settings.yaml"
    bad.write_text(yaml.safe_dump({"runtime": {"cpus": -1}}))
    use_settings(bad)
    with pytest.raises(ConfigError, match=r"settings\.yaml: field 'runtime\.cpus'"):
        get_settings()
    bad.write_text("runs_dir: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        get_settings()
    bad.write_text(yaml.safe_dump({"colour": "blue"}))
    with pytest.raises(ConfigError, match="colour"):
        get_settings()


def test_tests_can_point_the_settings_elsewhere(tmp_path):
    use_settings(AppSettings(runs_dir=str(tmp_path)))
    assert runs_dir() == tmp_path
    other = tmp_path / "s.yaml"
    other.write_text(yaml.safe_dump({"task_dirs": ["x"]}))
    use_settings(other)
    assert get_settings().task_dirs == ["x"]
    use_settings(None)
    assert get_settings().task_dirs == []


def test_the_tui_default_theme_is_the_settings_default():
    from mlgym_tui.tui.themes import DEFAULT_THEME

    assert AppSettings().theme == DEFAULT_THEME


def test_only_config_knows_the_settings_file():
    """No module reads settings.yaml itself: the file name appears in code only in config/paths.py."""
    holders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "settings.yaml":
                holders.append(str(path.relative_to(PACKAGE)))
    assert holders == ["config/paths.py"]
