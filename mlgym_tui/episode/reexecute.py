"""Re-executing a recorded trajectory in a fresh container, and where it diverges from the recording.

Used by `mlgym-tui replay --reexecute` (the whole run) and by forks (the prefix they replay).
Observations are compared after normalising whitespace; a step that produced scores is compared by its
metrics (relative tolerance, since evaluations may be stochastic) rather than by its text.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import StepRecorded

FIRST_LINES = 5


def _normalise(text: str) -> list[str]:
    lines = [line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


@dataclass
class Divergence:
    step: int
    kind: str  # "observation" | "score" | "missing_score" | "ended_early"
    action: str
    expected: str
    actual: str
    first_differing_line: int | None = None

    def summary(self) -> str:
        where = f" (line {self.first_differing_line})" if self.first_differing_line else ""
        return f"step {self.step} `{_one_line(self.action)}`: {self.kind} differs{where}"

    def details(self, lines: int = FIRST_LINES) -> str:
        exp = "\n".join("    " + x for x in _normalise(self.expected)[:lines]) or "    (empty)"
        act = "\n".join("    " + x for x in _normalise(self.actual)[:lines]) or "    (empty)"
        return f"{self.summary()}\n  expected:\n{exp}\n  actual:\n{act}"


def _one_line(text: str, width: int = 60) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _metrics_differ(expected: dict[str, float], actual: dict[str, float], tolerance: float) -> bool:
    if set(expected) != set(actual):
        return True
    for name, value in expected.items():
        other = actual[name]
        if not isinstance(value, (int, float)) or not isinstance(other, (int, float)):
            if value != other:
                return True
            continue
        if not math.isclose(value, other, rel_tol=tolerance, abs_tol=1e-9):
            return True
    return False


def compare_step(
    original: StepRecorded,
    observation: str,
    metrics: dict[str, float] | None,
    step: int | None = None,
    expected_metrics: dict[str, float] | None = None,
    tolerance: float = 0.01,
) -> Divergence | None:
    """None when the re-executed step matches the recording, else what differs."""
    step = original.step if step is None else step
    if expected_metrics is not None or metrics:
        if expected_metrics is None:
            return None  # the recording kept no score for this step; the text is a score report, do not compare it
        if not metrics:
            return Divergence(step, "missing_score", original.action, str(expected_metrics), observation)
        if _metrics_differ(expected_metrics, metrics, tolerance):
            return Divergence(step, "score", original.action, str(expected_metrics), str(metrics))
        return None
    expected_lines, actual_lines = _normalise(original.observation), _normalise(observation)
    if expected_lines == actual_lines:
        return None
    first = next(
        (i + 1 for i, (a, b) in enumerate(zip(expected_lines, actual_lines)) if a != b),
        min(len(expected_lines), len(actual_lines)) + 1,
    )
    return Divergence(step, "observation", original.action, original.observation, observation, first)


@dataclass
class ReexecutionReport:
    source: str
    task_id: str
    steps_total: int
    steps_run: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    exit_status: str | None = None
    recorded_exit_status: str | None = None
    scores: list[dict[str, float]] = field(default_factory=list)
    recorded_scores: list[dict[str, float]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.divergences and self.steps_run == self.steps_total

    def render(self, lines: int = FIRST_LINES) -> str:
        out = [f"re-executed {self.steps_run}/{self.steps_total} step(s) of {self.source} (task {self.task_id})"]
        if not self.divergences:
            out.append("no divergence: every observation and score matched the recording")
        else:
            out.append(f"{len(self.divergences)} divergence(s); first at step {self.divergences[0].step}")
            out.extend(d.details(lines) for d in self.divergences)
        out.append(f"exit status: recorded {self.recorded_exit_status!r}, now {self.exit_status!r}")
        return "\n".join(out)


async def reexecute(
    path: Path | str,
    engine_name: str = "auto",
    *,
    runtime: Any = None,
    task: Any = None,
    on_step: Callable[[int, StepRecorded, Divergence | None], None] | None = None,
) -> ReexecutionReport:
    """Run every recorded action again in a fresh container and compare."""
    from mlgym_tui.environment.environment import MLGymEnvironment
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.trajectory import load_run

    run = load_run(path)
    if task is None:
        from mlgym_tui.tasks.registry import load_registry

        task = load_registry().get(run.meta.task_id)
    runtime = runtime or _runtime_config()
    engine = await asyncio.to_thread(connect, engine_name, runtime)
    expected_by_step = {v.step: dict(v.metrics) for v in run.validations}
    report = ReexecutionReport(
        source=str(path),
        task_id=task.id,
        steps_total=len(run.steps),
        recorded_exit_status=run.ended.exit_status if run.ended else None,
        recorded_scores=[dict(v.metrics) for v in run.validations],
    )
    env = MLGymEnvironment(task, engine, runtime)
    try:
        await env.reset()
        for i, original in enumerate(run.steps, start=1):
            result = await env.step(original.action)
            report.steps_run = i
            if result.metrics:
                report.scores.append(dict(result.metrics))
            divergence = compare_step(
                original, result.observation, result.metrics, i, expected_by_step.get(original.step),
                tolerance=max(getattr(task, "baseline_tolerance", 0.01), 1e-6),
            )
            if divergence is not None:
                report.divergences.append(divergence)
            if on_step is not None:
                on_step(i, original, divergence)
            if result.done:
                report.exit_status = result.exit_status
                if i < len(run.steps):
                    report.divergences.append(Divergence(
                        i, "ended_early", original.action, f"{len(run.steps)} steps",
                        f"the episode ended after step {i} ({result.exit_status})"))
                break
    finally:
        await env.close()
    return report


def _runtime_config():
    from mlgym_tui.config.settings import get_settings

    return get_settings().runtime
