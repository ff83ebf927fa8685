"""Forking: a new run re-executes the first n steps of a recorded one, then continues live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import StepRecorded
from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.load import load_run
from mlgym_tui.trajectory.loaded_run import LoadedRun


def fork_prefix(run: LoadedRun, n: int) -> list[StepRecorded]:
    """The first n steps to replay; n = 0 forks from the very start (same task, fresh workspace)."""
    total = len(run.steps)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= total:
        raise TrajectoryError(f"{run.source}: cannot fork at step {n!r}; the run has {total} step(s), choose 0..{total}")
    return list(run.steps[:n])


def fork_meta(parent_dir: Path | str, n: int) -> dict[str, Any]:
    """Keyword arguments for the forked run's EpisodeStarted that come from its parent."""
    parent = load_run(parent_dir)
    fork_prefix(parent, n)
    return {
        "parent": str(Path(parent_dir).resolve()),
        "fork_step": n,
        "task_id": parent.meta.task_id,
        "baseline": dict(parent.meta.baseline),
        "metrics": list(parent.meta.metrics),
    }
