"""App settings: one YAML file in the user's config directory (MLGYM_TUI_CONFIG_DIR overrides it)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlgym_tui.config.runtime import RuntimeConfig


class ConfigError(Exception):
    """A config file is malformed: the message names the file, the field and what was expected."""


class AppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    runs_dir: str = "runs"
    task_dirs: list[str] = Field(default_factory=list)
    theme: str = "mlgym-dark"
    keymap: dict[str, str] = Field(default_factory=dict)  # binding id -> keys, e.g. {"pause": "ctrl+p"}


def config_dir() -> Path:
    if os.environ.get("MLGYM_TUI_CONFIG_DIR"):
        return Path(os.environ["MLGYM_TUI_CONFIG_DIR"])
    from platformdirs import user_config_dir

    return Path(user_config_dir("mlgym-tui"))


def settings_path() -> Path:
    return config_dir() / "settings.yaml"


def describe_validation_error(path: Path | str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{path}: field '{field}': {first['msg']}"


def load_yaml_mapping(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, found {type(data).__name__}")
    return data


def load_settings(path: Path | None = None) -> AppSettings:
    path = path or settings_path()
    if not path.exists():
        return AppSettings()
    try:
        return AppSettings.model_validate(load_yaml_mapping(path))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None
