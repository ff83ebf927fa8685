"""Per-run and per-model scores on a task's priority metric (MLGym paper: best attempt and last attempt)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mlgym_tui.config.directions import Direction


@dataclass(frozen=True)
class Attempt:
    value: float
    run_path: Path | None  # None for the baseline


def metric_value(entry: Any, metric: str) -> float | None:
    value = entry.get(metric) if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def better(a: float, b: float, direction: Direction) -> bool:
    return a > b if direction == "maximize" else a < b


def run_best_and_last(scores: list[dict], metric: str, direction: Direction) -> tuple[float | None, float | None]:
    """Best over all validations (the first of equal values wins) and the final entry's value."""
    best: float | None = None
    for entry in scores:
        value = metric_value(entry, metric)
        if value is not None and (best is None or better(value, best, direction)):
            best = value
    last = metric_value(scores[-1], metric) if scores else None
    return best, last


def best_of(attempts: Iterable[Attempt], direction: Direction) -> Attempt | None:
    """Best-of-K over a model's runs; the first run (in the order given) wins a tie."""
    chosen: Attempt | None = None
    for attempt in attempts:
        if chosen is None or better(attempt.value, chosen.value, direction):
            chosen = attempt
    return chosen
