"""App settings: one YAML file in the user's config directory (MLGYM_TUI_CONFIG_DIR overrides it).

`get_settings()` is the one way in: the file at `settings_path()` read and validated once (again only when the
file changes), cached. Tests point it elsewhere with `use_settings(AppSettings(...) | path)` and back with
`use_settings(None)`. `python -m mlgym_tui.config.settings --write-readme README.md` regenerates the README's
settings table from the field docstrings below.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from mlgym_tui.config.paths import config_dir, settings_path
from mlgym_tui.config.runtime import RuntimeConfig

__all__ = ["NOTIFY_KINDS", "AppSettings", "ConfigError", "ExecutorConfig", "NotifyConfig", "NotifyKind", "config_dir", "get_settings", "read_settings", "runs_dir",
           "settings_path", "settings_table", "use_settings"]


class ConfigError(Exception):
    """A config file is malformed: the message names the file, the field and what was expected."""


class ExecutorConfig(BaseModel):
    """Where a batch's episodes run (`mlgym-tui run --tasks ...`); the --executor, --ray-address and --retries
    options override these."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    kind: Literal["local", "ray"] = "local"
    """local: every episode on this machine's engine; ray: each episode is a task on a Ray cluster (the `ray` extra)."""
    address: str = "auto"
    """The Ray cluster to join (ray executor): "auto" finds the one started on this machine, else HOST:PORT."""
    retries: int = Field(2, ge=0)
    """Times an episode ended by the infrastructure (its node lost, engine down, image missing) is run again."""


NotifyKind = Literal["awaiting_confirmation", "validation_improved", "episode_ended", "error"]
"""What a person can ask to be told about: a proposal waiting for approval (confirm mode), a validation better than
the best so far, the end of an episode, an error."""
NOTIFY_KINDS: tuple[NotifyKind, ...] = get_args(NotifyKind)


class NotifyConfig(BaseModel):
    """How a person is told that an episode needs them (mlgym_tui/episode/notify.py): a bell, a webhook, or both."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    on: list[NotifyKind] = Field(default_factory=lambda: list(NOTIFY_KINDS))
    """What to be told about (`[]`: nothing): a proposal awaiting approval, a new best validation, an episode's end,
    an error."""
    bell: bool = False
    """Ring the terminal bell (the TUI's, or a headless run's when its stderr is a terminal); at most once a second."""
    webhook: str | None = None
    """An http(s) URL each notification is POSTed to as JSON {kind, title, text, run_id, task_id, run_dir, time}."""

    @model_validator(mode="before")
    @classmethod
    def _bare_on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true; the person meant this field.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @field_validator("on", mode="before")
    @classmethod
    def _known_kinds(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for kind in value:
                if kind not in NOTIFY_KINDS:
                    raise PydanticCustomError("notify_kind", "unknown notification kind {kind}; use any of: {known}",
                                              {"kind": repr(kind), "known": ", ".join(NOTIFY_KINDS)})
        return value

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError("notify_webhook", "webhook must be an http(s) URL such as "
                                      "https://example.org/hook, got {url}", {"url": repr(value)})
        return value.strip()


class AppSettings(BaseModel):
    """Everything settings.yaml may hold; a key it does not know is an error naming the key."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    """Container engine, task image and the limits every container gets (the `runtime.*` rows)."""
    runs_dir: str = "runs"
    """Folder run directories are written to and past runs read from (`~` expanded); `--runs-dir` overrides it."""
    task_dirs: list[str] = Field(default_factory=list)
    """More task folders or task files; a task there replaces a bundled one of the same id."""
    theme: str = "mlgym-dark"
    """TUI theme by name: bundled (mlgym-dark, mlgym-light), Textual's own, or a YAML file in `<config dir>/themes/`."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. `{pause: ctrl+p}`; the help screen (F1) lists every id."""
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    """Where batch runs execute: this machine or a Ray cluster (the `executor.*` rows)."""
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    """How a person is told an episode needs them: a bell, a webhook (the `notify.*` rows); silent until one is set."""


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


def read_settings(path: Path) -> AppSettings:
    """One settings file read and validated (no cache); a missing file is the defaults."""
    if not path.exists():
        return AppSettings()
    try:
        return AppSettings.model_validate(load_yaml_mapping(path))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None


_lock = threading.Lock()
_override: AppSettings | Path | None = None
_cached: tuple[tuple, AppSettings] | None = None


def _stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def get_settings() -> AppSettings:
    """The settings, read once and cached (read again only when the file, or the path, changes).

    Raises ConfigError naming the file, the field and what was expected."""
    global _cached
    if isinstance(_override, AppSettings):
        return _override
    path = _override if _override is not None else settings_path()
    stamp = _stamp(path)
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
        loaded = read_settings(path)
        _cached = (stamp, loaded)
        return loaded


def use_settings(value: AppSettings | Path | str | None) -> None:
    """Point `get_settings` at a settings object or another file (tests); None goes back to `settings_path()`."""
    global _override, _cached
    with _lock:
        _override = Path(value) if isinstance(value, str) else value
        _cached = None


def runs_dir(override: str | Path | None = None) -> Path:
    """Where runs go: the override (a --runs-dir) if given, else the settings' runs_dir; `~` expanded."""
    return Path(override or get_settings().runs_dir).expanduser()


# ------------------------------------------------------------------ the README's table, from the field docstrings

def _kind(annotation: Any) -> str:
    """A field's type as a person reads it: 'auto | docker', 'string or null', 'list of string'."""
    import types
    import typing

    names = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in args)
    if origin is list:
        return f"list of {_kind(args[0])}"
    if origin is dict:
        return f"mapping {_kind(args[0])} -> {_kind(args[1])}"
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.append((key, "mapping", "", field.description or ""))
            rows += _rows(annotation, key + ".")
            continue
        default = yaml.safe_dump(field.get_default(call_default_factory=True), default_flow_style=True)
        rows.append((key, _kind(annotation), default.removesuffix("\n").removesuffix("\n...").strip(),
                     field.description or ""))
    return rows


def settings_table() -> str:
    """The settings as a Markdown table: key, type, default and what it does (the field docstrings)."""
    lines = ["| key | type | default | what it does |", "|---|---|---|---|"]
    for key, kind, default, doc in _rows(AppSettings):
        cells = [f"`{key}`", kind.replace("|", "\\|"), f"`{default}`" if default else "",
                 " ".join(doc.split()).replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


README_START = "<!-- settings-table: generated by `python -m mlgym_tui.config.settings --write-readme README.md` -->"
README_END = "<!-- /settings-table -->"


def readme_with_table(text: str) -> str:
    """README text with the block between the markers replaced by `settings_table()`."""
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    return text[:start] + "\n" + settings_table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="print the settings table, or write it into a README")
    parser.add_argument("--write-readme", metavar="README", default=None)
    args = parser.parse_args(argv)
    if args.write_readme:
        path = Path(args.write_readme)
        path.write_text(readme_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_table(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
