"""Scores within a budget: each run counts only the validations it had made by a given active time or step, so
people and agents are compared at equal budgets (as RE-Bench compares them at 2 h and 8 h).

A run keeps its results.json semantics otherwise: its best and last attempt are taken over the validations within
the budget, and a run with none there has no score, as a run that never validated.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mlgym_tui.evaluation.aggregate import aggregate
from mlgym_tui.evaluation.results_table import ResultsTable
from mlgym_tui.evaluation.run_reader import RunFileError
from mlgym_tui.evaluation.run_summary import RunSummary
from mlgym_tui.evaluation.timeline import RunTimeline, TimedValidation, read_timeline

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """Seconds in `30m`, `2h`, `90s`, `1h30m`, `1.5h`; ValueError with a one-line message otherwise."""
    compact = text.strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(compact)
    if not compact or match is None or not any(match.groups()):
        raise ValueError(f"budget {text!r} is not a duration; write it with units, e.g. 30m, 2h, 90s or 1h30m")
    seconds = sum(float(v) * unit for v, unit in zip(match.groups(), _UNITS.values()) if v)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"budget {text!r} is no time at all; give a positive duration, e.g. 30m")
    return seconds


def format_duration(seconds: float) -> str:
    """`1h30m`, `30m`, `90s` -> `1m30s`: the shortest spelling parse_duration reads back."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


@dataclass(frozen=True)
class Budget:
    seconds: float | None = None  # of active time
    steps: int | None = None

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"--budget-steps {self.steps} admits no step; give 1 or more")

    def __bool__(self) -> bool:
        return self.seconds is not None or self.steps is not None

    def admits(self, validation: TimedValidation) -> bool:
        within_time = self.seconds is None or validation.active_s <= self.seconds
        return within_time and (self.steps is None or validation.step <= self.steps)

    def label(self) -> str:
        """How a table title names it: `30m of active time`, `20 steps`, or both."""
        parts = []
        if self.seconds is not None:
            parts.append(f"{format_duration(self.seconds)} of active time")
        if self.steps is not None:
            parts.append(f"{self.steps} step{'s' if self.steps != 1 else ''}")
        return " and ".join(parts)


def read_timelines(runs: list[RunSummary]) -> dict[Path, RunTimeline | str]:
    """Each of our runs' timeline, or the one line why it has none. MLGym's layout keeps no event stream."""
    found: dict[Path, RunTimeline | str] = {}
    for run in runs:
        if run.layout != "ours" or run.problem:
            continue
        try:
            found[run.path] = read_timeline(run.path)
        except RunFileError as exc:
            found[run.path] = str(exc)
    return found


def within_budget(runs: list[RunSummary], budget: Budget,
                  timelines: Mapping[Path, RunTimeline | str] | None = None) -> list[RunSummary]:
    """Copies of `runs` whose scores are the validations within `budget`; a run that cannot be placed in time
    gets a problem instead (it is left out, and the table says why). `timelines` saves reading them again."""
    if not budget:
        return list(runs)
    timelines = timelines if timelines is not None else read_timelines(runs)
    return [_within(run, budget, timelines.get(run.path)) for run in runs]


def _within(run: RunSummary, budget: Budget, timeline: RunTimeline | str | None) -> RunSummary:
    if run.problem:
        return run
    if run.layout == "mlgym":
        # Its trajectory has no clock, and results.json does not say at which step each score was made; a run
        # that took no more steps than the budget is within it all the same.
        if budget.seconds is None and run.steps is not None and run.steps <= (budget.steps or 0):
            return run
        return dataclasses.replace(run, problem=(
            "MLGym's layout records no time or step per validation, so it cannot be scored within "
            f"{budget.label()}; compare it without a budget"))
    if not isinstance(timeline, RunTimeline):
        return dataclasses.replace(run, problem=f"{timeline or 'no timeline'}; compare it without a budget")
    scores = [v.metrics for v in timeline.validations if budget.admits(v)]
    return dataclasses.replace(run, scores=scores)


def aggregate_within(runs: list[RunSummary], budget: Budget,
                     timelines: Mapping[Path, RunTimeline | str] | None = None, **options) -> ResultsTable:
    """`aggregate` over the scores within `budget` (all of them when it is empty); the table names the budget."""
    table = aggregate(within_budget(runs, budget, timelines), **options)
    table.budget = budget.label()
    return table
