"""A copy of the quickGame fixture task (200 proxied calls per scoring) in a folder of its own, so that it loads by
id from settings' task_dirs: `<root>/tasks/quickGame.yaml`, its starter code under `<root>/tasks/quickGame/`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "tasks"


def quick_game_dir(root: Path) -> Path:
    """The tasks folder holding quickGame (root/tasks), made once."""
    tasks = root / "tasks"
    if not (tasks / "quickGame.yaml").exists():
        shutil.copytree(FIXTURE / "quickGame", tasks / "quickGame")
        text = (FIXTURE / "quickGame.yaml").read_text().replace("tests/fixtures/tasks/quickGame/", "tasks/quickGame/")
        (tasks / "quickGame.yaml").write_text(text)
    return tasks


def use_quick_game(root: Path) -> None:
    """Settings of the running test (its MLGYM_TUI_CONFIG_DIR) with quickGame among the tasks."""
    config = Path(os.environ["MLGYM_TUI_CONFIG_DIR"])
    (config / "settings.yaml").write_text(f"task_dirs: [{quick_game_dir(root)}]\n")
