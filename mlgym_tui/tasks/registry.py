"""Finding tasks: the bundled tasks/ folder, extra directories from settings, and single files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.config.settings import ConfigError
from mlgym_tui.config.task import TaskConfig, load_task

BUNDLED = Path(__file__).resolve().parents[2] / "tasks"


@dataclass
class TaskRegistry:
    tasks: dict[str, TaskConfig] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # one line per task file that failed to load

    def get(self, task_id: str) -> TaskConfig:
        if task_id in self.tasks:
            return self.tasks[task_id]
        path = Path(task_id)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            return load_task(path)
        known = ", ".join(sorted(self.tasks)) or "none"
        raise ConfigError(f"unknown task {task_id!r} (known: {known}); see `mlgym-tui tasks`")

    def add_file(self, path: Path, root: Path | None = None) -> None:
        try:
            task = load_task(path, root)
        except ConfigError as exc:
            self.problems.append(str(exc))
            return
        self.tasks.setdefault(task.id, task)

    def add_dir(self, folder: Path, root: Path | None = None) -> None:
        for path in sorted(folder.glob("*.y*ml")):
            self.add_file(path, root)


def load_registry(extra: list[str | Path] = (), tasks_root: Path | None = None, include_bundled: bool = True) -> TaskRegistry:
    """All tasks: bundled ones, then each extra directory or file; the first of an id wins."""
    from mlgym_tui.config.settings import load_settings

    registry = TaskRegistry()
    if include_bundled:
        registry.add_dir(BUNDLED, BUNDLED.parent)
    sources = list(extra)
    try:
        sources += load_settings().task_dirs
    except ConfigError as exc:
        registry.problems.append(str(exc))
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            registry.add_dir(path, tasks_root)
        elif path.is_file():
            registry.add_file(path, tasks_root)
        else:
            registry.problems.append(f"{path}: no such task file or directory; fix task_dirs in settings or the path given")
    return registry
