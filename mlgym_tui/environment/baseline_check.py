"""`mlgym-tui tasks check`: run each baseline in a fresh container and compare with baseline_scores."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlgym_tui.config.task import TaskConfig
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.runtime.base import Engine


@dataclass
class BaselineCheck:
    task_id: str
    expected: dict[str, float]
    measured: dict[str, float] | None
    ok: bool
    message: str
    seconds: float


def within(expected: float, measured: float, tolerance: float) -> bool:
    # Relative tolerance, with an absolute floor so scores near zero are not held to nothing.
    return abs(measured - expected) <= tolerance * max(abs(expected), 1.0)


async def check_task(task: TaskConfig, engine: Engine) -> BaselineCheck:
    started = time.monotonic()
    env = MLGymEnvironment(task, engine)
    await env.reset()
    try:
        for script in task.baseline_scripts:
            run = await env.step(f"python3 {script}")
            if run.exit_code != 0:
                return BaselineCheck(task.id, task.baseline, None, False,
                                     f"baseline {script} failed (exit {run.exit_code}): {run.observation.strip()[-200:]}",
                                     time.monotonic() - started)
        scored = await env.validate()
    finally:
        await env.close()
    seconds = time.monotonic() - started
    if scored.metrics is None:
        return BaselineCheck(task.id, task.baseline, None, False, scored.observation.strip()[-200:], seconds)
    misses = [
        f"{name}: expected {value:g}, measured {scored.metrics.get(name, float('nan')):g}"
        for name, value in task.baseline.items()
        if name not in scored.metrics or not within(value, scored.metrics[name], task.baseline_tolerance)
    ]
    return BaselineCheck(task.id, task.baseline, scored.metrics, not misses,
                         "; ".join(misses) or f"reproduced within {task.baseline_tolerance:g}", seconds)
