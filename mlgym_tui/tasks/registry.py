"""Finding tasks: the bundled tasks/ folder, extra directories from settings, and single files.

Importing this module is cheap (the task browser's first paint imports it): the task models (pydantic) and the
settings come in when tasks are read, on the browser's worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgym_tui.config.task import TaskConfig

BUNDLED = Path(__file__).resolve().parents[2] / "tasks"


@dataclass
class TaskRegistry:
    tasks: dict[str, TaskConfig] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # one line per task file that failed to load
    notices: list[str] = field(default_factory=list)  # one line per id that a later source took over

    def source_of(self, task: TaskConfig) -> str:
        """Where a task came from: "bundled", or its YAML file."""
        return source_label(task)

    def get(self, task_id: str) -> TaskConfig:
        from mlgym_tui.config.settings import ConfigError
        from mlgym_tui.config.task import load_task

        if task_id in self.tasks:
            return self.tasks[task_id]
        path = Path(task_id)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            return load_task(path)
        known = ", ".join(sorted(self.tasks)) or "none"
        raise ConfigError(f"unknown task {task_id!r} (known: {known}); see `mlgym-tui tasks`")

    def add_file(self, path: Path, root: Path | None = None) -> None:
        from mlgym_tui.config.settings import ConfigError
        from mlgym_tui.config.task import load_task

        try:
            task = load_task(path, root)
        except ConfigError as exc:
            self.problems.append(str(exc))
            return
        earlier = self.tasks.get(task.id)
        if earlier is not None:
            # A task the user points at wins over a bundled one of the same id (MLGym's own battleOfSexes over
            # ours), and a later folder over an earlier one; say so once, since the two score differently.
            self.notices.append(f"task {task.id} from {task.source} replaces the one from {source_label(earlier)}")
        self.tasks[task.id] = task

    def add_dir(self, folder: Path, root: Path | None = None) -> None:
        for path in sorted(folder.glob("*.y*ml")):
            self.add_file(path, root)


def source_label(task: TaskConfig) -> str:
    source = task.source
    if source is not None and Path(source).resolve().parent == BUNDLED:
        return "bundled"
    return str(source) if source is not None else "?"


def load_registry(extra: list[str | Path] = (), tasks_root: Path | None = None, include_bundled: bool = True) -> TaskRegistry:
    """All tasks: bundled ones, then settings' task_dirs, then each extra directory or file (--tasks-dir); a
    later source's task replaces an earlier one of the same id, with a notice."""
    from mlgym_tui.config.settings import ConfigError, get_settings

    registry = TaskRegistry()
    if include_bundled:
        registry.add_dir(BUNDLED, BUNDLED.parent)
    sources: list[str | Path] = []
    try:
        sources += get_settings().task_dirs
    except ConfigError as exc:
        registry.problems.append(str(exc))
    sources += list(extra)
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            registry.add_dir(path, tasks_root)
        elif path.is_file():
            registry.add_file(path, tasks_root)
        else:
            registry.problems.append(f"{path}: no such task file or directory; fix task_dirs in settings or the path given")
    return registry
