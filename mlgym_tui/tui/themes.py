"""Themes as YAML files, registered through Textual's Theme API.

Bundled themes live in the repository's top-level `themes/` folder; a user's own themes go in
`<config dir>/themes/`. A file that fails to load becomes a one-line problem (shown as a notification),
never a crash.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from textual.theme import Theme

BUNDLED_THEMES = Path(__file__).resolve().parents[2] / "themes"
DEFAULT_THEME = "mlgym-dark"
_FIELDS = {f.name for f in dataclasses.fields(Theme)}


def user_theme_dir() -> Path:
    from mlgym_tui.config.paths import config_dir

    return config_dir() / "themes"


def load_theme_file(path: Path) -> Theme:
    """One theme; raises ValueError naming the file and the field when it is malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with at least 'name' and 'primary'")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown field '{unknown[0]}' (expected one of {', '.join(sorted(_FIELDS))})")
    for required in ("name", "primary"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ValueError(f"{path}: field '{required}' is required and must be a string")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{path}: field 'variables' must be a mapping of CSS variable -> value")
    data["variables"] = {str(k): str(v) for k, v in variables.items()}
    from textual.color import Color, ColorParseError

    for name in ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
                 "background", "surface", "panel", "boost"):
        value = data.get(name)
        if value is None:
            continue
        try:
            Color.parse(str(value))
        except ColorParseError:
            raise ValueError(f"{path}: field '{name}': {value!r} is not a colour") from None
    try:
        theme = Theme(**data)
        theme.to_color_system()  # surfaces any remaining bad value now rather than at paint time
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad file
        raise ValueError(f"{path}: {exc}") from None
    return theme


def discover_themes(folders: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Themes from the bundled folder, then the user folder (a user theme replaces a bundled one of the same name)."""
    folders = folders if folders is not None else [BUNDLED_THEMES, user_theme_dir()]
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.y*ml")):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
