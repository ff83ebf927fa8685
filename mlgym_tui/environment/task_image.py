"""Which image a task's containers (agent and evaluation) run: the task image, or one derived from it with the
task's Python packages (MLGym's requirements_path, our `packages:`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.runtime.base import Engine
from mlgym_tui.runtime.derived_image import ensure_derived_image, normalized
from mlgym_tui.runtime.errors import RuntimeProblem


def task_requirements(task: TaskConfig) -> list[str]:
    lines = list(task.packages)
    if task.requirements_path:
        path = task.resolve(task.requirements_path)
        try:
            lines += path.read_text().splitlines()
        except OSError:
            raise RuntimeProblem(f"task {task.id}: requirements_path {path} cannot be read",
                                 "fix the path in the task YAML, or pass --tasks-root") from None
    return normalized(lines)


def task_image(task: TaskConfig, runtime: RuntimeConfig, engine: Engine,
               on_line: Callable[[str], None] = lambda line: None) -> str:
    """The image for task's containers, built first when it needs packages this engine has no image for yet
    (blocking: call it off the event loop)."""
    base = task.image or runtime.image
    requirements = task_requirements(task)
    if not requirements or not engine.isolated:  # the local runtime has no image; it runs with what the host has
        return base
    wheels = Path(runtime.wheels_dir).expanduser() if runtime.wheels_dir else None
    if wheels is not None and not wheels.is_dir():
        raise RuntimeProblem(f"runtime.wheels_dir {wheels} is not a folder",
                             "fill it with: mlgym-tui image wheels REQUIREMENTS --dest FOLDER")
    return ensure_derived_image(engine, base, requirements, wheels, task.id, on_line)
