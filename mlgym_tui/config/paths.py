"""Where the user's configuration lives: the one place that knows the settings file's path.

Kept free of pydantic and yaml so that the TUI can ask whether a settings file exists before its first paint
without paying for the settings model.
"""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """The user's config folder: $MLGYM_TUI_CONFIG_DIR, else the platform's (~/.config/mlgym-tui on Linux)."""
    if os.environ.get("MLGYM_TUI_CONFIG_DIR"):
        return Path(os.environ["MLGYM_TUI_CONFIG_DIR"])
    from platformdirs import user_config_dir

    return Path(user_config_dir("mlgym-tui"))


def settings_path() -> Path:
    """The settings file; every reader of the settings goes through `mlgym_tui.config.settings.get_settings`."""
    return config_dir() / "settings.yaml"
