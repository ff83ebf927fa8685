"""Score over time per run: the best primary-metric score so far against active time, for the Results screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mlgym_tui.evaluation.results_table import ResultsTable
from mlgym_tui.evaluation.scoring import better, metric_value
from mlgym_tui.evaluation.timeline import RunTimeline


@dataclass(frozen=True)
class ScoreCurve:
    run_path: Path
    model: str
    human: bool
    points: list[tuple[float, float]]  # (active seconds, best score so far) at each validation with a score
    end_s: float  # active seconds at the run's end (or its last event): the last level holds until then

    def best_within(self, seconds: float) -> float | None:
        """The best score made by `seconds` of active time (the curve is a step function)."""
        value = None
        for at, best in self.points:
            if at > seconds:
                break
            value = best
        return value


def score_curves(table: ResultsTable, timelines: Mapping[Path, RunTimeline | str]) -> dict[str, list[ScoreCurve]]:
    """Per task, a curve for each scored run the table compares (runs without a timeline are left out)."""
    curves: dict[str, list[ScoreCurve]] = {}
    for task in table.tasks:
        metric, direction = table.directions[task]
        for model in table.models:
            cell = table.cell(task, model)
            for path in cell.runs if cell else []:
                timeline = timelines.get(path)
                if not isinstance(timeline, RunTimeline):
                    continue
                points: list[tuple[float, float]] = []
                for validation in timeline.validations:
                    value = metric_value(validation.metrics, metric)
                    if value is None:
                        continue
                    best = value if not points or better(value, points[-1][1], direction) else points[-1][1]
                    points.append((validation.active_s, best))
                end = max([timeline.active_s] + [p[0] for p in points])
                curves.setdefault(task, []).append(ScoreCurve(path, model, timeline.human, points, end))
    return curves
